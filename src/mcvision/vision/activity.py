"""Human activity per track and second: rules over motion and pose, behind a registry.

Labels (:class:`Activity`): ``walking``, ``standing``, ``browsing``, ``sitting``,
``bending`` and ``fallen``. Each track is classified once per ``period_s`` (1 s)
from a window of its last ``window_s`` of observations (box, foot point, COCO-17
keypoints when pose runs, zones):

- **speed**: the foot point's image velocity over the window (a robust Theil–Sen fit
  of x and y over time) divided by the median box height, in *body heights per
  second*, so it does not depend on how far the person is from the camera (a walk
  across the view is ~0.6–1 h/s);
- **depth rate**: ``|d ln(h)/dt|`` of the box height ``h`` (Theil–Sen slope of
  ``ln h`` over the window), per second: a person walking towards or away from the
  camera barely moves the foot point but grows or shrinks (1.4 m/s from 5 m:
  ~0.28/s); box jitter of a standing person stays below ~0.05/s;
- **motion**: both combined, ``hypot(speed / walk_speed, depth rate /
  walk_depth_rate)``, in units of the walking thresholds (1 is the boundary);
- **torso angle**: the hip-centre → shoulder-centre vector against image-up, in
  degrees (0 upright, 90 lying);
- **thigh angle**: hip → knee against image-down (0 standing legs, ~90 seated);
- **arm motion**: spread of the wrists relative to the shoulder centre over the
  window, in box heights; **reach**: a wrist raised to shoulder height or held
  out sideways.

The rule classifier (:class:`RuleClassifier`, registered as ``"rules"``) decides,
first match wins: ``fallen`` (torso ≥ ``fallen_torso_deg``, or a box lying on its
side ``w/h ≥ fallen_aspect`` without an upright torso), ``walking`` (motion ≥ 1),
``sitting`` (upright torso, thighs ≥ ``sit_thigh_deg``),
``bending`` (torso ≥ ``bend_torso_deg``), ``browsing`` (in a zone, with arm
motion ≥ ``arm_motion`` or a reach), else ``standing``. Without keypoints only
``walking``, ``standing`` and the box-shape ``fallen`` are possible.

A fall confirmer (:class:`FallConfirmer`; :class:`FallModel`, a YOLO ``Normal``/
``Fall`` detector on the person crop, set by ``activity.fall_model``) can veto the
``fallen`` rule: a window it does not confirm goes on down the rules (``bending``,
``standing``, ...). It needs the frames: :meth:`ActivityMonitor.update` keeps its
``image`` argument on the newest observation when the classifier asks
(``needs_crops``), and the person crop is cut only when the rules say ``fallen``.

Smoothing (:class:`LabelSmoother`): a new label replaces the current one only
after it was the raw label for ``min_label_s`` (2 s) of consecutive ticks, so no
smoothed label lasts less than that — except ``fallen``, which switches at once
(and so may cut the label before it short).

Per camera, :class:`ActivityMonitor` keeps one :class:`TrackActivity` per local
track and labels every update. Per person, :class:`ActivityBook` turns the
labelled sightings into :class:`~mcvision.types.ActivityInterval` records (one
per visit, zone and label run) and an ``alert`` event when a ``fallen`` interval
opens; :class:`AlertWebhook` POSTs such alerts to a URL.

A learned model replaces the rules by registering a factory under a new name
(:func:`register_classifier`) and naming it in ``activity.classifier``.

Example:
    >>> import numpy as np
    >>> clf = build_classifier("rules")
    >>> walk = [Observation(ts=t, box=np.array([100 + 80 * t, 0, 140 + 80 * t, 100]))
    ...         for t in np.arange(0, 1.01, 0.2)]
    >>> clf.classify(walk)
    'walking'
    >>> clf.classify([Observation(ts=t, box=np.array([100, 0, 140, 100])) for t in (0, 0.5, 1)])
    'standing'
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from scipy.stats import theilslopes

from mcvision.types import (
    ActivityInterval,
    Detections,
    Event,
    EventKind,
    TrackletUpdate,
    stable_id,
)

if TYPE_CHECKING:
    from mcvision.config import ActivityConfig

log = logging.getLogger(__name__)

__all__ = [
    "Activity",
    "ActivityBook",
    "ActivityClassifier",
    "ActivityMonitor",
    "AlertWebhook",
    "FallConfirmer",
    "FallModel",
    "LabelSmoother",
    "Observation",
    "RuleClassifier",
    "Thresholds",
    "TrackActivity",
    "available_classifiers",
    "build_classifier",
    "crop_person",
    "depth_rate",
    "motion",
    "register_classifier",
    "smooth_labels",
    "speed",
]


class Activity(StrEnum):
    """The activity labels."""

    WALKING = "walking"
    STANDING = "standing"
    BROWSING = "browsing"
    SITTING = "sitting"
    BENDING = "bending"
    FALLEN = "fallen"


# COCO-17 keypoint indices
_SHOULDERS = (5, 6)
_WRISTS = (9, 10)
_HIPS = (11, 12)
_KNEES = (13, 14)


@dataclass(frozen=True)
class Thresholds:
    """Rule thresholds (see the module doc).

    ``walk_speed`` in box heights per second, ``walk_depth_rate`` in ``|d ln h/dt|``
    per second, angles in degrees, arm motion and reach in box heights.
    """

    walk_speed: float = 0.25
    walk_depth_rate: float = 0.2
    fallen_torso_deg: float = 60.0
    bend_torso_deg: float = 35.0
    sit_thigh_deg: float = 50.0
    arm_motion: float = 0.03
    reach_side: float = 0.25
    fallen_aspect: float = 1.3
    kp_conf: float = 0.3

    @classmethod
    def from_config(cls, cfg: ActivityConfig | None) -> Thresholds:
        """From ``SiteConfig.activity.thresholds`` (defaults when None)."""
        if cfg is None:
            return cls()
        return cls(**cfg.thresholds.model_dump())


@dataclass(frozen=True)
class Observation:
    """One frame of one track.

    Attributes:
        ts: epoch seconds.
        box: (4,) xyxy pixels.
        keypoints: (17, 3) ``x, y, score`` or None without pose.
        zones: zones the foot point is in.
        frame: the whole BGR frame (a reference, not a copy), only when the classifier
            asks for images (``needs_crops``, e.g. a fall model confirming ``fallen``);
            a track keeps it on its newest observation only. The person crop is cut
            from it on demand (:meth:`person_crop`), i.e. only when a fall is in question.
        crop: a person crop given directly (instead of ``frame``).
    """

    ts: float
    box: np.ndarray
    keypoints: np.ndarray | None = None
    zones: tuple[str, ...] = ()
    crop: np.ndarray | None = None
    frame: np.ndarray | None = None

    @property
    def has_image(self) -> bool:
        return self.crop is not None or self.frame is not None

    def person_crop(self) -> np.ndarray | None:
        """The given crop, else the box (padded) cut from ``frame``; None without either."""
        if self.crop is not None:
            return self.crop
        if self.frame is None:
            return None
        return crop_person(self.frame, np.asarray(self.box, np.float32)[None])[0]


class ActivityClassifier(Protocol):
    """Anything that labels a window of one track's observations (oldest first)."""

    def classify(self, window: Sequence[Observation]) -> str: ...


