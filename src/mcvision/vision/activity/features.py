"""Activity labels, rule thresholds, observations and the geometry the classifiers read.

Motion over a window of one track's observations (foot-point speed, box depth rate,
both combined), pose angles (torso, thigh), arm motion and reach, and the person crop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import theilslopes

if TYPE_CHECKING:
    from mcvision.config import ActivityConfig


class Activity(StrEnum):
    """The activity labels."""

    WALKING = "walking"
    STANDING = "standing"
    BROWSING = "browsing"
    SITTING = "sitting"
    BENDING = "bending"
    FALLEN = "fallen"
    LYING = "lying"


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
        frame_size: ``(width, height)`` of the frame, for models whose input is in
            frame coordinates (the learned fall heads).
    """

    ts: float
    box: np.ndarray
    keypoints: np.ndarray | None = None
    zones: tuple[str, ...] = ()
    crop: np.ndarray | None = None
    frame: np.ndarray | None = None
    frame_size: tuple[int, int] | None = None

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
