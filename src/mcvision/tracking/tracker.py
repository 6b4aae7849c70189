"""Per-camera multi-object tracking over Ultralytics' ByteTrack / BoT-SORT.

The trackers are fed with *our* :class:`~mcvision.types.Detections` (so
detection can be batched across cameras, and masks / embeddings ride along):
a small adapter gives them the results-like object they read (``xyxy``,
``xywh``, ``conf``, ``cls``, boolean indexing).

Only confirmed tracks are reported. A track that the tracker drops (lost for
longer than ``track_buffer`` frames) is reported once by :meth:`Tracker.ended_ids`
after the update that dropped it, so the camera can emit ``ended=True``.

Example:
    >>> import numpy as np
    >>> from mcvision.config import TrackerConfig
    >>> from mcvision.types import Detections
    >>> t = Tracker(TrackerConfig(), fps=10)
    >>> box = Detections(xyxy=np.array([[10, 10, 50, 120]]), confidence=np.array([0.9]))
    >>> [t.update(box).tracker_id.tolist() for _ in range(3)]
    [[1], [1], [1]]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mcvision.config import TrackerConfig
from mcvision.types import Detections


class _Boxes:
    """The results-like view of :class:`Detections` that Ultralytics trackers read."""

    def __init__(self, xyxy: np.ndarray, conf: np.ndarray, cls: np.ndarray) -> None:
        self.xyxy = xyxy
        self.conf = conf
        self.cls = cls

    @classmethod
    def of(cls, dets: Detections) -> _Boxes:
        return cls(
            dets.xyxy.astype(np.float32),
            np.asarray(dets.confidence, dtype=np.float32),
            np.asarray(dets.class_id, dtype=np.float32),
        )

    @property
    def xywh(self) -> np.ndarray:
        """Centre x, centre y, width, height."""
        wh = self.xyxy[:, 2:] - self.xyxy[:, :2]
        return np.concatenate([self.xyxy[:, :2] + wh / 2, wh], axis=1)

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: Any) -> _Boxes:
        return _Boxes(self.xyxy[index], self.conf[index], self.cls[index])


def _args(cfg: TrackerConfig) -> Any:
    from ultralytics.utils import YAML, IterableSimpleNamespace
    from ultralytics.utils.checks import check_yaml

    args = dict(YAML.load(check_yaml(f"{cfg.type}.yaml")))
    args.update(
        track_buffer=cfg.track_buffer,
        match_thresh=cfg.match_thresh,
        track_high_thresh=cfg.track_high_thresh,
        track_low_thresh=cfg.track_low_thresh,
        new_track_thresh=cfg.new_track_thresh,
    )
    if cfg.type == "botsort":
        # static cameras: no camera-motion compensation unless asked for
        args.update(gmc_method="sparseOptFlow" if cfg.gmc else "none", with_reid=False)
    return IterableSimpleNamespace(**args)


def _bytetrack(cfg: TrackerConfig) -> Any:
    from ultralytics.trackers import BYTETracker

    return BYTETracker(_args(cfg))


def _botsort(cfg: TrackerConfig) -> Any:
    from ultralytics.trackers import BOTSORT

    return BOTSORT(_args(cfg))


#: Tracker type (``TrackerConfig.type``) → factory of the Ultralytics tracker.
TRACKERS: dict[str, Callable[[TrackerConfig], Any]] = {
    "bytetrack": _bytetrack,
    "botsort": _botsort,
}


class Tracker:
    """One camera's tracker: detections in, detections with ``tracker_id`` out.

    Args:
        cfg: ``SiteConfig.models.tracker`` (type, track_buffer in frames, match_thresh, gmc).
        fps: the rate at which frames are fed (the camera's sampling fps); it turns
            ``track_buffer`` frames into :attr:`max_lost_s` seconds.

    Example:
        >>> from mcvision.config import TrackerConfig
        >>> tracker = Tracker(TrackerConfig(type="botsort"), fps=5)
        >>> tracker.max_lost_s
        2.0
    """

    def __init__(self, cfg: TrackerConfig | None = None, fps: float = 10.0) -> None:
        cfg = cfg or TrackerConfig()
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        if cfg.type not in TRACKERS:
            raise ValueError(f"unknown tracker type {cfg.type!r}; known: {sorted(TRACKERS)}")
        self.cfg = cfg
        self.fps = float(fps)
        self._impl = TRACKERS[cfg.type](cfg)
        self._reported: set[int] = set()  # confirmed tracks ever returned, not yet ended
        self._ended: tuple[int, ...] = ()
        self.frames = 0

    @property
    def max_lost_s(self) -> float:
        """Seconds a lost track is kept before it ends."""
        return self.cfg.track_buffer / self.fps

    def update(self, dets: Detections, frame: np.ndarray | None = None) -> Detections:
        """Feed one frame's detections; get the confirmed tracks' rows back.

        Args:
            dets: this frame's detections (boxes in frame pixels).
            frame: the BGR frame; only BoT-SORT with ``gmc`` uses it.

        Returns:
            The rows of ``dets`` that belong to confirmed tracks, with ``tracker_id`` set
            (the detector's boxes and any masks / keypoints / embeddings are kept).
        """
        if not isinstance(dets, Detections):
            raise TypeError(f"update() takes Detections, got {type(dets).__name__}")
        self.frames += 1
        out = self._impl.update(_Boxes.of(dets), frame)
        removed = getattr(self._impl, "removed_stracks_frame", [])
        ended = [int(t.track_id) for t in removed if int(t.track_id) in self._reported]
        self._reported.difference_update(ended)
        self._ended = tuple(sorted(ended))
        if len(out) == 0:
            return dets[np.zeros(0, dtype=np.int64)].with_fields(
                tracker_id=np.zeros(0, dtype=np.int64)
            )
        out = np.asarray(out)
        idx = out[:, -1].astype(np.int64)
        ids = out[:, 4].astype(np.int64)
        order = np.argsort(idx, kind="stable")  # keep the detections' own order
        self._reported.update(ids.tolist())
        return dets[idx[order]].with_fields(tracker_id=ids[order])

    def ended_ids(self) -> tuple[int, ...]:
        """Confirmed tracks dropped by the last :meth:`update` (no more rows will come)."""
        return self._ended

    def lost_ids(self) -> tuple[int, ...]:
        """Confirmed tracks currently lost (not seen now, still kept for re-finding)."""
        return tuple(
            sorted(
                int(t.track_id)
                for t in self._impl.lost_stracks
                if int(t.track_id) in self._reported
            )
        )

    def alive(self) -> bool:
        """Whether the tracker holds any track (tracked, tentative or lost).

        While it does, every frame must reach it: a skipped frame would age or lose
        those tracks differently than the stream does.
        """
        return bool(self._impl.tracked_stracks or self._impl.lost_stracks)

    def tracking(self) -> bool:
        """Whether any track (confirmed or tentative) matched a detection in the last update."""
        return bool(self._impl.tracked_stracks)

    def active_ids(self) -> tuple[int, ...]:
        """Confirmed tracks not yet ended (tracked now or lost)."""
        return tuple(sorted(self._reported))

    def finish(self) -> tuple[int, ...]:
        """End every remaining track (end of stream); returns their IDs and resets."""
        ended = self.active_ids()
        self.reset()
        return ended

    def reset(self) -> None:
        """Forget every track; IDs start again at 1."""
        self._impl.reset()
        self._reported.clear()
        self._ended = ()
        self.frames = 0


__all__ = ["TRACKERS", "Tracker"]