_REGISTRY: dict[str, Callable[[Thresholds], ActivityClassifier]] = {}


def register_classifier(
    name: str,
) -> Callable[[Callable[[Thresholds], ActivityClassifier]], Callable[[Thresholds], ActivityClassifier]]:
    """Register a classifier factory ``(Thresholds) -> ActivityClassifier`` under ``name``.

    Example:
        >>> @register_classifier("always-standing")
        ... class Still:
        ...     def __init__(self, th): pass
        ...     def classify(self, window): return "standing"
        >>> build_classifier("always-standing").classify([])
        'standing'
    """

    def deco(
        factory: Callable[[Thresholds], ActivityClassifier],
    ) -> Callable[[Thresholds], ActivityClassifier]:
        _REGISTRY[name] = factory
        return factory

    return deco


def available_classifiers() -> list[str]:
    """Names accepted by :func:`build_classifier`."""
    return sorted(_REGISTRY)


def build_classifier(name: str = "rules", thresholds: Thresholds | None = None) -> ActivityClassifier:
    """The classifier registered as ``name``.

    Raises:
        ValueError: no classifier of that name (the message lists the known ones).
    """
    if name not in _REGISTRY:
        raise ValueError(
            f"unknown activity classifier {name!r} (known: {', '.join(available_classifiers())})"
        )
    return _REGISTRY[name](thresholds or Thresholds())


