"""Motion gating and adaptive sampling: spend detector time only where people may be.

:class:`MotionGate` looks at each sampled frame of one camera and says whether it
goes to the detector, and why (a *reason*):

- processed: ``"ungated"`` (gating off), ``"tracks"`` (the tracker follows someone: a
  track, confirmed or tentative, matched in the last frame; or its last one was lost
  less than ``lost_grace_s`` ago), ``"motion"`` (enough moving pixels), ``"keepalive"``
  (nothing detected for ``keepalive_s``: a person standing still in an empty-looking
  scene is found again);
- skipped: ``"no_motion"`` (looked at, nothing moved, nobody tracked) and ``"idle"``
  (not even looked at: a camera with no motion and no tracks samples at
  ``idle_fps``; the first frame with motion or people brings it back to full fps).

Because every frame is detected while the tracker follows someone, a person standing
still stays tracked, in their visit and zone. Tracks that are only *lost* (the person
left, or the detector missed them) are still stepped on skipped frames, with no
detections, so they age in stream time and end when they would without gating; a
keep-alive or motion frame re-finds a person who is still there. Time comes only from
the frames' timestamps (the camera reports the skipped frames' timestamps too), so
skipped frames advance visit and zone clocks without adding or cutting dwell.

Motion is computed on a grey frame downscaled to ``width`` and blurred, masked by
the camera's region of interest. Two detectors are registered in :data:`MOTION`:
``"diff"`` (absolute difference to a running-average background, as Frigate does; with
``alpha`` 1, the default, to the previous looked-at frame: the gate does not look while
the tracker follows someone, so a slow average is stale after a stay and would flag the
changed scene for seconds after the person left) and ``"mog2"`` (OpenCV's
Gaussian-mixture background subtractor).

Example:
    >>> import numpy as np
    >>> from mcvision.config import GatingConfig
    >>> gate = MotionGate(GatingConfig(enabled=True, keepalive_s=10, idle_fps=1), fps=5)
    >>> still = np.full((90, 160, 3), 90, np.uint8)
    >>> [gate.decide(t / 5, still, "none") for t in range(6)]
    ['keepalive', 'idle', 'idle', 'idle', 'idle', 'no_motion']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import cv2
import numpy as np

from mcvision.config import GatingConfig, RoiConfig

#: Reasons a frame goes to the detector.
PROCESSED = ("ungated", "tracks", "motion", "keepalive")
#: Reasons a frame skips the detector.
SKIPPED = ("no_motion", "idle")

_EPS = 5e-4  # timestamp slack (PTS rounding), as in the frame sampler


class MotionDetector(Protocol):
    """Foreground mask (uint8, 0 or 255) of one small grey frame; keeps its own background."""

    def __call__(self, grey: np.ndarray) -> np.ndarray: ...


class DiffMotion:
    """Absolute difference to a running-average background (``alpha`` per looked-at frame;
    1: the previous looked-at frame).

    Args:
        threshold: grey-level difference that counts as moving.
        alpha: weight of the new frame in the background average.
    """

    def __init__(self, threshold: int = 25, alpha: float = 0.1) -> None:
        self.threshold = threshold
        self.alpha = alpha
        self._bg: np.ndarray | None = None

    def __call__(self, grey: np.ndarray) -> np.ndarray:
        if self._bg is None or self._bg.shape != grey.shape:
            self._bg = grey.astype(np.float32)
            return np.zeros_like(grey)
        diff = cv2.absdiff(grey, cv2.convertScaleAbs(self._bg))
        _, mask = cv2.threshold(diff, self.threshold, 255, cv2.THRESH_BINARY)
        cv2.accumulateWeighted(grey, self._bg, self.alpha)
        return mask


class Mog2Motion:
    """OpenCV's MOG2 background subtractor (no shadow detection)."""

    def __init__(self, history: int = 100, var_threshold: float = 25.0) -> None:
        self._sub = cv2.createBackgroundSubtractorMOG2(
            history=history, varThreshold=var_threshold, detectShadows=False
        )
        self._first = True

    def __call__(self, grey: np.ndarray) -> np.ndarray:
        mask = self._sub.apply(grey)
        if self._first:  # the first frame is all foreground: it only seeds the model
            self._first = False
            return np.zeros_like(mask)
        return mask


#: ``GatingConfig.method`` → factory of its motion detector.
MOTION: dict[str, Callable[[GatingConfig], MotionDetector]] = {
    "diff": lambda cfg: DiffMotion(cfg.threshold, cfg.alpha),
    "mog2": lambda cfg: Mog2Motion(),
}


def roi_pixels(roi: RoiConfig, frame_size: tuple[int, int]) -> np.ndarray:
    """The ROI polygon in frame pixels, shape (N, 2) float32."""
    pts = np.asarray(roi.polygon, dtype=np.float32)
    if roi.normalized:
        pts = pts * np.asarray(frame_size, dtype=np.float32)
    return pts


def roi_mask(
    roi: RoiConfig | None, frame_size: tuple[int, int], size: tuple[int, int]
) -> np.ndarray | None:
    """The ROI rasterized at ``size`` (width, height) of a frame of ``frame_size``; None = all."""
    if roi is None:
        return None
    w, h = size
    pts = roi_pixels(roi, frame_size) * np.asarray(
        [w / frame_size[0], h / frame_size[1]], dtype=np.float32
    )
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 255)
    if not mask.any():
        raise ValueError(f"roi polygon {roi.polygon} covers no pixel of a {frame_size} frame")
    return mask


