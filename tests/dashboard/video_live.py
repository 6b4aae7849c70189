"""A running site's live state fed by a real video: what the API's live routes read.

:class:`VideoLive` decodes a video file with OpenCV in a background thread at
the file's frame rate (looping at the end, like a ``loop: true`` source) and
keeps the newest frame as a :class:`~mcvision.serve.live.LiveFrame`, as a
camera actor does; every camera of the site shows the same footage, each
starting at a different point of it. Moving foreground (OpenCV's MOG2
background subtractor) gives the boxes, so frames carry real, changing
annotations. It implements the interface ``create_app(cfg, live=...)`` uses.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mcvision.serve.live import LiveFrame


class VideoLive:
    """Cameras ``camera_ids`` playing ``video`` in real time.

    Args:
        video: a video file OpenCV can read.
        camera_ids: the site's cameras.
        start_s: where in the video the first camera starts (the next ones 7 s later each).
        size: ``(width, height)`` to scale frames to (the site's camera resolution), or None.
    """

    def __init__(
        self,
        video: Path,
        camera_ids: list[str],
        start_s: float = 6.0,
        size: tuple[int, int] | None = None,
    ) -> None:
        self.camera_ids = list(camera_ids)
        self.size = size
        self._frames: dict[str, LiveFrame] = {}
        self._counts: dict[str, int] = dict.fromkeys(camera_ids, 0)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(
                target=self._play, args=(cam, Path(video), start_s + 7.0 * i), daemon=True
            )
            for i, cam in enumerate(camera_ids)
        ]
        self._t0 = time.monotonic()
        for t in self._threads:
            t.start()

    def _play(self, cam: str, video: Path, start_s: float) -> None:
        cap = cv2.VideoCapture(str(video))
        if not cap.isOpened():
            raise RuntimeError(f"cannot open {video}")
        fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
        cap.set(cv2.CAP_PROP_POS_MSEC, start_s * 1000.0)
        subtract = cv2.createBackgroundSubtractorMOG2(history=50, detectShadows=False)
        seq = 0
        next_t = time.monotonic()
        while not self._stop.is_set():
            ok, img = cap.read()
            if not ok:  # loop, as a `loop: true` file source does
                cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                continue
            seq += 1
            boxes = self._moving_boxes(subtract, img)
            if self.size is not None:
                boxes *= np.tile(np.divide(self.size, img.shape[1::-1]), 2).astype(np.float32)
                img = cv2.resize(img, self.size, interpolation=cv2.INTER_LINEAR)
            frame = LiveFrame(
                camera_id=cam,
                seq=seq,
                ts=time.time(),
                image=img,
                boxes=boxes,
                local_ids=np.arange(1, len(boxes) + 1),
                activities=("walking",) * len(boxes),
            )
            with self._lock:
                self._frames[cam] = frame
                self._counts[cam] = seq
            next_t += 1.0 / fps
            self._stop.wait(max(0.0, next_t - time.monotonic()))
        cap.release()

    @staticmethod
    def _moving_boxes(subtract: Any, img: np.ndarray) -> np.ndarray:
        mask = subtract.apply(img)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        h = img.shape[0]
        out = [
            (x, y, x + w, y + hh)
            for x, y, w, hh, area in stats[1:n]
            if area > 400 and hh > 0.15 * h
        ]
        return np.array(out, np.float32).reshape(-1, 4)

    def close(self) -> None:
        """Stop decoding."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5.0)

    # ---- the live interface of create_app --------------------------------------------
    def newest_frame(self, camera_id: str, after_seq: int = -1) -> LiveFrame | None:
        with self._lock:
            frame = self._frames.get(camera_id)
        if frame is None or frame.seq == after_seq:
            return None
        return frame

    def global_ids(self, camera_id: str, local_ids: list[int]) -> dict[int, str]:
        return {i: f"20260310-{i:06d}" for i in local_ids}

    def cameras(self) -> dict[str, dict[str, Any]]:
        elapsed = max(1e-6, time.monotonic() - self._t0)
        with self._lock:
            frames = dict(self._frames)
            counts = dict(self._counts)
        return {
            cam: {
                "status": "online" if cam in frames else "starting",
                "fps": counts[cam] / elapsed,
                "frames": counts[cam],
                "people_in_view": len(frames[cam].boxes) if cam in frames else 0,
                "last_frame_ts": frames[cam].ts if cam in frames else None,
            }
            for cam in self.camera_ids
        }

    def occupancy(self) -> dict[str, Any]:
        people = sum(c["people_in_view"] for c in self.cameras().values())
        return {"in_store": people, "global_ids": [], "ts": time.time()}

    def reset(self, ts: float | None = None) -> int:
        return 0

    def batch_stats(self) -> dict[str, Any]:
        return {}
