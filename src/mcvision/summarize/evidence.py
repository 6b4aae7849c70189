"""Low-resolution evidence recording: what summaries draw from after the fact.

A camera with ``record: true`` keeps, per ``recording.segment_s`` (an hour by
default), one downscaled MP4 under ``<storage.root>/evidence/<camera>/`` and a
JSON-lines sidecar beside it::

    evidence/cam1/20260105T100000.mp4
    evidence/cam1/20260105T100000.jsonl   # header line, then one line per frame

The header holds the camera, the recorded size, the scale from the camera's
frames and their size; each frame line holds its ``ts`` and the tracked boxes
(recorded pixels) with their local track IDs, so a summary can map them to
global IDs through the store's ``track_assigned`` events. Frames are written
at most ``recording.fps`` per second. Segments older than
``recording.retention_days`` (in data time) are deleted when a new one opens.

Example:
    >>> rec = EvidenceRecorder.from_config(site, "cam1")      # doctest: +SKIP
    >>> rec.write(frame, tracked)                               # doctest: +SKIP
    >>> rec.close()                                             # doctest: +SKIP
    >>> [f.ts for f in read_evidence(root, "cam1", 0, 1e12)]    # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

import cv2
import numpy as np

from mcvision.types import Detections, Frame

if TYPE_CHECKING:
    from mcvision.config import SiteConfig

log = logging.getLogger(__name__)

__all__ = ["EvidenceFrame", "EvidenceRecorder", "evidence_dir", "read_evidence", "segments"]


def evidence_dir(root: str | Path, camera_id: str) -> Path:
    """``<root>/evidence/<camera>``: where a camera's recording lives."""
    return Path(root) / "evidence" / camera_id


@dataclass
class EvidenceFrame:
    """One recorded frame.

    Attributes:
        camera_id: the camera.
        ts: epoch seconds.
        image: (h, w, 3) BGR at the recorded size.
        boxes: (N, 4) xyxy in recorded pixels.
        local_ids: (N,) local track IDs.
        scale: recorded size / camera frame size.
        source_size: (width, height) of the camera's frames.
    """

    camera_id: str
    ts: float
    image: np.ndarray
    boxes: np.ndarray
    local_ids: np.ndarray
    scale: float
    source_size: tuple[int, int]


