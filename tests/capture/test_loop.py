"""Looped video files (``loop: true``): replayed forever like a live camera, no Ray."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from mcvision.capture.source import LoopingFileSource, SourceError, open_source
from mcvision.config import CameraConfig, parse_config

T_WALL = 1_800_000_000.0


def write_video(path: Path, n: int, fps: float, size: tuple[int, int] = (64, 48)) -> Path:
    """A clip whose frame ``i`` is a flat grey of ``10 * i`` (it survives the codec)."""
    import cv2

    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for i in range(n):
        w.write(np.full((size[1], size[0], 3), 10 * i, np.uint8))
    w.release()
    return path


def file_frame(image: np.ndarray) -> int:
    return round(float(image.mean()) / 10)


class FakeClock:
    """Wall-clock seconds that move only when the source waits (and a little per read)."""

    def __init__(self, t: float = T_WALL) -> None:
        self.t = t
        self.waited = 0.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s
        self.waited += s


def test_loop_wraps_around_paced_at_the_file_fps_and_stamped_by_the_clock(
    tmp_path: Path,
) -> None:
    video = write_video(tmp_path / "v.mp4", n=10, fps=10)
    clock = FakeClock()
    src = LoopingFileSource("cam", video, fps=5, clock=clock, sleep=clock.sleep)
    got = []
    for frame in src.paced():
        got.append(frame)
        if len(got) == 16:  # 3.2 loops of 5 sampled frames
            src.stop()
    assert [file_frame(f.image) for f in got[:11]] == [0, 2, 4, 6, 8] * 2 + [0]
    assert src.loops == 3
    ts = np.array([f.ts for f in got])
    assert ts[0] == T_WALL  # stamped by the clock, not the file's time
    assert np.all(np.diff(ts) > 0)  # monotonic across the wrap
    assert np.allclose(np.diff(ts), 0.2)  # 10 fps file, sampled at 5: no gap at the wrap
    assert clock.waited == pytest.approx(ts[-1] - T_WALL, abs=0.11)  # paced by waiting
    assert [f.index for f in got[:3]] == [0, 2, 4] and got[10].index == 20  # never repeats


def test_loop_paces_at_the_given_rate_and_never_bursts_after_a_stall(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", n=6, fps=10)
    clock = FakeClock()
    src = LoopingFileSource("cam", video, fps=30, clock=clock, sleep=clock.sleep, native_fps=4.0)
    gen = src.paced()
    first = [next(gen).ts for _ in range(3)]
    assert np.allclose(np.diff(first), 0.25)  # the configured replay rate
    clock.t += 10.0  # the consumer stalled 10 s
    after = [next(gen).ts for _ in range(3)]
    assert after[0] >= first[-1] + 10.0
    assert np.allclose(np.diff(after), 0.25)  # then back on pace, no catch-up burst
    src.stop()


def test_loop_thread_feeds_the_ring_buffer_with_wall_clock_frames(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", n=5, fps=50)
    status: list[str] = []
    src = open_source(
        CameraConfig(id="cam", source=str(video), fps=50, loop=True),
        start_ts=0.0,
        on_status=lambda s, _r: status.append(s),
    )
    assert isinstance(src, LoopingFileSource) and src.live
    frames = []
    src.start()  # as the camera does with a live source
    try:
        deadline = time.monotonic() + 20
        while len(frames) < 12 and time.monotonic() < deadline:
            frames.extend(src.take(max_frames=8, wait_s=0.5))
    finally:
        src.stop()
    assert len(frames) >= 12 and src.loops >= 2 and status[0] == "online"
    assert all(abs(f.ts - time.time()) < 30 for f in frames)  # wall clock, not ts 0 + PTS
    assert all(b.ts > a.ts for a, b in itertools.pairwise(frames))


def test_loop_rejects_what_cannot_loop(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not found"):
        LoopingFileSource("cam", tmp_path / "nope.mp4", fps=5)
    (tmp_path / "junk.mp4").write_bytes(b"not a video" * 100)
    with pytest.raises(SourceError, match=r"junk\.mp4"):
        LoopingFileSource("cam", tmp_path / "junk.mp4", fps=5)
    for source in ("rtsp://127.0.0.1:8554/cam", 0, str(tmp_path)):
        with pytest.raises(ValidationError, match="loop: true applies to a video file"):
            CameraConfig(id="cam", source=source, loop=True)


def test_a_looped_camera_is_live() -> None:
    cfg = parse_config(
        {
            "site_id": "s",
            "cameras": [
                {"id": "a", "source": "a.mp4"},
                {"id": "b", "source": "b.mp4", "loop": True},
            ],
        }
    )
    assert [c.is_live for c in cfg.cameras] == [False, True]
