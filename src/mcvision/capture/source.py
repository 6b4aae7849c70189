"""Frame sources: video files, live streams (RTSP/HTTP), webcams, image folders.

Every source yields timestamped :class:`~mcvision.types.Frame` objects sampled
to the camera's target fps:

- **files and image folders** are replayed as fast as they are consumed, every
  sampled frame kept, timestamped ``start_ts + PTS`` — a 2-hour file replays in
  minutes with the right times;
- **live sources** are read by a background thread into a small ring buffer:
  when the pipeline falls behind, the oldest frames are dropped (and counted),
  never queued without bound. Frames are timestamped by the injected clock at
  decode. A stream that fails to open or drops is retried with exponential
  backoff and jitter; status changes are reported through ``on_status`` so the
  camera can emit ``camera_offline``/``camera_online`` events;
- **looped files** (``loop: true``) are read like a live source: replayed
  forever at the file's own fps, stamped by the clock at read time, starting
  again at the end (a recording played as a live site).

Example:
    >>> src = open_source(camera_cfg, start_ts=1_764_000_000.0)   # doctest: +SKIP
    >>> for frame in src.frames():                                # doctest: +SKIP
    ...     ...
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mcvision.config import CameraConfig
from mcvision.types import Frame

Clock = Callable[[], float]
StatusCallback = Callable[[str, str], None]  # (status: "online"|"offline", reason)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}

# Bounded network timeouts for OpenCV's FFmpeg backend (microseconds), TCP for RTSP.
os.environ.setdefault(
    "OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp|timeout;5000000|rw_timeout;5000000"
)


class SourceError(RuntimeError):
    """A source that cannot be read (missing file, not a video, unreachable stream)."""


@dataclass
class SourceStats:
    """Counters a camera reports (frames decoded, kept, dropped, reconnects)."""

    decoded: int = 0
    emitted: int = 0
    dropped: int = 0
    reconnects: int = 0
    online: bool = False
    last_ts: float | None = None
    last_error: str | None = None


class FrameSampler:
    """Keeps frames whose timestamps advance by at least ``1 / fps``.

    Example:
        >>> s = FrameSampler(fps=5)
        >>> [s.keep(t / 10) for t in range(6)]
        [True, False, True, False, True, False]
    """

    def __init__(self, fps: float) -> None:
        self.period = 1.0 / fps
        self._next: float | None = None

    def keep(self, ts: float) -> bool:
        # Half a millisecond of slack absorbs PTS rounding (e.g. 33.366 ms frames).
        if self._next is None or ts >= self._next - 5e-4:
            base = ts if self._next is None or ts - self._next > self.period else self._next
            self._next = base + self.period
            return True
        return False


def _ensure_bgr(image: np.ndarray) -> np.ndarray:
    """Grayscale or BGRA frames become 3-channel BGR; everything downstream expects it."""
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.shape[2] == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return image


class FrameSource:
    """Base class: ``frames()`` yields sampled frames until the source ends or ``stop()``."""

    live: bool = False

    def __init__(self, camera_id: str, fps: float) -> None:
        self.camera_id = camera_id
        self.fps = fps
        self.stats = SourceStats()
        self._stop = threading.Event()

    def frames(self) -> Iterator[Frame]:
        raise NotImplementedError

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()


class VideoFileSource(FrameSource):
    """A video file replayed with timestamps ``start_ts + PTS``."""

    def __init__(self, camera_id: str, path: str | Path, fps: float, start_ts: float) -> None:
        super().__init__(camera_id, fps)
        self.path = Path(path)
        self.start_ts = start_ts
        if not self.path.exists():
            raise SourceError(f"camera {camera_id}: video file not found: {self.path}")
        if self.path.stat().st_size == 0:
            raise SourceError(f"camera {camera_id}: video file is empty: {self.path}")

    def frames(self) -> Iterator[Frame]:
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            raise SourceError(f"camera {self.camera_id}: cannot open video file {self.path}")
        try:
            native_fps = cap.get(cv2.CAP_PROP_FPS) or self.fps
            sampler = FrameSampler(self.fps)
            index = -1
            self.stats.online = True
            while not self.stopped:
                if not cap.grab():
                    break
                index += 1
                pts_ms = cap.get(cv2.CAP_PROP_POS_MSEC)
                rel = pts_ms / 1000.0 if pts_ms > 0 or index == 0 else index / native_fps
                self.stats.decoded += 1
                if not sampler.keep(rel):
                    continue
                ok, image = cap.retrieve()
                if not ok or image is None:
                    self.stats.last_error = f"undecodable frame {index}"
                    continue
                ts = self.start_ts + rel
                self.stats.emitted += 1
                self.stats.last_ts = ts
                yield Frame(self.camera_id, index, ts, _ensure_bgr(image))
        finally:
            cap.release()
            self.stats.online = False
        if self.stats.emitted == 0:
            raise SourceError(f"camera {self.camera_id}: no decodable frames in {self.path}")


class ImageFolderSource(FrameSource):
    """A folder of images in name order, one every ``1 / fps`` seconds from ``start_ts``."""

    def __init__(self, camera_id: str, folder: str | Path, fps: float, start_ts: float) -> None:
        super().__init__(camera_id, fps)
        self.folder = Path(folder)
        self.start_ts = start_ts
        self.files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise SourceError(
                f"camera {camera_id}: no images ({sorted(IMAGE_SUFFIXES)}) in {folder}"
            )

    def frames(self) -> Iterator[Frame]:
        self.stats.online = True
        for i, path in enumerate(self.files):
            if self.stopped:
                break
            image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            self.stats.decoded += 1
            if image is None:
                self.stats.last_error = f"unreadable image {path.name}"
                continue
            ts = self.start_ts + i / self.fps
            self.stats.emitted += 1
            self.stats.last_ts = ts
            yield Frame(self.camera_id, i, ts, _ensure_bgr(image))
        self.stats.online = False


class LiveSource(FrameSource):
    """An RTSP/HTTP stream or webcam, read by a thread into a newest-frames ring buffer.

    Args:
        camera_id: the camera.
        target: URL or webcam index.
        fps: sampling rate.
        clock: time source for frame timestamps (epoch seconds).
        buffer: frames kept when the consumer is slow; older ones are dropped.
        on_status: called with ("offline", reason) / ("online", "") on changes.
        backoff: (first, max) reconnect delay in seconds; doubles, with ±25 % jitter.
        open_timeout_s: bound on opening and reading the stream.
    """

    live = True

    def __init__(
        self,
        camera_id: str,
        target: str | int,
        fps: float,
        clock: Clock = time.time,
        buffer: int = 4,
        on_status: StatusCallback | None = None,
        backoff: tuple[float, float] = (0.5, 10.0),
        open_timeout_s: float = 5.0,
    ) -> None:
        super().__init__(camera_id, fps)
        self.target = target
        self.clock = clock
        self.buffer: deque[Frame] = deque(maxlen=buffer)
        self.on_status = on_status
        self.backoff = backoff
        self.open_timeout_s = open_timeout_s
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._rng = random.Random(hash(camera_id))
        self.frame_size: tuple[int, int] | None = None
        self._reported = False

    # -- reader thread -----------------------------------------------------
    def _open(self) -> cv2.VideoCapture:
        ms = int(self.open_timeout_s * 1000)
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
        if isinstance(self.target, int):
            return cv2.VideoCapture(self.target)
        return cv2.VideoCapture(self.target, cv2.CAP_FFMPEG, params)

    def _set_status(self, online: bool, reason: str = "") -> None:
        # The first status is always reported: an unreachable source at start is an event.
        if online == self.stats.online and self._reported:
            return
        self._reported = True
        self.stats.online = online
        if not online:
            self.stats.last_error = reason
        if self.on_status:
            self.on_status("online" if online else "offline", reason)

    def _run(self) -> None:
        delay = self.backoff[0]
        sampler = FrameSampler(self.fps)
        index = -1
        while not self.stopped:
            cap = self._open()
            if not cap.isOpened():
                cap.release()
                self._set_status(False, f"cannot open {self.target}")
                self._sleep(delay)
                delay = min(delay * 2, self.backoff[1])
                self.stats.reconnects += 1
                continue
            self._set_status(True)
            delay = self.backoff[0]
            while not self.stopped:
                ok, image = cap.read()
                if not ok or image is None:
                    self._set_status(False, f"stream ended or dropped: {self.target}")
                    break
                index += 1
                ts = self.clock()
                self.stats.decoded += 1
                if not sampler.keep(ts):
                    continue
                self._push(Frame(self.camera_id, index, ts, _ensure_bgr(image)))
            cap.release()
            if not self.stopped:
                self._sleep(delay)
                self.stats.reconnects += 1

    def _push(self, frame: Frame) -> None:
        """Into the ring buffer (the oldest frame dropped, and counted, when full)."""
        self.frame_size = (int(frame.image.shape[1]), int(frame.image.shape[0]))
        with self._cond:
            if len(self.buffer) == self.buffer.maxlen:
                self.stats.dropped += 1
            self.buffer.append(frame)
            self._cond.notify()

    def _sleep(self, delay: float) -> None:
        jitter = delay * self._rng.uniform(-0.25, 0.25)
        self._stop.wait(max(0.0, delay + jitter))

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"reader-{self.camera_id}", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        super().stop()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=self.open_timeout_s + 1)

    def take(self, max_frames: int = 8, wait_s: float = 0.5) -> list[Frame]:
        """The buffered frames (oldest first), waiting up to ``wait_s`` for the first."""
        with self._cond:
            if not self.buffer and not self.stopped:
                self._cond.wait(wait_s)
            out: list[Frame] = []
            while self.buffer and len(out) < max_frames:
                out.append(self.buffer.popleft())
        self.stats.emitted += len(out)
        if out:
            self.stats.last_ts = out[-1].ts
        return out

    def frames(self) -> Iterator[Frame]:
        self.start()
        while not self.stopped:
            yield from self.take()


class LoopingFileSource(LiveSource):
    """A video file replayed forever like a live camera (``loop: true``).

    A reader thread decodes the file at its own fps (``native_fps``, else what
    the file says, else ``fps``), stamps each frame with the clock when it is
    read (never decreasing), samples to ``fps`` and fills the newest-frames ring
    buffer as a stream would; at the end it starts the file again (``loops``
    counts the wraps) with no gap in time and no offline event.

    Args:
        camera_id: the camera.
        path: the video file.
        fps: sampling rate.
        clock: time source for frame timestamps (epoch seconds).
        sleep: ``(seconds) -> None`` pacing wait (default: interruptible by stop).
        buffer: frames kept when the consumer is slow; older ones are dropped.
        on_status: called with ("online", "") once the file is open.
        native_fps: replay rate, when not the file's own.

    Raises:
        SourceError: the file is missing, empty, or holds no decodable frame.
    """

    def __init__(
        self,
        camera_id: str,
        path: str | Path,
        fps: float,
        clock: Clock = time.time,
        sleep: Callable[[float], object] | None = None,
        buffer: int = 4,
        on_status: StatusCallback | None = None,
        native_fps: float | None = None,
    ) -> None:
        super().__init__(camera_id, str(path), fps, clock=clock, buffer=buffer, on_status=on_status)
        self.path = Path(path)
        self.wait = sleep if sleep is not None else self._stop.wait
        self.loops = 0
        if not self.path.exists():
            raise SourceError(f"camera {camera_id}: video file not found: {self.path}")
        if self.path.stat().st_size == 0:
            raise SourceError(f"camera {camera_id}: video file is empty: {self.path}")
        cap = cv2.VideoCapture(str(self.path))
        try:
            if not cap.isOpened():
                raise SourceError(f"camera {camera_id}: cannot open video file {self.path}")
            ok, _ = cap.read()
            if not ok:
                raise SourceError(f"camera {camera_id}: no decodable frames in {self.path}")
            file_fps = cap.get(cv2.CAP_PROP_FPS)
        finally:
            cap.release()
        rate = native_fps or (file_fps if 0 < file_fps <= 240 else None) or fps
        self.period = 1.0 / rate

    def paced(self) -> Iterator[Frame]:
        """Sampled frames of the file, forever (until stop), at its fps, clock-stamped."""
        sampler = FrameSampler(self.fps)
        index = -1
        last_ts = -float("inf")
        due: float | None = None
        while not self.stopped:
            cap = cv2.VideoCapture(str(self.path))
            read = 0
            try:
                while not self.stopped:
                    now = self.clock()
                    due = now if due is None or now - due > self.period else due
                    if due > now:
                        self.wait(due - now)
                        continue
                    if not cap.grab():  # the end: the first frame is due now, no gap
                        break
                    due += self.period
                    read += 1
                    index += 1
                    self.stats.decoded += 1
                    ts = max(self.clock(), last_ts + 1e-6)
                    if not sampler.keep(ts):
                        continue
                    ok, image = cap.retrieve()
                    if not ok or image is None:
                        self.stats.last_error = f"undecodable frame {index}"
                        continue
                    last_ts = ts
                    if not self.stats.online:
                        self._set_status(True)
                    yield Frame(self.camera_id, index, ts, _ensure_bgr(image))
            finally:
                cap.release()
            if self.stopped:
                return
            if read == 0:  # the file went away or broke since it was opened
                self._set_status(False, f"no decodable frames in {self.path}")
                self._sleep(self.backoff[0])
                continue
            self.loops += 1

    def _run(self) -> None:
        for frame in self.paced():
            self._push(frame)


def read_frames(path: str | Path, indices: Iterable[int]) -> dict[int, np.ndarray]:
    """The frames of a video file at these (decoded-frame) indices, by index.

    Decodes from the start and stops after the last one wanted; frames that cannot be
    decoded are left out.
    """
    cap = cv2.VideoCapture(str(path))
    want, out, i = set(indices), {}, 0
    try:
        while want and cap.grab():
            if i in want:
                ok, img = cap.retrieve()
                if ok:
                    out[i] = img
                want.discard(i)
            i += 1
    finally:
        cap.release()
    return out


def open_source(
    camera: CameraConfig,
    *,
    start_ts: float,
    clock: Clock = time.time,
    on_status: StatusCallback | None = None,
) -> FrameSource:
    """The right :class:`FrameSource` for a camera config.

    Args:
        camera: the camera.
        start_ts: epoch seconds of the first frame of a file or folder (not looped).
        clock: wall clock for live sources and looped files.
        on_status: status callback for live sources and looped files.

    Raises:
        SourceError: a file or folder source that does not exist or holds nothing readable.
    """
    kind = camera.source_kind
    if camera.loop:
        return LoopingFileSource(
            camera.id, str(camera.source), camera.fps, clock=clock, on_status=on_status
        )
    if kind in ("url", "webcam"):
        return LiveSource(camera.id, camera.source, camera.fps, clock=clock, on_status=on_status)
    if kind == "folder":
        return ImageFolderSource(camera.id, str(camera.source), camera.fps, start_ts)
    return VideoFileSource(camera.id, str(camera.source), camera.fps, start_ts)