# ---- geometry ------------------------------------------------------------------
def _mean_point(kp: np.ndarray, idx: tuple[int, ...], conf: float) -> np.ndarray | None:
    pts = [kp[i, :2] for i in idx if kp[i, 2] >= conf]
    return np.mean(pts, axis=0) if pts else None


def torso_angle(kp: np.ndarray, conf: float = 0.3) -> float | None:
    """Degrees between hip-centre → shoulder-centre and image-up (0 upright, 90 lying).

    Example:
        >>> kp = np.zeros((17, 3)); kp[:, 2] = 1
        >>> kp[[5, 6], :2] = [[0, 0], [10, 0]]; kp[[11, 12], :2] = [[0, 50], [10, 50]]
        >>> round(torso_angle(kp))
        0
    """
    s = _mean_point(kp, _SHOULDERS, conf)
    h = _mean_point(kp, _HIPS, conf)
    if s is None or h is None:
        return None
    dx, dy = s - h
    if math.hypot(dx, dy) < 1e-6:
        return None
    return math.degrees(math.atan2(abs(dx), -dy))


def thigh_angle(kp: np.ndarray, conf: float = 0.3) -> float | None:
    """Degrees between hip → knee and image-down (0 straight legs, ~90 seated), mean of sides."""
    angles = []
    for hip, knee in zip(_HIPS, _KNEES, strict=True):
        if kp[hip, 2] >= conf and kp[knee, 2] >= conf:
            dx, dy = kp[knee, :2] - kp[hip, :2]
            if math.hypot(dx, dy) > 1e-6:
                angles.append(math.degrees(math.atan2(abs(dx), dy)))
    return float(np.mean(angles)) if angles else None


def _height(box: np.ndarray) -> float:
    return float(max(box[3] - box[1], 1.0))


def _slope(ts: np.ndarray, values: np.ndarray) -> float:
    """Robust slope of ``values`` over ``ts``: Theil–Sen (median of pairwise slopes)."""
    if len(ts) < 3:
        dt = float(ts[-1] - ts[0])
        return float((values[-1] - values[0]) / dt) if dt > 1e-6 else 0.0
    return float(theilslopes(values, ts).slope)


def _span_ok(window: Sequence[Observation]) -> bool:
    return len(window) >= 2 and window[-1].ts - window[0].ts > 1e-6


def speed(window: Sequence[Observation]) -> float:
    """Image-plane foot-point speed in median box heights per second (0 if too short).

    The foot's x and y velocities are robust (Theil–Sen) fits over the window, so one
    jittery box at either end does not make a standing person move.
    """
    if not _span_ok(window):
        return 0.0
    ts = np.array([o.ts for o in window], np.float64)
    ts -= ts[0]
    fx = np.array([(o.box[0] + o.box[2]) / 2 for o in window], np.float64)
    fy = np.array([o.box[3] for o in window], np.float64)
    h = float(np.median([_height(o.box) for o in window]))
    return float(math.hypot(_slope(ts, fx), _slope(ts, fy)) / h)


def depth_rate(window: Sequence[Observation]) -> float:
    """Rate of change of the box height, ``|d ln(h) / dt|`` per second (0 if too short).

    A person walking towards or away from the camera barely moves the foot point but
    grows or shrinks: at 1.4 m/s from 5 m away ``ln h`` changes by ~0.28 per second.
    The slope is a robust (Theil–Sen) fit of ``ln h`` over the window's times, not the
    ratio of its end boxes, so box jitter of a standing person stays near 0.

    Example:
        >>> grow = [Observation(ts=t, box=np.array([0, 0, 40, 100 * math.exp(0.3 * t)]))
        ...         for t in np.arange(0, 1.01, 0.2)]
        >>> round(depth_rate(grow), 3)
        0.3
    """
    if not _span_ok(window):
        return 0.0
    ts = np.array([o.ts for o in window], np.float64)
    ts -= ts[0]
    lnh = np.log([_height(o.box) for o in window])
    return abs(_slope(ts, lnh))


