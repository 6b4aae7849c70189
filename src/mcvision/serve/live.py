"""The live camera view: draw a camera's newest processed frame, pace an MJPEG stream.

The camera keeps only a reference to its newest processed frame and what it
found there (:class:`LiveFrame`, no copy, no drawing); this module does the
work on the API side, only while someone watches:

* :func:`render` copies the frame, shrinks it to ``max_px`` (long side),
  blurs faces unless the site allows them (``summaries.blur_faces``), and draws
  zones, entrance lines, boxes with short global IDs and activity labels;
* :func:`encode_jpeg` makes the JPEG;
* :class:`JpegCache` draws and encodes each (camera, frame) once and hands the
  same JPEG to every viewer of that camera and to the snapshot route; a frame
  already drawn does not cross from the camera again;
* :func:`mjpeg_stream` yields ``multipart/x-mixed-replace`` parts at most
  ``fps`` per second, only for frames it has not sent yet, and stops when the
  client goes away.

Plain Python and OpenCV: no Ray, tested on its own.

Example:
    >>> short_id("20261124-000123")
    '123'
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import cv2
import numpy as np

from mcvision.config import CameraConfig

__all__ = [
    "BOUNDARY",
    "FaceSearch",
    "JpegCache",
    "LiveFrame",
    "encode_jpeg",
    "mjpeg_stream",
    "render",
    "short_id",
]

BOUNDARY = "mcvisionframe"

_ZONE = (255, 200, 0)
_LINE = (0, 200, 255)
_BOX = (60, 220, 60)


@dataclass(frozen=True)
class LiveFrame:
    """A camera's newest processed frame and its tracks, as the camera left them.

    Attributes:
        camera_id: the camera.
        seq: increases with every processed frame (a viewer sends each once).
        ts: epoch seconds of the frame.
        image: the full BGR frame (shared with the camera: never drawn on).
        boxes: (N, 4) xyxy tracked boxes in pixels of ``image``.
        local_ids: (N,) the tracker's IDs of those boxes.
        activities: (N,) activity label per box, or None.
        keypoints: (N, K, 3) pose keypoints, or None (used to find heads to blur).
    """

    camera_id: str
    seq: int
    ts: float
    image: np.ndarray
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    local_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    activities: Sequence[str | None] = ()
    keypoints: np.ndarray | None = None


def short_id(global_id: str) -> str:
    """The short form of a global ID: its last part without leading zeros."""
    tail = global_id.replace("_", "-").rsplit("-", 1)[-1]
    return tail.lstrip("0") or "0"


def _pixels(
    points: Sequence[Sequence[float]], normalized: bool, size: tuple[int, int], scale: float
) -> np.ndarray:
    w, h = size
    pts = np.asarray(points, dtype=np.float64)
    if normalized:
        pts = pts * (w, h)
    return np.round(pts * scale).astype(np.int32)


def render(
    frame: LiveFrame,
    camera: CameraConfig,
    global_ids: Mapping[int, str] | None = None,
    blur: Callable[[np.ndarray, np.ndarray, np.ndarray | None], np.ndarray] | None = None,
    max_px: int = 960,
) -> np.ndarray:
    """The annotated picture of ``frame`` (a new image; the frame is left untouched).

    Args:
        frame: the camera's newest frame.
        camera: its config (zones, lines).
        global_ids: local track ID → global ID, for the labels (else ``#local``).
        blur: ``(image, boxes, keypoints) -> image`` with faces blurred, or None
            when the site allows faces.
        max_px: the long side of the result, at most.
    """
    h, w = frame.image.shape[:2]
    scale = min(1.0, max_px / max(h, w))
    if scale < 1.0:
        img = cv2.resize(
            frame.image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA
        )
    else:
        img = frame.image.copy()
    boxes = np.asarray(frame.boxes, dtype=np.float32).reshape(-1, 4) * scale
    if blur is not None:
        kps = None
        if frame.keypoints is not None and len(frame.keypoints):
            kps = np.asarray(frame.keypoints, dtype=np.float32).copy()
            kps[..., :2] *= scale
        img = blur(img, boxes, kps)
    thick = max(1, round(max(img.shape[:2]) / 480))
    for z in camera.zones:
        pts = _pixels(z.polygon, z.normalized, (w, h), scale)
        cv2.polylines(img, [pts], isClosed=True, color=_ZONE, thickness=thick)
        cv2.putText(
            img,
            z.name,
            tuple(int(v) for v in pts[0]),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4 * thick,
            _ZONE,
            thick,
            cv2.LINE_AA,
        )
    for ln in camera.lines:
        a, b = _pixels(ln.points, ln.normalized, (w, h), scale)
        cv2.line(img, tuple(int(v) for v in a), tuple(int(v) for v in b), _LINE, thick + 1)
    gids = global_ids or {}
    acts = list(frame.activities) + [None] * (len(boxes) - len(frame.activities))
    for box, lid, act in zip(boxes, np.asarray(frame.local_ids).reshape(-1), acts, strict=False):
        x1, y1, x2, y2 = np.rint(box).astype(int).tolist()
        cv2.rectangle(img, (x1, y1), (x2, y2), _BOX, thick)
        gid = gids.get(int(lid))
        label = short_id(gid) if gid else f"#{int(lid)}"
        if act:
            label = f"{label} {act}"
        cv2.putText(
            img,
            label,
            (x1, max(12, y1 - 4)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45 * thick,
            _BOX,
            thick,
            cv2.LINE_AA,
        )
    return img


def encode_jpeg(image: np.ndarray, quality: int = 80) -> bytes:
    """JPEG bytes of a BGR image.

    Raises:
        ValueError: OpenCV could not encode it.
    """
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"cannot encode a {image.shape} image as JPEG")
    return buf.tobytes()


class JpegCache:
    """The newest JPEG of each camera, drawn once per frame and shared by all who ask.

    Args:
        fetch: ``(camera_id, after_seq) -> LiveFrame | None``: the camera's newest
            frame, or None when it has none or it is still frame ``after_seq``
            (then nothing crosses from the camera).
        draw: ``LiveFrame -> JPEG bytes`` (render + encode): called once per
            (camera, seq), however many viewers watch that camera.

        max_age_s: a JPEG younger than this is handed out without asking the camera
            (with ``0.5 / fps``: at most ``2 * fps`` draws a second per camera, however
            many watch it).
        clock: monotonic seconds (injected in tests).

    Thread-safe: viewers of one camera wait for the one drawing; cameras do not
    wait for each other.
    """

    def __init__(
        self,
        fetch: Callable[[str, int], LiveFrame | None],
        draw: Callable[[LiveFrame], bytes],
        max_age_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fetch = fetch
        self.draw = draw
        self.max_age_s = max_age_s
        self.clock = clock
        self.drawn = 0
        self._jpegs: dict[str, tuple[int, bytes]] = {}
        self._at: dict[str, float] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, camera_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(camera_id, threading.Lock())

    def newest(self, camera_id: str, after_seq: int = -1) -> tuple[int, bytes] | None:
        """``(seq, jpeg)`` of the camera's newest frame, or None when there is none
        yet or it is still frame ``after_seq`` (the viewer has it)."""
        with self._lock(camera_id):
            cached = self._jpegs.get(camera_id)
            fresh = cached is not None and self.clock() - self._at[camera_id] < self.max_age_s
            if not fresh:
                frame = self.fetch(camera_id, cached[0] if cached else -1)
                if frame is not None and (cached is None or frame.seq != cached[0]):
                    cached = (frame.seq, self.draw(frame))
                    self._jpegs[camera_id] = cached
                    self._at[camera_id] = self.clock()
                    self.drawn += 1
        if cached is None or cached[0] == after_seq:
            return None
        return cached


class FaceSearch:
    """The live view's search for faces no person box covers, at most every ``every_s``.

    A search (YuNet on a small copy of the frame) is most of what drawing a live frame
    costs; tracked people's heads are blurred on every frame anyway, so the search for
    the others runs at most once per ``every_s`` of each camera's frame time and its
    faces are blurred again on the frames in between (the blurrer adds its margin).

    Args:
        search: ``image -> (N, 5) faces`` (:meth:`FaceBlurrer.detect_small`).
        every_s: seconds of frame time between two searches of one camera (0: every frame).

    Example:
        >>> calls = []
        >>> fs = FaceSearch(lambda img: calls.append(1) or np.zeros((0, 5)), every_s=0.5)
        >>> img = np.zeros((4, 4, 3), np.uint8)
        >>> for ts in (0.0, 0.2, 0.4, 0.6, 0.8, 1.2):
        ...     _ = fs.faces("cam", ts, img)
        >>> len(calls)
        3
    """

    def __init__(self, search: Callable[[np.ndarray], np.ndarray], every_s: float) -> None:
        if every_s < 0:
            raise ValueError(f"every_s must be >= 0, got {every_s}")
        self.search = search
        self.every_s = every_s
        self.searches = 0
        self._last: dict[str, tuple[float, tuple[int, ...], np.ndarray]] = {}

    def faces(self, camera_id: str, ts: float, image: np.ndarray) -> np.ndarray:
        """The faces for this frame: searched now, or those of the camera's last search when
        it is younger than ``every_s`` (same picture size, not from a later frame)."""
        last = self._last.get(camera_id)
        if last is not None and last[1] == image.shape and 0.0 <= ts - last[0] < self.every_s:
            return last[2]
        found = self.search(image)
        self.searches += 1
        self._last[camera_id] = (ts, image.shape, found)
        return found


def _lower_priority(nice: int) -> None:
    """Raise the calling thread's niceness by ``nice`` (Linux: per thread; elsewhere a no-op)."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + nice)
    except OSError:  # not permitted here: same priority as the rest
        pass


def low_priority_pool(nice: int, workers: int = 4) -> ThreadPoolExecutor:
    """Threads for fetching and drawing live frames at a lower CPU priority.

    On a machine the pipeline saturates, viewers then get the CPU the pipeline leaves
    (their frame rate drops before the pipeline's does); on an idle one nothing changes.

    Example:
        >>> pool = low_priority_pool(10, workers=1)
        >>> pool.submit(lambda: 2 + 2).result()
        4
        >>> pool.shutdown()
    """
    return ThreadPoolExecutor(
        max_workers=workers,
        thread_name_prefix="mcv-live",
        initializer=_lower_priority,
        initargs=(nice,),
    )


def part(jpeg: bytes) -> bytes:
    """One part of the multipart stream."""
    head = (
        f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
    ).encode()
    return head + jpeg + b"\r\n"


async def mjpeg_stream(
    newest: Callable[[int], Awaitable[tuple[int, bytes] | None]],
    fps: float,
    disconnected: Callable[[], Awaitable[bool]],
    clock: Callable[[], float] = time.monotonic,
    max_frames: int | None = None,
) -> AsyncIterator[bytes]:
    """Multipart parts of the newest frames, at most ``fps`` a second, until the client leaves.

    Args:
        newest: ``(last seq sent) -> (seq, jpeg)`` of a newer frame, or None when
            there is none yet (it draws and encodes: called at most ``fps`` times
            a second, so nothing is drawn faster than it is watched).
        fps: the cap.
        disconnected: true once the client has gone (checked every step).
        clock: monotonic seconds (injected in tests).
        max_frames: stop after this many parts (None: until disconnected).
    """
    period = 1.0 / fps
    last_seq = -1
    sent = 0
    next_t = clock()
    while max_frames is None or sent < max_frames:
        if await disconnected():
            return
        wait = next_t - clock()
        if wait > 0:
            await asyncio.sleep(wait)
            continue
        next_t = max(next_t + period, clock())  # never burst to catch up
        got = await newest(last_seq)
        if got is None:
            continue
        last_seq, jpeg = got
        sent += 1
        yield part(jpeg)
