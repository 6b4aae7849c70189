"""Frame sources: sampling, PTS timestamps, folders, bad files, unreachable streams."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from mcvision.capture.source import (
    FrameSampler,
    ImageFolderSource,
    LiveSource,
    SourceError,
    VideoFileSource,
    open_source,
)
from mcvision.config import CameraConfig

T0 = 1_764_000_000.0


def write_video(path: Path, n: int, fps: float, size: tuple[int, int] = (64, 48)) -> Path:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for i in range(n):
        img = np.full((size[1], size[0], 3), (i * 7) % 255, np.uint8)
        w.write(img)
    w.release()
    return path


@pytest.mark.parametrize(
    ("native", "target", "n", "expected"),
    [(10, 10, 30, 30), (10, 5, 30, 15), (30, 10, 90, 30), (10, 20, 30, 30), (25, 2, 100, 8)],
)
def test_sampler_rates(native: float, target: float, n: int, expected: int) -> None:
    s = FrameSampler(target)
    kept = sum(s.keep(i / native) for i in range(n))
    assert kept == expected


def test_file_source_timestamps_follow_pts(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", n=40, fps=20)
    src = VideoFileSource("cam", video, fps=5, start_ts=T0)
    frames = list(src.frames())
    assert len(frames) == 10
    assert [round(f.ts - T0, 3) for f in frames[:3]] == [0.0, 0.2, 0.4]
    assert [f.index for f in frames[:3]] == [0, 4, 8]
    assert frames[0].image.shape == (48, 64, 3)
    assert src.stats.decoded == 40 and src.stats.emitted == 10


def test_real_footage_replays_faster_than_real_time(assets: Path) -> None:
    video = assets / "footage" / "one-by-one-person-detection.mp4"
    src = VideoFileSource("cam", video, fps=2, start_ts=T0)
    start = time.perf_counter()
    frames = list(src.frames())
    wall = time.perf_counter() - start
    span = frames[-1].ts - frames[0].ts
    assert len(frames) == 279  # 1394 frames at 10 fps (139.3 s) sampled to 2 fps
    assert span == pytest.approx(139.0, abs=0.6)
    assert wall < span / 5


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "video file not found"),
        (b"", "video file is empty"),
        (b"not a video" * 100, "cannot open video file|no decodable frames"),
    ],
)
def test_bad_files_raise_source_error(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "bad.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SourceError, match=message) as exc:
        list(VideoFileSource("cam", path, fps=5, start_ts=T0).frames())
    assert "camera cam" in str(exc.value) and "bad.mp4" in str(exc.value)


def test_truncated_video_yields_the_frames_before_the_cut(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", n=100, fps=10, size=(160, 120))
    data = video.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    try:
        frames = list(VideoFileSource("cam", cut, fps=10, start_ts=T0).frames())
    except SourceError as err:  # mp4 with its index at the end: nothing decodable
        assert "no decodable frames" in str(err) or "cannot open" in str(err)
    else:
        assert 0 < len(frames) < 100


def test_image_folder_source_handles_gray_and_odd_sizes(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((33, 47), np.uint8))
    cv2.imwrite(str(tmp_path / "b.jpg"), np.zeros((21, 13, 3), np.uint8))
    (tmp_path / "c.jpg").write_bytes(b"garbage")
    (tmp_path / "notes.txt").write_text("ignored")
    src = ImageFolderSource("cam", tmp_path, fps=2, start_ts=T0)
    frames = list(src.frames())
    assert [f.image.shape for f in frames] == [(33, 47, 3), (21, 13, 3)]
    assert [f.ts - T0 for f in frames] == [0.0, 0.5]
    assert src.stats.last_error == "unreadable image c.jpg"


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no images"):
        ImageFolderSource("cam", tmp_path, fps=2, start_ts=T0)


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_unreachable_stream_reports_offline_and_retries() -> None:
    statuses: list[tuple[str, str]] = []
    url = f"rtsp://127.0.0.1:{_closed_port()}/nothing"
    src = LiveSource(
        "cam",
        url,
        fps=5,
        on_status=lambda s, r: statuses.append((s, r)),
        backoff=(0.05, 0.1),
        open_timeout_s=1.0,
    )
    src.start()
    deadline = time.monotonic() + 10
    while src.stats.reconnects < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    frames = src.take(wait_s=0.1)
    src.stop()
    assert frames == []
    assert statuses[0] == ("offline", f"cannot open {url}")
    assert len(statuses) == 1  # reported once, not on every retry
    assert src.stats.reconnects >= 2


def test_newest_frame_policy_drops_oldest() -> None:
    ticks = iter(np.arange(100) / 10)  # frames 0.1 s apart, sampled at 10 fps: all kept
    src = LiveSource("cam", 0, fps=10, buffer=3, clock=lambda: float(next(ticks)))
    frames = iter(range(10))

    class FakeCap:  # stands in for the webcam device only; the buffering logic is real
        def isOpened(self) -> bool:
            return True

        def read(self) -> tuple[bool, np.ndarray | None]:
            try:
                i = next(frames)
            except StopIteration:
                src.stop_flag()
                return False, None
            return True, np.full((4, 4, 3), i, np.uint8)

        def release(self) -> None:
            pass

    src._open = FakeCap  # type: ignore[method-assign]
    src.stop_flag = src._stop.set  # type: ignore[attr-defined]
    t = threading.Thread(target=src._run)
    t.start()
    t.join(5)
    kept = src.take(max_frames=10, wait_s=0)
    assert [int(f.image[0, 0, 0]) for f in kept] == [7, 8, 9]
    assert src.stats.dropped == 7


def test_open_source_picks_the_kind(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", n=2, fps=5)
    cv2.imwrite(str(tmp_path / "img.png"), np.zeros((4, 4, 3), np.uint8))
    folder = tmp_path / "imgs"
    folder.mkdir()
    cv2.imwrite(str(folder / "0.png"), np.zeros((4, 4, 3), np.uint8))
    cases = {
        str(video): VideoFileSource,
        str(folder): ImageFolderSource,
        "rtsp://127.0.0.1:1/x": LiveSource,
    }
    for source, cls in cases.items():
        src = open_source(CameraConfig(id="c", source=source), start_ts=T0)
        assert type(src) is cls
    with pytest.raises(SourceError, match="video file not found"):
        open_source(CameraConfig(id="c", source=str(tmp_path / "missing.mp4")), start_ts=T0)
