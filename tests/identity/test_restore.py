"""Restoring open visits after an IdentityActor restart (VisitBook.restore, SiteIdentity.restore)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mcvision.config import SiteConfig, parse_config
from mcvision.identity.site import SiteIdentity
from mcvision.identity.visits import VisitBook
from mcvision.types import TrackletUpdate

T0 = 1_764_000_000.0


def cfg_for(root: Path) -> SiteConfig:
    return parse_config(
        {
            "site_id": "r",
            "cameras": [
                {
                    "id": "cam",
                    "source": "a.mp4",
                    "zones": [{"name": "all", "polygon": [[0, 0], [100, 0], [100, 100], [0, 100]]}],
                }
            ],
            "storage": {"root": str(root)},
            "visits": {"absence_timeout_s": 30, "zone_enter_s": 1, "zone_exit_s": 2},
        }
    )


def seen(ts: float, local: int = 1) -> TrackletUpdate:
    return TrackletUpdate(
        "cam", local, ts, np.array([40, 20, 60, 80.0]), np.array([50, 80.0]), zones=("all",)
    )


def test_restored_visit_carries_on_with_the_same_id(tmp_path: Path) -> None:
    cfg = cfg_for(tmp_path)
    before = VisitBook(cfg)
    before.observe_many(("G1", seen(T0 + i)) for i in range(5))
    before.observe_many(("G2", seen(T0 + i, 2)) for i in range(2))
    before.close_all(T0 + 5)  # G1 and G2 closed ...
    before.observe_many(("G3", seen(T0 + 10 + i, 3)) for i in range(4))  # ... G3 open
    snaps = before.open_visits()
    after = VisitBook(cfg)
    assert after.restore(snaps) == 1
    assert after.restore(snaps) == 0  # already open: not twice
    after.observe_many(("G3", seen(T0 + 20 + i, 9)) for i in range(3))
    (visit,) = after.open_visits()
    assert visit.visit_id == snaps[0].visit_id
    assert (visit.in_ts, visit.out_ts) == (T0 + 10, T0 + 22)
    closed = after.tick(T0 + 60).visits
    assert [(v.visit_id, v.in_ts, v.out_ts, v.closed) for v in closed] == [
        (snaps[0].visit_id, T0 + 10, T0 + 22, True)
    ]


@pytest.mark.parametrize("crash_after_s", [3.0, 8.0])
def test_site_restore_reads_open_visits_from_the_store(
    tmp_path: Path, crash_after_s: float
) -> None:
    cfg = cfg_for(tmp_path)
    first = SiteIdentity(cfg)
    first.store.write(first.visits.observe_many(("G1", seen(T0 + i)) for i in range(3)))
    first.flush()  # open snapshots are durable; then the process dies
    n = int(crash_after_s)
    first.store.write(first.visits.observe_many(("G1", seen(T0 + 3 + i)) for i in range(n)))
    first.flush()
    second = SiteIdentity(cfg)
    assert second.restore() == 1
    (visit,) = second.open_visits()
    assert (visit.in_ts, visit.out_ts) == (T0, T0 + 2 + n)
    assert second.latest_ts == T0 + 2 + n
    # zone state came back entered: the zone visit closes with the visit, not twice
    rec = second.close(T0 + 100)
    assert [v.closed for v in rec.visits] == [True]
    assert len(rec.zone_visits) == 1 and rec.zone_visits[0].enter_ts == T0


def test_restore_with_an_empty_store_is_a_no_op(tmp_path: Path) -> None:
    assert SiteIdentity(cfg_for(tmp_path)).restore() == 0
