"""The per-camera logic between the detector and the identity core.

:class:`CameraPipeline` takes a frame and its person detections, runs the
camera's tracker, finds the zones each foot point is in and the entrance lines
crossed, and decides which tracks need a ReID embedding now — on each of a
track's first ``identity.embed_first_frames`` frames, then every
``identity.embed_every_frames`` frames, or when a clearly better crop turns up.
ReID runs per track, not per frame: everything else in a step is cheap, so the
caller batches the crops of many frames (and cameras) into one embedder call
and hands the embeddings back with :meth:`CameraStep.attach`.

No Ray and no models here: the camera actor wires this to the Serve
deployments; tests drive it with real detections or scripted boxes.

Example:
    >>> pipe = CameraPipeline(site.cameras[0], site)                # doctest: +SKIP
    >>> step = pipe.step(frame, detections)                         # doctest: +SKIP
    >>> crops = step.crops(frame.image)                             # doctest: +SKIP
    >>> updates = step.attach(embedder.embed(crops))                # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mcvision.capture.gating import inside_roi, roi_pixels
from mcvision.config import CameraConfig, SiteConfig
from mcvision.tracking.tracker import Tracker
from mcvision.tracking.zones import LineCrossingDetector, ZoneMap
from mcvision.types import Detections, Frame, TrackletUpdate
from mcvision.vision.crops import crop_boxes, crop_qualities

#: A crop must beat the track's best embedded crop by this factor to be re-embedded early.
BETTER_CROP_FACTOR = 1.25


@dataclass
class _TrackState:
    first_frame: int
    last_embed_frame: int | None = None
    best_quality: float = 0.0
    frames: int = 0


@dataclass
class CameraStep:
    """The outcome of one frame: updates, and which of them still need an embedding.

    Attributes:
        updates: one :class:`TrackletUpdate` per tracked person, plus ``ended`` ones.
        tracked: the tracked detections of the frame (``tracker_id`` set).
        due: indices into ``tracked`` (and ``updates``) whose crops should be embedded.
    """

    updates: list[TrackletUpdate]
    tracked: Detections
    due: list[int] = field(default_factory=list)

    def due_detections(self) -> Detections:
        """The tracked detections that need an embedding."""
        return self.tracked[np.asarray(self.due, dtype=np.int64)]

    def crops(self, image: np.ndarray, masks: np.ndarray | None = None) -> list[np.ndarray]:
        """Crops of the due tracks (masked when ``masks`` for those tracks are given)."""
        if not self.due:
            return []
        return crop_boxes(image, self.due_detections().xyxy, masks=masks)

    def attach(self, embeddings: np.ndarray | None) -> list[TrackletUpdate]:
        """Put the embeddings of the due tracks into their updates and return all updates."""
        if embeddings is not None and len(self.due):
            if len(embeddings) != len(self.due):
                raise ValueError(f"{len(embeddings)} embeddings for {len(self.due)} due tracks")
            for i, emb in zip(self.due, embeddings, strict=True):
                self.updates[i].embedding = np.asarray(emb, dtype=np.float32)
        return self.updates


class CameraPipeline:
    """Tracking, zones, lines and ReID scheduling for one camera.

    Args:
        camera: the camera's config (zones, lines, fps).
        site: the site config (tracker and identity settings).
        tracker: an injected tracker (defaults to the configured Ultralytics one).
    """

    def __init__(self, camera: CameraConfig, site: SiteConfig, tracker: Tracker | None = None):
        self.camera = camera
        self.site = site
        self.tracker = tracker or Tracker(site.models.tracker, fps=camera.fps)
        self.every = site.identity.embed_every_frames
        self.first = site.identity.embed_first_frames
        self._frame_size: tuple[int, int] | None = None
        self._zones: ZoneMap | None = None
        self._lines: LineCrossingDetector | None = None
        self._tracks: dict[int, _TrackState] = {}
        self._roi: np.ndarray | None = None
        self.frames = 0
        self.outside_roi = 0  # detections dropped because their foot is outside the ROI

    @property
    def track_state(self) -> str:
        """``"tracked"`` (a track matched in the last frame), ``"lost"`` (only lost tracks
        are kept) or ``"none"``."""
        tracking = getattr(self.tracker, "tracking", None)
        if tracking is None:  # a tracker without the query: assume someone is there
            return "tracked" if self._tracks else "none"
        if tracking():
            return "tracked"
        return "lost" if self.tracker.alive() else "none"

    def _geometry(self, width: int, height: int) -> None:
        if self._frame_size == (width, height):
            return
        self._frame_size = (width, height)
        self._zones = ZoneMap(self.camera, (width, height))
        self._lines = LineCrossingDetector(self.camera.lines, (width, height))
        if self.camera.roi is not None:
            self._roi = roi_pixels(self.camera.roi, (width, height))

    def in_roi(self, detections: Detections) -> Detections:
        """The detections whose foot point lies in the camera's ROI (all when it has none)."""
        if self._roi is None or not len(detections):
            return detections
        keep = inside_roi(detections.foot_points, self._roi)
        self.outside_roi += int((~keep).sum())
        return detections if keep.all() else detections[np.flatnonzero(keep)]

    def step(self, frame: Frame, detections: Detections) -> CameraStep:
        """Track one frame's detections and build its updates (embeddings still missing)."""
        h, w = frame.shape
        self._geometry(w, h)
        assert self._zones is not None and self._lines is not None
        self.frames += 1
        tracked = self.tracker.update(self.in_roi(detections), frame.image)
        assert tracked.confidence is not None  # Detections fills it in
        n = len(tracked)
        ids = tracked.tracker_id if tracked.tracker_id is not None else np.zeros(0, np.int64)
        feet = tracked.foot_points
        zones = self._zones.zones_at(feet) if n else []
        quality = crop_qualities(tracked.xyxy, (h, w), tracked.confidence) if n else np.zeros(0)
        updates: list[TrackletUpdate] = []
        due: list[int] = []
        for i in range(n):
            tid = int(ids[i])
            st = self._tracks.get(tid)
            if st is None:
                st = self._tracks[tid] = _TrackState(first_frame=frame.index)
            st.frames += 1
            q = float(quality[i])
            crossings = self._lines.update(tid, feet[i])
            updates.append(
                TrackletUpdate(
                    camera_id=self.camera.id,
                    local_id=tid,
                    ts=frame.ts,
                    box=tracked.xyxy[i].copy(),
                    foot=feet[i].copy(),
                    confidence=float(tracked.confidence[i]),
                    quality=q,
                    zones=tuple(zones[i]),
                    crossings=tuple(crossings),
                    frame_size=(w, h),
                )
            )
            if self._due(st, q):
                due.append(i)
                st.last_embed_frame = st.frames
                st.best_quality = max(st.best_quality, q)
        for tid in self.tracker.ended_ids():
            self._tracks.pop(tid, None)
            self._lines.forget(tid)
            updates.append(
                TrackletUpdate(
                    camera_id=self.camera.id,
                    local_id=int(tid),
                    ts=frame.ts,
                    box=np.zeros(4, np.float32),
                    foot=np.zeros(2, np.float32),
                    ended=True,
                    frame_size=(w, h),
                )
            )
        return CameraStep(updates=updates, tracked=tracked, due=due)

    def _due(self, st: _TrackState, quality: float) -> bool:
        if quality <= 0:
            return False
        if st.last_embed_frame is None or st.frames <= self.first:
            return True
        if st.frames - st.last_embed_frame >= self.every:
            return True
        return quality >= st.best_quality * BETTER_CROP_FACTOR

    def finish(self, ts: float) -> list[TrackletUpdate]:
        """End every live track (source ended): ``ended`` updates at ``ts``."""
        out = [
            TrackletUpdate(
                camera_id=self.camera.id,
                local_id=tid,
                ts=ts,
                box=np.zeros(4, np.float32),
                foot=np.zeros(2, np.float32),
                ended=True,
                frame_size=self._frame_size,
            )
            for tid in self._tracks
        ]
        self._tracks.clear()
        return out