def inside_roi(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Which of ``points`` (N, 2) lie inside (or on) ``polygon`` (M, 2); a bool array."""
    poly = polygon.reshape(-1, 1, 2).astype(np.float32)
    return np.array(
        [cv2.pointPolygonTest(poly, (float(x), float(y)), False) >= 0 for x, y in points],
        dtype=bool,
    )


class MotionGate:
    """The per-camera gate: which sampled frames go to the detector, and why.

    Args:
        cfg: the camera's gating settings (``SiteConfig.gating_for(camera_id)``).
        fps: the camera's full sampling fps.
        roi: the camera's region of interest (motion outside it is ignored).
    """

    def __init__(self, cfg: GatingConfig, fps: float, roi: RoiConfig | None = None) -> None:
        if cfg.method not in MOTION:
            raise ValueError(f"unknown gating method {cfg.method!r}; known: {sorted(MOTION)}")
        self.cfg = cfg
        self.fps = float(fps)
        self.roi = roi
        self.motion = MOTION[cfg.method](cfg)
        self.idle = False
        self.last_motion: float = 0.0  # moving fraction of the last looked-at frame
        self._last_detect: float | None = None
        self._last_tracked: float | None = None  # last frame the tracker followed someone
        self._next_look: float | None = None
        self._mask_key: tuple[int, int, int, int] | None = None
        self._mask: np.ndarray | None = None
        self._mask_px = 1

    @property
    def enabled(self) -> bool:
        return self.cfg.enabled

    def decide(self, ts: float, image: np.ndarray, tracks: str = "none") -> str:
        """The reason for this frame (one of :data:`PROCESSED` or :data:`SKIPPED`).

        Args:
            ts: the frame's timestamp.
            image: the frame.
            tracks: the tracker's state before it: ``"tracked"``, ``"lost"`` or ``"none"``
                (:attr:`CameraPipeline.track_state`).
        """
        if not self.cfg.enabled:
            return "ungated"
        if self.needs_detection(ts, tracks):
            # No motion needed (and the people are not learnt into the background).
            return self._detect(ts, "tracks")
        if self.idle and self._next_look is not None and ts < self._next_look - _EPS:
            return "idle"
        frac = self.moving_fraction(image)
        self._next_look = ts + 1.0 / min(self.cfg.idle_fps, self.fps)
        if frac > 0 and frac >= self.cfg.min_area:
            return self._detect(ts, "motion")
        if self._last_detect is None or ts - self._last_detect >= self.cfg.keepalive_s - _EPS:
            self.idle = True
            return self._detect(ts, "keepalive", wake=False)
        self.idle = True
        return "no_motion"

    def observe(self, ts: float, tracks: str) -> None:
        """The tracker's state after the frame at ``ts`` was tracked."""
        if tracks == "tracked":
            self._last_tracked = ts if self._last_tracked is None else max(self._last_tracked, ts)

    def needs_detection(self, ts: float, tracks: str) -> bool:
        """Whether a frame must be detected for the tracker's sake: it follows someone, or
        lost its last person less than ``lost_grace_s`` ago."""
        if tracks == "tracked":
            return True
        return (
            tracks == "lost"
            and self._last_tracked is not None
            and ts - self._last_tracked <= self.cfg.lost_grace_s + _EPS
        )

    def promoted(self, ts: float) -> None:
        """A frame the gate skipped was detected after all (tracks appeared meanwhile)."""
        self._detect(ts, "tracks")

    def _detect(self, ts: float, reason: str, wake: bool = True) -> str:
        self._last_detect = ts if self._last_detect is None else max(self._last_detect, ts)
        if wake:
            self.idle = False
        return reason

    def moving_fraction(self, image: np.ndarray) -> float:
        """Moving fraction of the frame (of its ROI) against the detector's background."""
        h, w = image.shape[:2]
        width = min(self.cfg.width, w)
        height = max(1, round(h * width / w))
        # Bilinear is ~10x cheaper than area averaging here; the blur takes out the aliasing.
        small = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
        grey = small if small.ndim == 2 else cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        grey = cv2.GaussianBlur(grey, (5, 5), 0)
        fg = self.motion(grey)
        key = (w, h, width, height)
        if key != self._mask_key:
            self._mask_key = key
            self._mask = roi_mask(self.roi, (w, h), (width, height))
            self._mask_px = (
                int(np.count_nonzero(self._mask)) if self._mask is not None else width * height
            )
        if self._mask is not None:
            fg = cv2.bitwise_and(fg, self._mask)
        self.last_motion = float(np.count_nonzero(fg)) / self._mask_px
        return self.last_motion


def count_reasons(reasons: Sequence[str]) -> dict[str, int]:
    """How many frames had each reason (every reason of :data:`PROCESSED` and :data:`SKIPPED`)."""
    out = dict.fromkeys((*PROCESSED, *SKIPPED), 0)
    for r in reasons:
        out[r] += 1
    return out


__all__ = [
    "MOTION",
    "PROCESSED",
    "SKIPPED",
    "DiffMotion",
    "Mog2Motion",
    "MotionGate",
    "count_reasons",
    "inside_roi",
    "roi_mask",
    "roi_pixels",
]
