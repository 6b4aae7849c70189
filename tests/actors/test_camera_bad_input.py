"""Bad input through the CameraWorker: broken files, odd frames, unreachable hosts.

The models are a recording fake (no weights needed): what matters is what reaches
them, what the sink hears, and that the worker ends cleanly.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from mcvision.actors.camera import CameraWorker
from mcvision.config import parse_config
from mcvision.types import Detections, TrackletUpdate
from support import frames_accounted

T0 = 1_764_000_000.0


class RecordingModels:
    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        self.shapes.extend(f.shape for f in frames)
        return [Detections.empty() for _ in frames]

    def embed(self, crops: list[np.ndarray]) -> np.ndarray:  # pragma: no cover - no people
        return np.zeros((len(crops), 512), np.float32)


class Sink:
    def __init__(self) -> None:
        self.statuses: list[tuple[str, str]] = []
        self.updates_in: list[TrackletUpdate] = []

    def updates(self, updates: list[TrackletUpdate]) -> None:
        self.updates_in.extend(updates)

    def status(self, camera_id: str, status: str, ts: float, reason: str) -> None:
        self.statuses.append((status, reason))

    def stats(self, camera_id: str, stats: dict[str, Any]) -> None:
        pass


def run_worker(
    source: str | Path, tmp_path: Path, fps: float = 5, gating: bool = True
) -> tuple[Any, Sink, RecordingModels]:
    cfg = parse_config(
        {
            "site_id": "bad",
            "cameras": [{"id": "cam", "source": str(source), "fps": fps}],
            "storage": {"root": str(tmp_path / "store")},
            "runtime": {"frames_per_batch": 3},
            "gating": {"enabled": gating},
        }
    )
    sink, models = Sink(), RecordingModels()
    worker = CameraWorker(cfg, "cam", models, sink, start_ts=T0)  # type: ignore[arg-type]
    return worker.run(), sink, models


def write_avi(path: Path, n: int, size: tuple[int, int]) -> Path:
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, size)
    for i in range(n):
        out.write(np.full((size[1], size[0], 3), i % 255, np.uint8))
    out.release()
    return path


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "video file not found"),
        (b"", "video file is empty"),
        (b"\x00\x01garbage" * 500, "cannot open video file|no decodable frames"),
    ],
)
def test_unreadable_files_end_as_offline_events(
    tmp_path: Path, content: bytes | None, reason: str
) -> None:
    path = tmp_path / "broken.mp4"
    if content is not None:
        path.write_bytes(content)
    stats, sink, models = run_worker(path, tmp_path)
    assert stats.status == "failed" and stats.frames == 0 and models.shapes == []
    assert sink.statuses[-1][0] == "offline"
    assert re.search(reason, sink.statuses[-1][1])
    assert "broken.mp4" in sink.statuses[-1][1]


def test_truncated_video_processes_the_frames_before_the_cut(tmp_path: Path) -> None:
    full = write_avi(tmp_path / "full.avi", 60, (160, 120))
    data = full.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    stats, sink, _ = run_worker(cut, tmp_path, fps=10)
    assert stats.status == "ended"
    assert 10 < stats.frames_read < 60  # what was there, and nothing invented
    assert frames_accounted(stats)
    assert [s for s, _ in sink.statuses] == ["online"]


def test_grayscale_and_odd_sized_frames_reach_the_models_as_bgr(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.zeros((33, 47), np.uint8))  # gray, odd size
    cv2.imwrite(str(folder / "b.png"), np.zeros((1081, 1921, 4), np.uint8))  # BGRA, odd
    cv2.imwrite(str(folder / "c.jpg"), np.zeros((7, 5, 3), np.uint8))  # tiny
    (folder / "d.jpg").write_bytes(b"not an image")
    stats, _, models = run_worker(folder, tmp_path, gating=False)  # every frame to the models
    assert stats.status == "ended" and stats.frames == 3
    # BGR everywhere; the big frame shrunk to the detector's 640 long side, aspect kept
    assert models.shapes == [(33, 47, 3), (360, 640, 3), (7, 5, 3)]


def test_unreachable_host_goes_offline_within_a_bounded_time(tmp_path: Path) -> None:
    # 192.0.2.0/24 is TEST-NET-1: never routed, so the connect can only time out.
    cfg = parse_config(
        {
            "site_id": "bad",
            "cameras": [{"id": "cam", "source": "rtsp://192.0.2.1:554/x", "fps": 5}],
            "storage": {"root": str(tmp_path / "store")},
        }
    )
    sink = Sink()
    worker = CameraWorker(cfg, "cam", RecordingModels(), sink, start_ts=T0)  # type: ignore[arg-type]
    thread = threading.Thread(target=worker.run, daemon=True)
    start = time.monotonic()
    thread.start()
    while not sink.statuses and time.monotonic() - start < 30:
        time.sleep(0.1)
    offline_after = time.monotonic() - start
    worker.stop()
    thread.join(timeout=30)
    assert not thread.is_alive()  # stop() is bounded too
    assert sink.statuses[0] == ("offline", "cannot open rtsp://192.0.2.1:554/x")
    assert offline_after < 15  # open timeout 5 s (+ scheduling slack), not TCP's minutes