def motion(window: Sequence[Observation], th: Thresholds) -> float:
    """Image-plane speed and depth rate combined, in units of their walking thresholds.

    ``hypot(speed / walk_speed, depth_rate / walk_depth_rate)``: 1 is the walking
    boundary, reached by sideways motion alone, by motion towards/away from the camera
    alone, or by a diagonal mix of both.
    """
    return math.hypot(speed(window) / th.walk_speed, depth_rate(window) / th.walk_depth_rate)


def arm_motion(window: Sequence[Observation], conf: float = 0.3) -> float:
    """Largest std (over the window) of a wrist relative to the shoulder centre, in box heights."""
    spreads = []
    for w in _WRISTS:
        rel = []
        for o in window:
            if o.keypoints is None or o.keypoints[w, 2] < conf:
                continue
            s = _mean_point(o.keypoints, _SHOULDERS, conf)
            if s is not None:
                rel.append((o.keypoints[w, :2] - s) / _height(o.box))
        if len(rel) >= 3:
            spreads.append(float(np.linalg.norm(np.std(rel, axis=0))))
    return max(spreads, default=0.0)


def reaching(obs: Observation, th: Thresholds) -> bool:
    """A wrist at or above shoulder height, or held out sideways ≥ ``reach_side`` heights."""
    kp = obs.keypoints
    if kp is None:
        return False
    h = _height(obs.box)
    for w, s in zip(_WRISTS, _SHOULDERS, strict=True):
        if kp[w, 2] < th.kp_conf or kp[s, 2] < th.kp_conf:
            continue
        if kp[w, 1] <= kp[s, 1] or abs(kp[w, 0] - kp[s, 0]) >= th.reach_side * h:
            return True
    return False


def crop_person(image: np.ndarray, xyxy: np.ndarray, pad: float = 0.15) -> list[np.ndarray]:
    """Person crops for a fall model: each box padded by ``pad`` of its size, clipped."""
    from mcvision.vision.crops import crop_boxes

    return crop_boxes(image, xyxy, pad=pad)


@register_classifier("rules")
class RuleClassifier:
    """Geometric rules over motion and pose (see the module doc for the order).

    Example:
        >>> import numpy as np
        >>> lying = [Observation(ts=t, box=np.array([0, 80, 200, 140])) for t in (0, 0.5, 1)]
        >>> RuleClassifier().classify(lying)
        'fallen'
    """

    def __init__(
        self, thresholds: Thresholds | None = None, fall_confirmer: FallConfirmer | None = None
    ) -> None:
        self.th = thresholds or Thresholds()
        self.fall_confirmer = fall_confirmer

    @property
    def needs_crops(self) -> bool:
        """Whether observations should carry person crops (a fall confirmer looks at them)."""
        return self.fall_confirmer is not None

    def _fallen(self, window: Sequence[Observation]) -> bool:
        """The confirmer's verdict on a rule-``fallen`` window (True without a confirmer)."""
        return self.fall_confirmer is None or self.fall_confirmer.confirm(window)

    def _median(self, values: list[float | None]) -> float | None:
        vals = [v for v in values if v is not None]
        return float(np.median(vals)) if vals else None

    def classify(self, window: Sequence[Observation]) -> str:
        if not window:
            raise ValueError("classify: the window holds no observations")
        th = self.th
        kps = [o.keypoints for o in window if o.keypoints is not None]
        torso = self._median([torso_angle(k, th.kp_conf) for k in kps])
        thigh = self._median([thigh_angle(k, th.kp_conf) for k in kps])
        last = window[-1]
        w = float(last.box[2] - last.box[0])
        aspect = w / _height(last.box)
        lying = (torso is not None and torso >= th.fallen_torso_deg) or (
            aspect >= th.fallen_aspect and (torso is None or torso >= th.bend_torso_deg)
        )
        if lying and self._fallen(window):
            return Activity.FALLEN.value
        if motion(window, th) >= 1.0:
            return Activity.WALKING.value
        if torso is not None and torso < th.bend_torso_deg and thigh is not None and (
            thigh >= th.sit_thigh_deg
        ):
            return Activity.SITTING.value
        if torso is not None and torso >= th.bend_torso_deg:
            return Activity.BENDING.value
        if last.zones and (
            arm_motion(window, th.kp_conf) >= th.arm_motion or reaching(last, th)
        ):
            return Activity.BROWSING.value
        return Activity.STANDING.value