class EvidenceRecorder:
    """Writes one camera's downscaled frames and tracked boxes, segment by segment.

    Args:
        root: ``storage.root``.
        camera_id: the camera.
        width: long side of the recorded frames (never upscaled).
        fps: at most this many frames per second are written.
        segment_s: seconds per file.
        retention_days: segments whose end is older than this (data time) are deleted.
    """

    def __init__(
        self,
        root: str | Path,
        camera_id: str,
        *,
        width: int = 640,
        fps: float = 5.0,
        segment_s: float = 3600.0,
        retention_days: float = 7.0,
    ) -> None:
        if width <= 0 or fps <= 0 or segment_s <= 0 or retention_days <= 0:
            raise ValueError("width, fps, segment_s and retention_days must be > 0")
        self.folder = evidence_dir(root, camera_id)
        self.camera_id = camera_id
        self.width = width
        self.fps = fps
        self.segment_s = segment_s
        self.retention_s = retention_days * 86400.0
        self._writer: cv2.VideoWriter | None = None
        self._sidecar: IO[str] | None = None
        self._segment: float | None = None
        self._size: tuple[int, int] | None = None
        self._last_ts = -math.inf
        self.frames_written = 0

    @classmethod
    def from_config(cls, site: SiteConfig, camera_id: str) -> EvidenceRecorder:
        """From ``site.recording`` and ``storage.root``."""
        r = site.recording
        return cls(
            site.storage.root,
            camera_id,
            width=r.width,
            fps=r.fps,
            segment_s=r.segment_s,
            retention_days=r.retention_days,
        )

    def write(self, frame: Frame, tracked: Detections) -> bool:
        """Record a frame with its tracked boxes; returns False when skipped by the fps cap."""
        ts = float(frame.ts)
        if ts - self._last_ts < 1.0 / self.fps - 1e-3:
            return False
        h, w = frame.shape
        scale = min(1.0, self.width / max(h, w))
        size = (round(w * scale), round(h * scale))
        segment = math.floor(ts / self.segment_s) * self.segment_s
        if segment != self._segment or size != self._size:
            self._open(segment, size, scale, (w, h), ts)
        assert self._writer is not None and self._sidecar is not None
        img = (
            frame.image
            if scale == 1.0
            else cv2.resize(frame.image, size, interpolation=cv2.INTER_AREA)
        )
        self._writer.write(np.ascontiguousarray(img))
        ids = tracked.tracker_id if tracked.tracker_id is not None else np.full(len(tracked), -1)
        boxes = [
            [*(round(float(v) * scale, 1) for v in box), int(i)]
            for box, i in zip(tracked.xyxy, ids, strict=True)
        ]
        self._sidecar.write(json.dumps({"ts": ts, "boxes": boxes}) + "\n")
        self._last_ts = ts
        self.frames_written += 1
        return True

    def _open(
        self,
        segment: float,
        size: tuple[int, int],
        scale: float,
        source: tuple[int, int],
        ts: float,
    ) -> None:
        self.close()
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = datetime.fromtimestamp(segment, UTC).strftime("%Y%m%dT%H%M%S")
        video = self.folder / f"{stem}.mp4"
        n = 1
        while video.exists():  # a restart within the segment: a new part
            video = self.folder / f"{stem}-{n}.mp4"
            n += 1
        self._writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, size)
        if not self._writer.isOpened():
            raise OSError(f"cannot open evidence video {video} for writing")
        self._sidecar = video.with_suffix(".jsonl").open("w")
        header = {
            "camera": self.camera_id,
            "width": size[0],
            "height": size[1],
            "scale": scale,
            "source_size": list(source),
            "fps": self.fps,
            "segment_start": segment,
        }
        self._sidecar.write(json.dumps(header) + "\n")
        self._segment, self._size = segment, size
        self._purge(ts)

    def _purge(self, now: float) -> None:
        for side in self.folder.glob("*.jsonl"):
            try:
                start = json.loads(side.open().readline())["segment_start"]
            except (OSError, ValueError, KeyError):
                continue
            if now - (start + self.segment_s) > self.retention_s:
                side.unlink(missing_ok=True)
                side.with_suffix(".mp4").unlink(missing_ok=True)
                log.info("evidence: deleted %s (older than retention)", side.with_suffix(".mp4"))

    def close(self) -> None:
        """Finish the current segment (its MP4 is only complete after this)."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self._sidecar is not None:
            self._sidecar.close()
            self._sidecar = None
        self._segment = None


def segments(root: str | Path, camera_id: str) -> list[tuple[Path, dict]]:
    """A camera's (video, header) pairs, oldest first."""
    out = []
    for side in sorted(evidence_dir(root, camera_id).glob("*.jsonl")):
        video = side.with_suffix(".mp4")
        if not video.exists():
            continue
        try:
            header = json.loads(side.open().readline())
        except (OSError, ValueError):
            log.warning("evidence: unreadable sidecar %s", side)
            continue
        out.append((video, header))
    return out


def read_evidence(
    root: str | Path, camera_id: str, start_ts: float, end_ts: float
) -> Iterator[EvidenceFrame]:
    """The recorded frames of a camera with ``start_ts <= ts < end_ts``, in time order."""
    for video, header in segments(root, camera_id):
        seg = float(header.get("segment_start", -math.inf))
        if seg >= end_ts:
            continue
        lines = video.with_suffix(".jsonl").read_text().splitlines()[1:]
        rows = [json.loads(x) for x in lines if x.strip()]
        if not rows or rows[-1]["ts"] < start_ts:
            continue
        cap = cv2.VideoCapture(str(video))
        try:
            for row in rows:
                ok, img = cap.read()
                if not ok:
                    break
                if not (start_ts <= row["ts"] < end_ts):
                    continue
                b = np.asarray(row["boxes"], dtype=np.float32).reshape(-1, 5)
                yield EvidenceFrame(
                    camera_id=camera_id,
                    ts=float(row["ts"]),
                    image=img,
                    boxes=b[:, :4],
                    local_ids=b[:, 4].astype(np.int64),
                    scale=float(header["scale"]),
                    source_size=tuple(header["source_size"]),
                )
        finally:
            cap.release()
