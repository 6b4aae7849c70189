"""The identity service's replay clock is a watermark over the cameras, not the newest one."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mcvision.actors.identity import IdentityService
from mcvision.config import parse_config
from mcvision.types import TrackletUpdate

T0 = 1_795_000_000.0
BOX = np.array([100, 100, 150, 300], np.float32)
FOOT = np.array([125, 300], np.float32)


def _cfg(tmp_path: Path):
    return parse_config(
        {
            "site_id": "s",
            "cameras": [
                {"id": "fast", "source": "a.mp4"},
                {
                    "id": "slow",
                    "source": "b.mp4",
                    "zones": [
                        {
                            "name": "shelf",
                            "normalized": True,
                            "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]],
                        }
                    ],
                },
            ],
            "visits": {"zone_enter_s": 1, "zone_exit_s": 2},
            "identity": {"min_frames": 2, "use_reid": False},
            "storage": {"root": str(tmp_path / "store")},
        }
    )


def _updates(
    cam: str, lid: int, t0: float, t1: float, zones: tuple[str, ...] = ()
) -> list[TrackletUpdate]:
    return [
        TrackletUpdate(cam, lid, T0 + t, BOX, FOOT, zones=zones, frame_size=(640, 360))
        for t in np.arange(t0, t1, 0.5)
    ]


def _zone_exits(svc: IdentityService) -> int:
    rows = svc.core.store.sql("SELECT count(*) AS n FROM zone_visits WHERE closed")
    return int(rows[0]["n"])


def test_a_lagging_camera_holds_the_replay_clock(tmp_path: Path) -> None:
    svc = IdentityService(_cfg(tmp_path))
    svc.ingest(_updates("slow", 1, 0.0, 10.0, zones=("shelf",)))  # in the zone, data time 0-10 s
    svc.ingest(_updates("fast", 7, 0.0, 60.0))  # the other file has run ahead to 60 s
    svc.report_camera("slow", {"status": "online", "last_frame_ts": T0 + 10.0})
    svc.report_camera("fast", {"status": "online", "last_frame_ts": T0 + 60.0})
    assert svc.now() == T0 + 10.0  # not 60: the slow camera's shopper is still in the zone
    svc.tick()
    svc.core.flush()
    assert _zone_exits(svc) == 0
    svc.ingest(_updates("slow", 1, 10.0, 20.0, zones=("shelf",)))  # ... and stays there
    svc.report_camera("slow", {"status": "ended", "last_frame_ts": T0 + 20.0})
    assert svc.now() == T0 + 59.5  # an ended camera no longer holds it: the newest update
    svc.tick()
    svc.core.flush()
    rows = svc.core.store.sql("SELECT enter_ts, exit_ts FROM zone_visits WHERE closed")
    assert len(rows) == 1 and rows[0]["exit_ts"] - rows[0]["enter_ts"] > 19.0  # one stay, 0-19.5 s
    svc.close()


def test_clock_never_runs_backwards_and_unheard_cameras_do_not_stall_it(tmp_path: Path) -> None:
    svc = IdentityService(_cfg(tmp_path))
    assert svc.now() is None
    svc.ingest(_updates("fast", 1, 0.0, 30.0))  # "slow" has reported nothing yet
    assert svc.now() == T0 + 29.5
    svc.report_camera("slow", {"status": "online", "last_frame_ts": T0 + 5.0})
    assert svc.now() == T0 + 29.5  # a late report does not move the clock back
    svc.close()