# ---- fall confirmation ---------------------------------------------------------
class FallConfirmer(Protocol):
    """Second opinion on a window the rules call ``fallen``: True keeps the label."""

    def confirm(self, window: Sequence[Observation]) -> bool: ...


class FallModel:
    """A YOLO ``Normal``/``Fall`` person detector confirming the rules' ``fallen``.

    Run on the padded person crop of the window's newest observation that has one;
    the fall is confirmed when the model finds a ``Fall`` box with confidence ≥
    ``conf``. Without any crop in the window (the camera passes no images) there is
    nothing to look at: the rule's label stands (a warning is logged once), so a
    missing image never hides a fall.

    The weights are resolved at once (a wrong name fails fast); the model is loaded on
    the first confirmation, so a site where nobody falls never pays for it.

    Args:
        weights: reference resolved by :func:`mcvision.vision.weights.resolve`.
        conf: smallest ``Fall`` confidence that confirms.
        imgsz: inference size of the crop.
        device: "cpu", "cuda:0", ...

    Example:
        >>> fm = FallModel("fall_yolov8_normal_fall.pt")  # doctest: +SKIP
        >>> fm.scores([crop, cv2.rotate(crop, cv2.ROTATE_90_CLOCKWISE)])  # doctest: +SKIP
        [0.0, 0.78]
    """

    CLASSES = ("Normal", "Fall")

    def __init__(
        self,
        weights: str = "fall_yolov8_normal_fall.pt",
        conf: float = 0.5,
        imgsz: int = 640,
        device: str = "cpu",
    ) -> None:
        from mcvision.vision.weights import resolve

        if not 0 < conf <= 1:
            raise ValueError(f"fall model conf must be in (0, 1], got {conf}")
        self.path = resolve(weights)
        self.conf = conf
        self.imgsz = imgsz
        self.device = device
        self._model: Any = None
        self._warned = False
        self.calls = 0

    @classmethod
    def from_config(cls, cfg: ActivityConfig) -> FallModel:
        """From ``SiteConfig.activity`` (``fall_model``, ``fall_conf``)."""
        if cfg.fall_model is None:
            raise ValueError("activity.fall_model is not set")
        return cls(cfg.fall_model, conf=cfg.fall_conf)

    def _yolo(self) -> Any:
        if self._model is None:
            from mcvision.vision.detector import YoloModel

            # keep low-confidence boxes: ``conf`` is applied to the Fall score here
            self._model = YoloModel(
                self.path, task="detect", conf=0.05, imgsz=self.imgsz, classes=self.CLASSES,
                device=self.device,
            )
            self._fall_id = self._model.class_ids[1]
        return self._model

    def scores(self, crops: Sequence[np.ndarray]) -> list[float]:
        """Highest ``Fall`` confidence per BGR crop (0 where none is found)."""
        if not crops:
            return []
        model = self._yolo()
        self.calls += len(crops)
        out = []
        for r in model._predict(list(crops)):
            b = r.boxes
            if b is None or len(b) == 0:
                out.append(0.0)
                continue
            cls = b.cls.cpu().numpy().astype(int)
            confs = b.conf.cpu().numpy()
            fall = confs[cls == self._fall_id]
            out.append(float(fall.max()) if len(fall) else 0.0)
        return out

    def confirm(self, window: Sequence[Observation]) -> bool:
        crop = next((o.person_crop() for o in reversed(window) if o.has_image), None)
        if crop is None:
            if not self._warned:
                self._warned = True
                log.warning(
                    "fall model %s: no person crop to look at (the camera passes no images);"
                    " keeping the rules' fallen label", self.path.name,
                )
            return True
        return self.scores([crop])[0] >= self.conf


