"""CameraWorker look-ahead: batch k+1 is at the detector before batch k is tracked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from mcvision.actors.camera import CameraWorker, shrink
from mcvision.config import parse_config
from mcvision.types import Detections, TrackletUpdate

T0 = 1_764_000_000.0


class AsyncModels:
    """Records when detections are asked for and when they are collected."""

    def __init__(self) -> None:
        self.log: list[tuple[str, int]] = []
        self.sent = 0

    def detect_async(self, frames: list[np.ndarray]) -> Callable[[], list[Detections]]:
        k = self.sent
        self.sent += 1
        self.log.append(("submit", k))

        def collect() -> list[Detections]:
            self.log.append(("collect", k))
            return [Detections.empty() for _ in frames]

        return collect

    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        return self.detect_async(frames)()

    def embed(self, crops: list[np.ndarray]) -> np.ndarray:
        raise AssertionError("no people, no crops")

    def segment(self, frames: list[np.ndarray], dets: list[Detections]) -> list[Detections]:
        raise AssertionError("no segmenter configured")


class NullSink:
    def __init__(self) -> None:
        self.frames_seen: list[int] = []

    def updates(self, updates: list[TrackletUpdate]) -> None:
        pass

    def status(self, camera_id: str, status: str, ts: float, reason: str) -> None:
        pass

    def stats(self, camera_id: str, stats: dict[str, Any]) -> None:
        self.frames_seen.append(stats["frames"])


@pytest.mark.parametrize(
    ("images", "per_batch", "order"),
    [
        (1, 2, ["s0", "c0"]),
        (4, 2, ["s0", "s1", "c0", "c1"]),
        (5, 2, ["s0", "s1", "c0", "s2", "c1", "c2"]),
    ],
)
def test_next_batch_is_sent_before_the_previous_is_collected(
    tmp_path: Path, images: int, per_batch: int, order: list[str]
) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(images):
        cv2.imwrite(str(folder / f"{i:03d}.png"), np.full((48, 64, 3), i * 20, np.uint8))
    cfg = parse_config(
        {
            "site_id": "t",
            "cameras": [{"id": "cam", "source": str(folder), "fps": 5}],
            "storage": {"root": str(tmp_path / "store")},
            "runtime": {"frames_per_batch": per_batch},
            "gating": {"enabled": False},  # every frame to the detector: the order is known
        }
    )
    models, sink = AsyncModels(), NullSink()
    stats = CameraWorker(cfg, "cam", models, sink, start_ts=T0).run()
    assert [f"{a[0]}{b}" for a, b in models.log] == order
    assert stats.frames == images and stats.status == "ended"
    # stats are reported after each finished batch, then once at the end
    assert sink.frames_seen[-1] == images


@pytest.mark.parametrize(
    ("hw", "size", "out_hw"),
    [((432, 768), 640, (360, 640)), ((1080, 1920), 640, (360, 640)), ((300, 200), 640, (300, 200))],
)
def test_shrink_sizes(hw: tuple[int, int], size: int, out_hw: tuple[int, int]) -> None:
    img = np.full((*hw, 3), 128, np.uint8)
    small, scale = shrink(img, size)
    assert small.shape[:2] == out_hw
    assert scale == pytest.approx(out_hw[1] / hw[1])
    assert int(small.mean()) == 128  # a flat image stays flat with either interpolation
