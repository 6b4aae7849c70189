"""File replays keep step: the identity's position gate and the cameras' pacer."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from mcvision.actors.camera import CameraWorker
from mcvision.actors.identity import IdentityService
from mcvision.actors.pacing import ReplayPacer
from mcvision.config import SiteConfig, parse_config
from mcvision.types import Detections, TrackletUpdate

T0 = 1_764_000_000.0


def _cfg(tmp_path: Path, sources: dict[str, str] | None = None) -> SiteConfig:
    sources = sources or {"fast": "a.mp4", "slow": "b.mp4"}
    return parse_config(
        {
            "site_id": "pace",
            "cameras": [{"id": k, "source": v, "fps": 5} for k, v in sources.items()],
            "storage": {"root": str(tmp_path / "store")},
            "runtime": {"frames_per_batch": 2},
        }
    )


def test_the_gate_holds_a_camera_that_ran_ahead_until_the_others_catch_up(
    tmp_path: Path,
) -> None:
    svc = IdentityService(_cfg(tmp_path))
    assert not svc.replay_gate("fast", T0 + 10, 2.0)  # slow has not reported yet
    assert svc.replay_gate("slow", T0, 2.0)  # the slowest camera never waits
    assert not svc.replay_gate("fast", T0 + 10, 2.0)  # slow is 10 s behind
    svc.report_camera("slow", {"last_frame_ts": T0 + 7.5})
    assert not svc.replay_gate("fast", T0 + 10, 2.0)  # 2.5 s behind
    svc.report_camera("slow", {"last_frame_ts": T0 + 8.0})
    assert svc.replay_gate("fast", T0 + 10, 2.0)  # within the lag
    assert not svc.replay_gate("fast", T0 + 30, 2.0)
    svc.camera_status("slow", "ended", T0 + 9, "")
    assert svc.replay_gate("fast", T0 + 30, 2.0)  # a camera that ended holds nobody


def test_a_file_camera_that_could_not_open_holds_nobody(tmp_path: Path) -> None:
    svc = IdentityService(_cfg(tmp_path))
    svc.camera_status("slow", "offline", T0, "video file not found: b.mp4")
    assert svc.replay_gate("fast", T0 + 100, 2.0)


def test_gate_positions_also_hold_the_replay_clock(tmp_path: Path) -> None:
    """A camera whose last position came through the gate (frames skipped by motion gating,
    no updates) is where the replay clock stands, not where its last update was."""
    svc = IdentityService(_cfg(tmp_path))
    svc.ingest(
        [TrackletUpdate("fast", 1, T0 + 20, np.array([0, 0, 9, 9], np.float32), np.zeros(2))]
    )
    svc.replay_gate("slow", T0 + 5, 2.0)
    assert svc.now() == T0 + 5


def test_the_pacer_gives_up_after_max_wait_and_runs_free() -> None:
    now = [0.0]
    asks: list[float] = []

    def gate(cam: str, pos: float, lag: float) -> bool:
        asks.append(pos)
        return False

    def sleep(s: float) -> None:
        now[0] += s

    pacer = ReplayPacer(
        gate, "b", 2.0, max_wait_s=1.0, poll_s=0.25, sleep=sleep, clock=lambda: now[0]
    )
    assert pacer.wait(10.0) is False
    assert len(asks) == 5 and pacer.waited_s == pytest.approx(1.0)
    assert pacer.wait(11.0) is True and len(asks) == 5  # not asked again
    with pytest.raises(ValueError, match="lag_s"):
        ReplayPacer(gate, "b", 0.0)


class _EmptyModels:
    """A detector that finds nobody, slow or fast: pacing is about time, not people."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s

    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        time.sleep(self.delay_s)
        return [Detections.empty() for _ in frames]

    def embed(self, crops: list[np.ndarray]) -> np.ndarray:
        raise AssertionError("no people, no crops")

    def segment(self, frames: list[np.ndarray], dets: list[Detections]) -> list[Detections]:
        raise AssertionError("no segmenter configured")


class _ServiceSink:
    """The in-process identity service as a camera's sink; records each batch's data time."""

    def __init__(self, svc: IdentityService, log: list[tuple[str, float]], cam: str) -> None:
        self.svc, self.log, self.cam = svc, log, cam

    def updates(self, updates: list[TrackletUpdate]) -> None:
        self.svc.ingest(updates)

    def status(self, camera_id: str, status: str, ts: float, reason: str) -> None:
        self.svc.camera_status(camera_id, status, ts, reason)

    def stats(self, camera_id: str, stats: dict[str, Any]) -> None:
        self.svc.report_camera(camera_id, stats)
        if stats["last_frame_ts"] is not None:
            self.log.append((camera_id, stats["last_frame_ts"]))


def _run_two(tmp_path: Path, paced: bool) -> tuple[list[tuple[str, float]], dict[str, float]]:
    """Two 40-frame folders, one camera's detector 20x slower; the largest lead of the fast
    camera over the slow one in data time, seen at each of its stats reports."""
    sources = {}
    for cam in ("fast", "slow"):
        folder = tmp_path / cam
        folder.mkdir()
        for i in range(40):
            cv2.imwrite(str(folder / f"{i:03d}.png"), np.full((36, 48, 3), i, np.uint8))
        sources[cam] = str(folder)
    cfg = _cfg(tmp_path, sources)
    svc = IdentityService(cfg)
    log: list[tuple[str, float]] = []
    workers: dict[str, CameraWorker] = {}
    for cam, delay in (("fast", 0.001), ("slow", 0.02)):
        pacer = (
            ReplayPacer(svc.replay_gate, cam, 1.0, max_wait_s=30, poll_s=0.002) if paced else None
        )
        w = CameraWorker(
            cfg, cam, _EmptyModels(delay), _ServiceSink(svc, log, cam), T0, pacer=pacer
        )
        w.STATS_PERIOD_S = 0.0  # every batch reports: the log sees every position
        workers[cam] = w
    threads = [threading.Thread(target=w.run) for w in workers.values()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return log, {cam: w.stats.paced_s for cam, w in workers.items()}


def _largest_lead(log: list[tuple[str, float]]) -> float:
    pos = {"fast": T0, "slow": T0}
    lead = 0.0
    for cam, ts in log:
        pos[cam] = ts
        if cam == "fast" and ts < T0 + 7.6:  # while slow still runs (its last frame: 7.8 s)
            lead = max(lead, pos["fast"] - pos["slow"])
    return lead


def test_unpaced_cameras_drift_apart_in_data_time(tmp_path: Path) -> None:
    log, paced = _run_two(tmp_path, paced=False)
    assert _largest_lead(log) > 3.0
    assert paced == {"fast": 0.0, "slow": 0.0}


def test_paced_cameras_stay_within_the_lag(tmp_path: Path) -> None:
    log, paced = _run_two(tmp_path, paced=True)
    # lag 1 s, plus the batch in flight and the one being tracked (2 frames each, 0.2 s apart)
    assert _largest_lead(log) <= 1.0 + 4 * 0.2 + 1e-6
    assert paced["fast"] > 0 and paced["slow"] < paced["fast"]
    assert sum(1 for cam, _ in log if cam == "fast") >= 20  # it ran to the end all the same