# ---- smoothing -----------------------------------------------------------------
class LabelSmoother:
    """Hysteresis over a stream of raw labels, one per tick.

    A different label takes over once it was the raw label for ``min_s`` seconds of
    consecutive ticks (each tick counts ``period_s``); labels in ``immediate``
    (``fallen``) take over at once. So every smoothed label but those lasts at least
    ``min_s``.

    Example:
        >>> s = LabelSmoother(min_s=2.0, period_s=1.0)
        >>> [s.update(t, lab) for t, lab in enumerate("WWSWWSSS")]
        ['W', 'W', 'W', 'W', 'W', 'W', 'S', 'S']
    """

    def __init__(
        self,
        min_s: float = 2.0,
        period_s: float = 1.0,
        immediate: Sequence[str] = (Activity.FALLEN.value,),
    ) -> None:
        if min_s < 0 or period_s <= 0:
            raise ValueError(f"min_s must be >= 0 and period_s > 0, got {min_s}, {period_s}")
        self.min_s = min_s
        self.period_s = period_s
        self.immediate = frozenset(immediate)
        self.label: str | None = None
        self._candidate: str | None = None
        self._since = 0.0

    def update(self, ts: float, raw: str) -> str:
        """Feed one raw label at ``ts``; returns the smoothed label."""
        if self.label is None or (raw in self.immediate and raw != self.label):
            self.label, self._candidate = raw, None
        elif raw == self.label:
            self._candidate = None
        else:
            if raw != self._candidate:
                self._candidate, self._since = raw, ts
            if ts - self._since + self.period_s >= self.min_s - 1e-9:
                self.label, self._candidate = raw, None
        return self.label


def smooth_labels(
    labels: Sequence[str], min_s: float = 2.0, period_s: float = 1.0
) -> list[str]:
    """Smooth a per-tick label sequence offline (ticks ``period_s`` apart)."""
    s = LabelSmoother(min_s=min_s, period_s=period_s)
    return [s.update(i * period_s, lab) for i, lab in enumerate(labels)]


# ---- per track and camera ------------------------------------------------------
class TrackActivity:
    """One track's window, classification ticks and smoothed label.

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
        self.window: deque[Observation] = deque()
        self.smoother = LabelSmoother(min_s=min_label_s, period_s=period_s)
        self._first_ts: float | None = None
        self._last_tick: float | None = None
        self.raw: list[tuple[float, str]] = []

    @property
    def label(self) -> str | None:
        """The current smoothed label (None before the first classification)."""
        return self.smoother.label

    def observe(self, obs: Observation) -> str | None:
        """Add one observation; classify when a tick is due; return the smoothed label."""
        if self.window and obs.ts < self.window[-1].ts:
            return self.label  # out of order: ignore
        if self._first_ts is None:
            self._first_ts = obs.ts
        if obs.has_image and self.window and self.window[-1].has_image:
            # the newest image only
            self.window[-1] = replace(self.window[-1], crop=None, frame=None)
        self.window.append(obs)
        while self.window and obs.ts - self.window[0].ts > self.window_s + 1e-9:
            self.window.popleft()
        warm = obs.ts - self._first_ts >= 0.8 * self.window_s - 1e-9
        due = self._last_tick is None or obs.ts - self._last_tick >= self.period_s - 1e-9
        if warm and due:
            raw = self.classifier.classify(list(self.window))
            self.raw.append((obs.ts, raw))
            self._last_tick = obs.ts
            self.smoother.update(obs.ts, raw)
        return self.label


class ActivityMonitor:
    """Labels every tracked person of one camera, frame after frame.

    Args:
        classifier: the classifier (shared by all tracks).
        period_s, window_s, min_label_s: see :class:`TrackActivity`.

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
    ) -> None:
        self.classifier = classifier
        self._kw = {"period_s": period_s, "window_s": window_s, "min_label_s": min_label_s}
        self.tracks: dict[int, TrackActivity] = {}

    @classmethod
    def from_config(cls, cfg: ActivityConfig) -> ActivityMonitor:
        """From ``SiteConfig.activity``.

        With ``fall_model`` set, a :class:`FallModel` confirms the rules' ``fallen``.

        Raises:
            ValueError: ``fall_model`` set with a classifier that is not rule-based.
            WeightsNotFound: the fall model's weights are nowhere to be found.
        """
        clf = build_classifier(cfg.classifier, Thresholds.from_config(cfg))
        if cfg.fall_model is not None:
            if not isinstance(clf, RuleClassifier):
                raise ValueError(
                    f"activity.fall_model confirms the rules' fallen label, but classifier"
                    f" {cfg.classifier!r} is not rule-based"
                )
            clf.fall_confirmer = FallModel.from_config(cfg)
        return cls(clf, period_s=cfg.period_s, window_s=cfg.window_s, min_label_s=cfg.min_label_s)

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
    ) -> dict[int, str | None]:
        """Observe one frame's tracked detections; returns ``local_id -> label``.

        ``image`` (the frame, BGR) is only used when the classifier asks for crops.
        """
        if tracked.tracker_id is None:
            raise ValueError("ActivityMonitor.update needs tracked detections (tracker_id)")
        frame = image if self.needs_images else None  # crops are cut only if a fall is in question
        out: dict[int, str | None] = {}
        for i, tid in enumerate(tracked.tracker_id.tolist()):
            kp = tracked.keypoints[i] if tracked.keypoints is not None else None
            if kp is not None and not np.any(kp[:, 2] > 0):
                kp = None
            obs = Observation(
                ts=ts, box=tracked.xyxy[i], keypoints=kp,
                zones=tuple(zones[i]) if zones is not None else (),
                frame=frame,
            )
            st = self.tracks.get(tid)
            if st is None:
                st = self.tracks[tid] = TrackActivity(self.classifier, **self._kw)
            out[tid] = st.observe(obs)
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
        labels = (
            self.update(ts, tracked, [zones_by_id.get(t, ()) for t in ids], image=image)
            if len(tracked) else {}
        )
        for u in updates:
            if u.ended:
                self.forget(u.local_id)
            elif u.local_id in labels:
                u.activity = labels[u.local_id]

    def forget(self, local_id: int) -> None:
        """Drop an ended track."""
        self.tracks.pop(int(local_id), None)


