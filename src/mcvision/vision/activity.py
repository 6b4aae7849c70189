"""Human activity per track and second: rules over motion and pose, behind a registry.

Labels (:class:`Activity`): ``walking``, ``standing``, ``browsing``, ``sitting``,
``bending`` and ``fallen``. Each track is classified once per ``period_s`` (1 s)
from a window of its last ``window_s`` of observations (box, foot point, COCO-17
keypoints when pose runs, zones):

- **speed**: foot-point displacement over the window divided by the median box
  height and the window's duration, in *body heights per second*, so it does not
  depend on how far the person is from the camera (a walk is ~0.6–1 h/s);
- **torso angle**: the hip-centre → shoulder-centre vector against image-up, in
  degrees (0 upright, 90 lying);
- **thigh angle**: hip → knee against image-down (0 standing legs, ~90 seated);
- **arm motion**: spread of the wrists relative to the shoulder centre over the
  window, in box heights; **reach**: a wrist raised to shoulder height or held
  out sideways.

The rule classifier (:class:`RuleClassifier`, registered as ``"rules"``) decides,
first match wins: ``fallen`` (torso ≥ ``fallen_torso_deg``, or a box lying on its
side ``w/h ≥ fallen_aspect`` without an upright torso), ``walking`` (speed ≥
``walk_speed``), ``sitting`` (upright torso, thighs ≥ ``sit_thigh_deg``),
``bending`` (torso ≥ ``bend_torso_deg``), ``browsing`` (in a zone, with arm
motion ≥ ``arm_motion`` or a reach), else ``standing``. Without keypoints only
``walking``, ``standing`` and the box-shape ``fallen`` are possible.

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
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

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
    "LabelSmoother",
    "Observation",
    "RuleClassifier",
    "Thresholds",
    "TrackActivity",
    "available_classifiers",
    "build_classifier",
    "register_classifier",
    "smooth_labels",
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
    """Rule thresholds (see the module doc). Speeds in box heights per second."""

    walk_speed: float = 0.25
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
    """

    ts: float
    box: np.ndarray
    keypoints: np.ndarray | None = None
    zones: tuple[str, ...] = ()


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


def speed(window: Sequence[Observation]) -> float:
    """Foot-point speed over the window in median box heights per second (0 if too short)."""
    if len(window) < 2:
        return 0.0
    a, b = window[0], window[-1]
    dt = b.ts - a.ts
    if dt <= 1e-6:
        return 0.0
    fa = np.array([(a.box[0] + a.box[2]) / 2, a.box[3]])
    fb = np.array([(b.box[0] + b.box[2]) / 2, b.box[3]])
    h = float(np.median([_height(o.box) for o in window]))
    return float(np.linalg.norm(fb - fa) / h / dt)


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


@register_classifier("rules")
class RuleClassifier:
    """Geometric rules over motion and pose (see the module doc for the order).

    Example:
        >>> import numpy as np
        >>> lying = [Observation(ts=t, box=np.array([0, 80, 200, 140])) for t in (0, 0.5, 1)]
        >>> RuleClassifier().classify(lying)
        'fallen'
    """

    def __init__(self, thresholds: Thresholds | None = None) -> None:
        self.th = thresholds or Thresholds()

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
        if torso is not None and torso >= th.fallen_torso_deg:
            return Activity.FALLEN.value
        if aspect >= th.fallen_aspect and (torso is None or torso >= th.bend_torso_deg):
            return Activity.FALLEN.value
        if speed(window) >= th.walk_speed:
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
        self.window.append(obs)
        while self.window and obs.ts - self.window[0].ts > self.window_s + 1e-9:
            self.window.popleft()
        warm = obs.ts - self._first_ts >= 0.8 * self.window_s
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
        """From ``SiteConfig.activity``."""
        return cls(
            build_classifier(cfg.classifier, Thresholds.from_config(cfg)),
            period_s=cfg.period_s, window_s=cfg.window_s, min_label_s=cfg.min_label_s,
        )

    def update(
        self, ts: float, tracked: Detections, zones: Sequence[tuple[str, ...]] | None = None
    ) -> dict[int, str | None]:
        """Observe one frame's tracked detections; returns ``local_id -> label``."""
        if tracked.tracker_id is None:
            raise ValueError("ActivityMonitor.update needs tracked detections (tracker_id)")
        out: dict[int, str | None] = {}
        for i, tid in enumerate(tracked.tracker_id.tolist()):
            kp = tracked.keypoints[i] if tracked.keypoints is not None else None
            if kp is not None and not np.any(kp[:, 2] > 0):
                kp = None
            obs = Observation(
                ts=ts, box=tracked.xyxy[i], keypoints=kp,
                zones=tuple(zones[i]) if zones is not None else (),
            )
            st = self.tracks.get(tid)
            if st is None:
                st = self.tracks[tid] = TrackActivity(self.classifier, **self._kw)
            out[tid] = st.observe(obs)
        return out

    def label_updates(
        self, ts: float, updates: Sequence[TrackletUpdate], tracked: Detections
    ) -> None:
        """Observe a frame at ``ts`` and set ``activity`` on its (non-ended) updates."""
        zones_by_id = {u.local_id: u.zones for u in updates if not u.ended}
        ids = tracked.tracker_id.tolist() if tracked.tracker_id is not None else []
        labels = (
            self.update(ts, tracked, [zones_by_id.get(t, ()) for t in ids]) if len(tracked) else {}
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

    Args:
        url: where to POST.
        timeout_s: per request.
        client: an ``httpx.Client`` (made on first use when None).

    Example:
        >>> hook = AlertWebhook("http://127.0.0.1:9/alerts", timeout_s=0.2)  # doctest: +SKIP
        >>> hook.send([alert_event])  # doctest: +SKIP
        0
    """

    def __init__(self, url: str, timeout_s: float = 2.0, client: Any = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook_url must be an http(s) URL, got {url!r}")
        self.url = url
        self.timeout_s = timeout_s
        self._client = client
        self.failures = 0

    def send(self, events: Sequence[Event]) -> int:
        """POST each ``alert`` event; returns how many were accepted (2xx)."""
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
