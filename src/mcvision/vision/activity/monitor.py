"""Per camera: one window, classification tick and smoothed label per local track."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from mcvision.types import Detections, TrackletUpdate
from mcvision.vision.activity.classifiers import (
    ActivityClassifier,
    build_classifier,
    classifier_needs_keypoints,
)
from mcvision.vision.activity.features import Observation, Thresholds
from mcvision.vision.activity.rules import FallModel, RuleClassifier
from mcvision.vision.activity.smoothing import LabelSmoother

if TYPE_CHECKING:
    from mcvision.config import ActivityConfig

log = logging.getLogger(__name__)


class TrackActivity:
    """One track's history, classification ticks and smoothed label.

    The track keeps ``window_s`` of observations, or the classifier's ``history_s``
    when longer (a learned model reads seconds of keypoints); the classifier is
    given all of it. A classifier's ``immediate_labels`` (default ``fallen``) switch
    the smoothed label at once, its ``hold_labels`` (default: ``fallen`` holds through
    ``lying``) keep one (see :class:`LabelSmoother`).

    Args:
        classifier: labels a window.
        period_s: seconds between classifications.
        window_s: length of the window classified.
        min_label_s: smoothing (see :class:`LabelSmoother`).
    """

    def __init__(
        self,
        classifier: ActivityClassifier,
        *,
        period_s: float = 1.0,
        window_s: float = 1.0,
        min_label_s: float = 2.0,
    ) -> None:
        self.classifier = classifier
        self.period_s = period_s
        self.window_s = window_s
        self.history_s = max(window_s, float(getattr(classifier, "history_s", 0.0)))
        self.window: deque[Observation] = deque()
        extra = {
            k: v
            for k, v in (
                ("immediate", getattr(classifier, "immediate_labels", None)),
                ("holds", getattr(classifier, "hold_labels", None)),
            )
            if v is not None
        }
        self.smoother = LabelSmoother(min_s=min_label_s, period_s=period_s, **extra)
        self._first_ts: float | None = None
        self._last_tick: float | None = None
        self.raw: list[tuple[float, str]] = []

    @property
    def label(self) -> str | None:
        """The current smoothed label (None before the first classification)."""
        return self.smoother.label

    @property
    def onset(self) -> float | None:
        """When the current label's run started (see :class:`LabelSmoother`)."""
        return self.smoother.onset

    def add(self, obs: Observation) -> bool:
        """Add one observation; True when a classification is due now."""
        if self.window and obs.ts < self.window[-1].ts:
            return False  # out of order: ignore
        if self._first_ts is None:
            self._first_ts = obs.ts
        if obs.has_image and self.window and self.window[-1].has_image:
            # the newest image only
            self.window[-1] = replace(self.window[-1], crop=None, frame=None)
        self.window.append(obs)
        while self.window and obs.ts - self.window[0].ts > self.history_s + 1e-9:
            self.window.popleft()
        warm = obs.ts - self._first_ts >= 0.8 * self.window_s - 1e-9
        due = self._last_tick is None or obs.ts - self._last_tick >= self.period_s - 1e-9
        return warm and due

    def tick(self, raw: str) -> str:
        """Take the raw label of the newest observation's window; the smoothed label."""
        ts = self.window[-1].ts
        self.raw.append((ts, raw))
        self._last_tick = ts
        return self.smoother.update(ts, raw)

    def observe(self, obs: Observation) -> str | None:
        """Add one observation; classify when a tick is due; return the smoothed label."""
        if self.add(obs):
            self.tick(self.classifier.classify(list(self.window)))
        return self.label


def classify_all(
    classifier: ActivityClassifier, windows: Sequence[Sequence[Observation]]
) -> list[str]:
    """Labels of several tracks' windows: one batch when the classifier batches."""
    batch = getattr(classifier, "classify_batch", None)
    if batch is not None:
        return list(batch(windows)) if windows else []
    return [classifier.classify(w) for w in windows]