# ---- per person: intervals and alerts ------------------------------------------
@dataclass
class _Run:
    interval_id: str
    visit_id: str
    day: str
    activity: str
    zone: str | None
    camera_id: str
    start_ts: float
    end_ts: float


@dataclass
class ActivityBook:
    """Activity intervals per person, visit and zone from labelled sightings.

    A run of the same label in the same zone (first zone of the update, or none)
    is one interval; a different label or zone, a gap over ``gap_s``, or the
    visit's end closes it. While one camera reports a person, another camera's
    labels for them are ignored for ``handover_s`` (overlapping views are not
    counted twice). A ``fallen`` interval emits an ``alert`` event when it opens.

    Snapshots go out on open and on close (``closed=True``); the store keeps the
    latest per ``interval_id``.
    """

    site_id: str
    gap_s: float = 3.0
    handover_s: float = 1.5
    _runs: dict[str, _Run] = field(default_factory=dict)

    def observe(
        self, global_id: str, visit_id: str, day: str, u: TrackletUpdate,
        event_day: Callable[[float], str],
    ) -> tuple[list[ActivityInterval], list[Event]]:
        """Take one sighting (ignored unless it carries an activity)."""
        intervals: list[ActivityInterval] = []
        events: list[Event] = []
        if u.activity is None or u.ended:
            return intervals, events
        ts = float(u.ts)
        zone = u.zones[0] if u.zones else None
        run = self._runs.get(global_id)
        if run is not None and run.visit_id == visit_id:
            if ts < run.end_ts:
                return intervals, events  # late: the run has moved on
            if u.camera_id != run.camera_id and ts - run.end_ts <= self.handover_s:
                return intervals, events
            if (
                run.activity == u.activity and run.zone == zone
                and ts - run.end_ts <= self.gap_s
            ):
                run.end_ts = ts
                run.camera_id = u.camera_id
                return intervals, events
        if run is not None:
            intervals.append(self._snapshot(global_id, run, closed=True))
        run = _Run(
            interval_id=stable_id(visit_id, u.activity, zone, ts),
            visit_id=visit_id, day=day, activity=u.activity, zone=zone,
            camera_id=u.camera_id, start_ts=ts, end_ts=ts,
        )
        self._runs[global_id] = run
        intervals.append(self._snapshot(global_id, run, closed=False))
        if u.activity == Activity.FALLEN.value:
            events.append(
                Event(
                    kind=EventKind.ALERT.value, ts=ts, day=event_day(ts), site_id=self.site_id,
                    global_id=global_id, camera_id=u.camera_id, visit_id=visit_id, zone=zone,
                    payload={"alert": "fallen", "interval_id": run.interval_id},
                )
            )
        return intervals, events

    def close(self, global_id: str) -> list[ActivityInterval]:
        """Close the person's open interval (their visit ended)."""
        run = self._runs.pop(global_id, None)
        return [] if run is None else [self._snapshot(global_id, run, closed=True)]

    def open_intervals(self) -> list[ActivityInterval]:
        """Snapshots of the open intervals."""
        return [self._snapshot(g, r, closed=False) for g, r in sorted(self._runs.items())]

    def clear(self) -> None:
        self._runs.clear()

    def _snapshot(self, gid: str, r: _Run, *, closed: bool) -> ActivityInterval:
        return ActivityInterval(
            interval_id=r.interval_id, site_id=self.site_id, day=r.day, global_id=gid,
            visit_id=r.visit_id, activity=r.activity, zone=r.zone, camera_id=r.camera_id,
            start_ts=r.start_ts, end_ts=r.end_ts, closed=closed,
        )


