"""SiteIdentity: scripted tracklets through IDs, visits and the store, end to end (no models)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pendulum
import pytest

from mcvision.analytics.queries import day_summary, zone_stats
from mcvision.config import SiteConfig, parse_config
from mcvision.identity.site import SiteIdentity
from mcvision.types import TrackletUpdate

RNG = np.random.default_rng(7)
PEOPLE = {
    name: v / np.linalg.norm(v) for name, v in zip("AB", RNG.normal(size=(2, 512)), strict=True)
}
# 2026-11-24 10:00 in Kolkata
T0 = pendulum.datetime(2026, 11, 24, 10, 0, tz="Asia/Kolkata").timestamp()


OSNET = {"reid": {"backend": "onnx", "weights": "osnet_x0_25_msmt17.onnx"}}


def site(tmp_path: Path, **extra: object) -> SiteConfig:
    data = {
        "site_id": "shop",
        "cameras": [
            {
                "id": "door",
                "source": "d.mp4",
                "zones": [
                    {
                        "name": "promo",
                        "normalized": True,
                        "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]],
                    }
                ],
            },
            {"id": "floor", "source": "f.mp4"},
        ],
        "topology": {"transits": [{"a": "door", "b": "floor", "min_s": 5, "max_s": 60}]},
        "visits": {"absence_timeout_s": 120, "zone_enter_s": 1, "zone_exit_s": 2},
        "storage": {"root": str(tmp_path / "store")},
        "models": OSNET,  # 512-d, as the synthetic people here (thresholds: OSNet's)
        **extra,
    }
    return parse_config(data)


def track(person: str, cam: str, lid: int, t0: float, seconds: float, zones: tuple[str, ...] = ()):
    """Updates at 2 fps; the first and every 4th carry an embedding with a little noise."""
    out = []
    for i in range(int(seconds * 2) + 1):
        emb = None
        if i % 4 == 0:
            e = PEOPLE[person] + RNG.normal(scale=0.02, size=512)
            emb = (e / np.linalg.norm(e)).astype(np.float32)
        out.append(
            TrackletUpdate(
                camera_id=cam,
                local_id=lid,
                ts=t0 + i / 2,
                box=np.array([100, 100, 150, 300], np.float32),
                foot=np.array([125, 300], np.float32),
                embedding=emb,
                zones=zones,
                frame_size=(640, 360),
            )
        )
    out.append(TrackletUpdate(cam, lid, t0 + seconds + 0.5, np.zeros(4), np.zeros(2), ended=True))
    return out


def test_handoff_two_people_into_the_store(tmp_path: Path) -> None:
    cfg = site(tmp_path)
    core = SiteIdentity(cfg)
    ups = (
        track("A", "door", 1, T0, 10, zones=("promo",))
        + track("B", "door", 2, T0 + 2, 6)
        + track("A", "floor", 7, T0 + 20, 30)  # 10 s transit: inside 5..60
        + track("B", "floor", 8, T0 + 11, 4)  # 3 s transit: too fast -> a new ID
    )
    for i in range(0, len(ups), 16):
        core.ingest(sorted(ups, key=lambda u: u.ts)[i : i + 16])
    core.tick(T0 + 500, flush=True)
    s = day_summary(core.store, "2026-11-24")
    assert s.unique_visitors == 3  # A once across cameras, B twice (impossible transit)
    assert s.visits == 3 and s.closed_visits == 3
    rows = core.store.sql("SELECT global_id, in_ts, out_ts, cameras FROM visits ORDER BY in_ts")
    a = rows[0]
    assert a["in_ts"] == pytest.approx(T0) and a["out_ts"] == pytest.approx(T0 + 50)
    assert sorted(a["cameras"]) == ["door", "floor"]
    zs = {z.zone: z for z in zone_stats(core.store, "2026-11-24")}
    assert zs["promo"].visits == 1 and zs["promo"].total_dwell_s == pytest.approx(10.0)


def test_midnight_reset_splits_days_and_restarts_ids(tmp_path: Path) -> None:
    cfg = site(tmp_path)
    core = SiteIdentity(cfg)
    midnight = pendulum.datetime(2026, 11, 25, 0, 0, tz="Asia/Kolkata").timestamp()
    core.ingest(track("A", "door", 1, midnight - 30, 20))
    core.ingest(track("A", "door", 3, midnight + 30, 20))  # after the reset: a new day, new IDs
    core.close()
    rows = core.store.sql(
        "SELECT day, global_id, in_ts, out_ts, out_source FROM visits ORDER BY in_ts"
    )
    assert [r["day"] for r in rows] == ["2026-11-24", "2026-11-25"]
    assert rows[0]["out_ts"] == pytest.approx(midnight - 10)  # closed at its last sighting
    assert rows[0]["out_source"] == "reset"
    assert rows[0]["global_id"].startswith("20261124-") and rows[1]["global_id"] == "20261125-0001"


def test_close_flushes_open_visits_and_a_restart_keeps_numbering(tmp_path: Path) -> None:
    cfg = site(tmp_path)
    core = SiteIdentity(cfg)
    core.ingest(track("A", "door", 1, T0, 10))
    assert core.occupancy() == 1
    core.close()
    assert core.store.sql("SELECT closed, out_source FROM visits") == [
        {"closed": True, "out_source": "shutdown"}
    ]
    again = SiteIdentity(cfg)  # same storage: the gallery remembers today's identities
    again.ingest(track("B", "door", 5, T0 + 600, 10))
    again.close()
    ids = [r["global_id"] for r in again.store.sql("SELECT global_id FROM visits ORDER BY in_ts")]
    assert ids == ["20261124-0001", "20261124-0002"]


def test_flush_shows_open_visits_growing_and_is_paced(tmp_path: Path) -> None:
    cfg = site(tmp_path)
    clock = [0.0]
    core = SiteIdentity(cfg, flush_every_s=5.0, monotonic=lambda: clock[0])
    core.ingest(track("A", "door", 1, T0, 10))
    core.tick(T0 + 11)  # not due yet: nothing on disk
    assert core.store.files() == []
    clock[0] = 6.0
    core.tick(T0 + 12)
    rows = core.store.sql("SELECT closed, in_ts, out_ts, cameras FROM visits")
    assert rows == [{"closed": False, "in_ts": T0, "out_ts": T0 + 10, "cameras": ["door"]}]
    core.ingest(track("A", "door", 1, T0 + 10.5, 5)[1:])
    core.tick(T0 + 16, flush=True)
    assert core.store.sql("SELECT out_ts FROM visits") == [{"out_ts": T0 + 15.5}]


@pytest.mark.assets
def test_gallery_width_follows_the_configured_embedder(tmp_path: Path, assets: Path) -> None:
    """A 256-d embedder (Intel retail ReID) gets a 256-d gallery; its embeddings are stored."""
    cfg = site(
        tmp_path,
        models={
            "reid": {
                "backend": "openvino",
                "weights": "reid_openvino/person-reidentification-retail-0286",
            }
        },
    )
    core = SiteIdentity(cfg)
    assert core.gallery.dim == 256
    v = RNG.normal(size=256)
    u = TrackletUpdate(
        "door",
        1,
        T0,
        np.array([100, 100, 150, 300], np.float32),
        np.array([125, 300], np.float32),
        embedding=(v / np.linalg.norm(v)).astype(np.float32),
        frame_size=(640, 360),
    )
    for k in range(4):
        core.ingest([TrackletUpdate(**{**u.__dict__, "ts": T0 + k / 2})])
    core.close()
    assert SiteIdentity(cfg).gallery.count() >= 1  # reopened at 256-d: no width clash
    assert SiteIdentity(site(tmp_path / "osnet")).gallery.dim == 512  # OSNet x0.25
    default = parse_config({"site_id": "s", "cameras": [{"id": "c", "source": "c.mp4"}]})
    default = default.model_copy(
        update={"storage": cfg.storage.model_copy(update={"root": str(tmp_path / "default")})}
    )
    assert SiteIdentity(default).gallery.dim == 256  # the default embedder: retail-0286