class ActivityMonitor:
    """Labels every tracked person of one camera, frame after frame.

    A fall is where a tracker loses people: the box changes from tall to wide within
    a second and the track often ends there, a new one starting on the floor. With
    ``succession_s`` set, a track seen for the first time takes over the history and
    label of a track last seen at most ``succession_s`` ago whose last box overlaps
    its box (or whose centre is within ``succession_dist`` of that box's height), so
    the classifier still sees the person upright before they were down. Off for the
    rules (they read one window); on (1.5 s) for classifiers reading longer histories.

    Args:
        classifier: the classifier (shared by all tracks).
        period_s, window_s, min_label_s: see :class:`TrackActivity`.
        succession_s: see above (None: off).
        succession_dist: see above, in box heights.

    Example:
        >>> import numpy as np
        >>> mon = ActivityMonitor(build_classifier("rules"))
        >>> dets = Detections(xyxy=np.array([[0, 0, 40, 100]]), tracker_id=np.array([7]))
        >>> [mon.update(t, dets)[7] for t in (0.0, 0.5, 1.0)]
        [None, None, 'standing']
    """

    def __init__(
        self,
        classifier: ActivityClassifier,
        *,
        period_s: float = 1.0,
        window_s: float = 1.0,
        min_label_s: float = 2.0,
        succession_s: float | None = None,
        succession_dist: float = 0.75,
    ) -> None:
        self.classifier = classifier
        self._kw = {"period_s": period_s, "window_s": window_s, "min_label_s": min_label_s}
        self.tracks: dict[int, TrackActivity] = {}
        self.succession_s = succession_s
        self.succession_dist = succession_dist
        self.successions = 0

    def _predecessor(self, ts: float, box: np.ndarray, live: set[int]) -> int | None:
        """A recently lost track whose last box is where ``box`` is now (see the class doc)."""
        from mcvision.vision.pose import box_iou

        best, best_score = None, 0.0
        for tid, st in self.tracks.items():
            if tid in live or not st.window:
                continue
            last = st.window[-1]
            if not 0 < ts - last.ts <= self.succession_s + 1e-9:  # type: ignore[operator]
                continue
            lb = np.asarray(last.box, np.float64)
            iou = float(box_iou(lb[None], np.asarray(box, np.float64)[None])[0, 0])
            h = max(float(lb[3] - lb[1]), 1.0)
            dist = float(np.hypot(*(((lb[:2] + lb[2:]) - (box[:2] + box[2:])) / 2))) / h
            score = 1.0 + iou if iou > 0 else (1.0 - dist if dist <= self.succession_dist else 0.0)
            if score > best_score:
                best, best_score = tid, score
        return best

    @classmethod
    def from_config(cls, cfg: ActivityConfig, *, keypoints: bool = False) -> ActivityMonitor:
        """From ``SiteConfig.activity``.

        ``keypoints``: whether the camera runs the pose model (``models.pose.enabled``;
        default False, the camera says so): without it a classifier that needs keypoints (the learned ones, ``hybrid``) is
        replaced by the rules, which is what it would fall back to anyway, and its
        weights are not loaded. With ``fall_model`` set, a :class:`FallModel` confirms
        the rules' ``fallen`` (in ``hybrid``: the rules' fallback without keypoints).

        Raises:
            ValueError: ``fall_model`` set with a classifier that has no rules in it.
            WeightsNotFound: the fall model's or a learned model's weights are nowhere.
        """
        name = cfg.classifier
        if not keypoints and classifier_needs_keypoints(name):
            log.info(
                "activity.classifier %r needs pose keypoints (models.pose.enabled is"
                " false): the rules label activity instead",
                name,
            )
            name = "rules"
        clf = build_classifier(name, Thresholds.from_config(cfg))
        if cfg.fall_model is not None:
            rules = clf if isinstance(clf, RuleClassifier) else getattr(clf, "rules", None)
            if not isinstance(rules, RuleClassifier):
                raise ValueError(
                    f"activity.fall_model confirms the rules' fallen label, but classifier"
                    f" {cfg.classifier!r} is not rule-based"
                )
            rules.fall_confirmer = FallModel.from_config(cfg)
        long = float(getattr(clf, "history_s", 0.0)) > cfg.window_s
        return cls(
            clf,
            period_s=cfg.period_s,
            window_s=cfg.window_s,
            min_label_s=cfg.min_label_s,
            succession_s=1.5 if long else None,
        )

    @property
    def needs_images(self) -> bool:
        """Whether :meth:`update` wants the frame (to cut person crops for the classifier)."""
        return bool(getattr(self.classifier, "needs_crops", False))

    def update(
        self,
        ts: float,
        tracked: Detections,
        zones: Sequence[tuple[str, ...]] | None = None,
        image: np.ndarray | None = None,
        frame_size: tuple[int, int] | None = None,
    ) -> dict[int, str | None]:
        """Observe one frame's tracked detections; returns ``local_id -> label``.

        The tracks due a classification are classified in one batch. ``image`` (the
        frame, BGR) gives the frame size (for models in frame coordinates; or pass
        ``frame_size``) and is kept only when the classifier asks for crops.
        """
        if tracked.tracker_id is None:
            raise ValueError("ActivityMonitor.update needs tracked detections (tracker_id)")
        frame = image if self.needs_images else None  # crops are cut only if a fall is in question
        size = (int(image.shape[1]), int(image.shape[0])) if image is not None else frame_size
        out: dict[int, str | None] = {}
        due: list[TrackActivity] = []
        for i, tid in enumerate(tracked.tracker_id.tolist()):
            kp = tracked.keypoints[i] if tracked.keypoints is not None else None
            if kp is not None and not np.any(kp[:, 2] > 0):
                kp = None
            obs = Observation(
                ts=ts,
                box=tracked.xyxy[i],
                keypoints=kp,
                zones=tuple(zones[i]) if zones is not None else (),
                frame=frame,
                frame_size=size,
            )
            st = self.tracks.get(tid)
            if st is None and self.succession_s:
                prev = self._predecessor(ts, tracked.xyxy[i], set(tracked.tracker_id.tolist()))
                if prev is not None:
                    st = self.tracks[tid] = self.tracks.pop(prev)
                    self.successions += 1
            if st is None:
                st = self.tracks[tid] = TrackActivity(self.classifier, **self._kw)
            if st.add(obs):
                due.append(st)
        for st, raw in zip(
            due, classify_all(self.classifier, [list(st.window) for st in due]), strict=True
        ):
            st.tick(raw)
        for tid in tracked.tracker_id.tolist():
            out[tid] = self.tracks[tid].label
        return out

    def label_updates(
        self,
        ts: float,
        updates: Sequence[TrackletUpdate],
        tracked: Detections,
        image: np.ndarray | None = None,
    ) -> None:
        """Observe a frame at ``ts`` and set ``activity`` on its (non-ended) updates.

        ``image``: the frame, for classifiers that look at crops (see :meth:`update`).
        """
        zones_by_id = {u.local_id: u.zones for u in updates if not u.ended}
        ids = tracked.tracker_id.tolist() if tracked.tracker_id is not None else []
        size = next((u.frame_size for u in updates if u.frame_size is not None), None)
        labels = (
            self.update(
                ts, tracked, [zones_by_id.get(t, ()) for t in ids], image=image, frame_size=size
            )
            if len(tracked)
            else {}
        )
        for u in updates:
            if u.ended:
                self.forget(u.local_id)
            elif u.local_id in labels:
                u.activity = labels[u.local_id]
                st = self.tracks.get(u.local_id)
                u.activity_since = st.onset if st is not None and u.activity else None

    def forget(self, local_id: int) -> None:
        """Drop an ended track."""
        self.tracks.pop(int(local_id), None)