class AlertWebhook:
    """POSTs alert events as JSON to a URL; failures are logged, never raised.

    :meth:`send` posts at once (and waits); :meth:`post_later` hands the alerts to a
    background thread, so a slow or unreachable receiver never holds up the caller
    (the identity core, which must keep ingesting): at most ``queue_size`` alerts
    wait, further ones are dropped and counted in ``failures``; :meth:`drain` waits
    for the queue to empty (at shutdown).

    Args:
        url: where to POST.
        timeout_s: per request.
        client: an ``httpx.Client`` (made on first use when None).
        queue_size: alerts that may wait for the background thread.

    Example:
        >>> hook = AlertWebhook("http://127.0.0.1:9/alerts", timeout_s=0.2)  # doctest: +SKIP
        >>> hook.send([alert_event])  # doctest: +SKIP
        0
    """

    def __init__(
        self, url: str, timeout_s: float = 2.0, client: Any = None, queue_size: int = 1000
    ) -> None:
        import queue

        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook_url must be an http(s) URL, got {url!r}")
        self.url = url
        self.timeout_s = timeout_s
        self._client = client
        self.failures = 0
        self.sent = 0
        self._queue: queue.Queue[Event] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()

    def post_later(self, events: Sequence[Event]) -> int:
        """Queue the ``alert`` events for the background thread; returns how many queued."""
        import queue

        alerts = [e for e in events if e.kind == EventKind.ALERT.value]
        queued = 0
        for e in alerts:
            try:
                self._queue.put_nowait(e)
                queued += 1
            except queue.Full:
                self.failures += 1
                log.warning("alert webhook queue full: alert %s dropped", e.event_id)
        if queued:
            self._ensure_thread()
        return queued

    def drain(self, timeout_s: float = 10.0) -> bool:
        """Wait up to ``timeout_s`` for queued alerts to be posted; True when none is left."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def _ensure_thread(self) -> None:
        with self._thread_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._worker, name="alert-webhook", daemon=True
                )
                self._thread.start()

    def _worker(self) -> None:
        while True:
            e = self._queue.get()
            try:
                self.sent += self.send([e])
            except Exception:  # never let the thread die on a bad event
                log.exception("alert webhook: event %s not sent", e.event_id)
            finally:
                self._queue.task_done()

    def send(self, events: Sequence[Event]) -> int:
        """POST each ``alert`` event now; returns how many were accepted (2xx)."""
        alerts = [e for e in events if e.kind == EventKind.ALERT.value]
        if not alerts:
            return 0
        import httpx

        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout_s)
        ok = 0
        for e in alerts:
            body = {
                "event_id": e.event_id, "kind": e.kind, "ts": e.ts, "day": e.day,
                "site_id": e.site_id, "global_id": e.global_id, "camera_id": e.camera_id,
                "visit_id": e.visit_id, "zone": e.zone, "payload": e.payload,
            }
            try:
                r = self._client.post(self.url, json=body, timeout=self.timeout_s)
                r.raise_for_status()
                ok += 1
            except httpx.HTTPError as err:
                self.failures += 1
                log.warning("alert webhook %s failed for event %s: %s", self.url, e.event_id, err)
        return ok
