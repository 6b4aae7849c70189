"""Floor-plane geometry: foot points of calibrated cameras in metres on one floor plan.

A camera's ``floor`` calibration (:class:`~mcvision.config.FloorConfig`, ≥ 4
image↔floor point pairs) gives a homography from its pixels to the site's
floor plan (:func:`homography_from_pairs`, OpenCV ``findHomography`` over all
pairs), with the reprojection error both ways (pixels in the frame, metres on
the floor). The identity matcher uses two pieces of evidence from it:

* **overlap coincidence** — two cameras see a person at the same moment: the
  median floor distance between the sightings (:func:`floor_distance`) says
  one person (close, within ``floor_match_m``) or two (apart, beyond
  ``floor_apart_m``); :func:`coincidence_term` turns it into a cost term;
* **walkable transit** — a person seen last at ``p`` and next at ``q`` after
  ``gap`` seconds must have walked there: ``|p − q| ≤ max_speed · gap + slack``
  (:func:`walkable`).

Everything here is plain numpy/OpenCV; the manager calls it.

Example:
    >>> img = [(0, 0), (100, 0), (100, 100), (0, 100)]
    >>> flr = [(0, 0), (2, 0), (2, 2), (0, 2)]           # 50 px per metre
    >>> cal = FloorCalibration.from_pairs("cam1", img, flr)
    >>> cal.project([[50, 50]]).round(3).tolist(), round(cal.mean_error_m, 6)
    ([[1.0, 1.0]], 0.0)
    >>> walkable((0, 0), (5, 0), gap_s=1.0, max_speed=2.5, slack_m=1.0)
    False
"""

from __future__ import annotations

import bisect
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from mcvision.config import FloorConfig, SiteConfig

log = logging.getLogger(__name__)

END_SAMPLES = 3  #: positions whose median is a track's start / end point on the floor
MIN_COINCIDENT = 3  #: same-moment positions before two tracks' floor distance counts
EDGE_PX = 2.0  #: a box this close to the frame's bottom or side edge has no reliable foot

__all__ = [
    "FloorCalibration",
    "FloorCalibrationError",
    "FloorTrack",
    "SiteFloor",
    "coincidence_term",
    "draw_floor_grid",
    "floor_distance",
    "homography_from_pairs",
    "walkable",
]


class FloorCalibrationError(ValueError):
    """Point pairs that give no usable homography; the message names the camera."""


def _apply(h: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``h`` applied to (N, 2) points: the (N, 2) result and the (N,) projective scale w."""
    p = np.asarray(pts, np.float64).reshape(-1, 2)
    q = np.hstack([p, np.ones((len(p), 1))]) @ h.T
    w = q[:, 2]
    safe = np.where(np.abs(w) < 1e-12, np.copysign(1e-12, w + 1e-300), w)
    return q[:, :2] / safe[:, None], w


def homography_from_pairs(
    image_pts: Sequence[Sequence[float]], floor_pts: Sequence[Sequence[float]], camera_id: str = "?"
) -> np.ndarray:
    """The 3×3 homography image pixels → floor metres, least squares over every pair.

    Raises:
        FloorCalibrationError: fewer than 4 pairs, mismatched counts, or degenerate points.
    """
    src = np.asarray(image_pts, np.float64).reshape(-1, 2)
    dst = np.asarray(floor_pts, np.float64).reshape(-1, 2)
    if len(src) != len(dst):
        raise FloorCalibrationError(
            f"camera {camera_id!r}: {len(src)} image points but {len(dst)} floor points"
        )
    if len(src) < 4:
        raise FloorCalibrationError(
            f"camera {camera_id!r}: needs >= 4 image-floor point pairs, got {len(src)}"
        )
    h, _ = cv2.findHomography(src, dst, 0)
    if h is None or not np.all(np.isfinite(h)) or abs(float(np.linalg.det(h))) < 1e-12:
        raise FloorCalibrationError(
            f"camera {camera_id!r}: the point pairs are degenerate (collinear or repeated"
            " points): no homography"
        )
    return h / h[2, 2] if abs(h[2, 2]) > 1e-12 else h


@dataclass(frozen=True)
class FloorCalibration:
    """One camera's pixels ↔ floor metres, with its reprojection error.

    Attributes:
        camera_id: the camera.
        h: 3×3 image → floor homography.
        h_inv: floor → image.
        errors_m: per pair, floor distance between the projected image point and its floor point.
        errors_px: per pair, pixel distance between the back-projected floor point and its pixel.
        max_error_m: the config's limit on the mean error (``ok`` below it).
    """

    camera_id: str
    h: np.ndarray
    h_inv: np.ndarray
    errors_m: np.ndarray
    errors_px: np.ndarray
    max_error_m: float = 0.5
    _front: float = field(default=1.0, repr=False)  # sign of w for points in front of the camera

    @classmethod
    def from_pairs(
        cls,
        camera_id: str,
        image_pts: Sequence[Sequence[float]],
        floor_pts: Sequence[Sequence[float]],
        max_error_m: float = 0.5,
    ) -> FloorCalibration:
        """Fit the homography and measure its reprojection error."""
        h = homography_from_pairs(image_pts, floor_pts, camera_id)
        h_inv = np.linalg.inv(h)
        img = np.asarray(image_pts, np.float64).reshape(-1, 2)
        flr = np.asarray(floor_pts, np.float64).reshape(-1, 2)
        to_floor, _ = _apply(h, img)
        to_img, w = _apply(h_inv, flr)
        front = float(np.sign(np.median(w))) or 1.0
        return cls(
            camera_id,
            h,
            h_inv,
            np.linalg.norm(to_floor - flr, axis=1),
            np.linalg.norm(to_img - img, axis=1),
            float(max_error_m),
            front,
        )

    @classmethod
    def from_config(cls, camera_id: str, floor: FloorConfig) -> FloorCalibration:
        return cls.from_pairs(
            camera_id,
            [p.image for p in floor.points],
            [p.floor for p in floor.points],
            floor.max_error_m,
        )

    @property
    def mean_error_m(self) -> float:
        return float(np.mean(self.errors_m))

    @property
    def mean_error_px(self) -> float:
        return float(np.mean(self.errors_px))

    @property
    def ok(self) -> bool:
        """The mean floor reprojection error is within the config's ``max_error_m``."""
        return self.mean_error_m <= self.max_error_m

    def report(self) -> dict[str, float | int | bool | str]:
        """The reprojection error, for ``mcvision calibrate`` and the logs."""
        return {
            "camera": self.camera_id,
            "points": len(self.errors_m),
            "mean_error_px": round(self.mean_error_px, 3),
            "max_error_px": round(float(np.max(self.errors_px)), 3),
            "mean_error_m": round(self.mean_error_m, 4),
            "max_error_m": round(float(np.max(self.errors_m)), 4),
            "ok": self.ok,
        }

    def project(self, image_pts: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
        """(N, 2) pixels → (N, 2) floor metres."""
        return _apply(self.h, np.asarray(image_pts, np.float64))[0]

    def to_image(
        self, floor_pts: Sequence[Sequence[float]] | np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(N, 2) floor metres → (N, 2) pixels and a mask of points in front of the camera."""
        px, w = _apply(self.h_inv, np.asarray(floor_pts, np.float64))
        return px, w * self._front > 0


class SiteFloor:
    """The calibrations of a site's cameras (cameras without ``floor`` are absent).

    A calibration whose mean reprojection error exceeds its ``max_error_m`` is
    still used, with a warning in the log naming the camera and the error.

    Example:
        >>> cfg = SiteConfig.model_validate(
        ...     {"site_id": "s", "cameras": [{"id": "c1", "source": "x.mp4"}]})
        >>> SiteFloor.from_config(cfg).cameras
        []
    """

    def __init__(
        self,
        calibrations: Iterable[FloorCalibration] = (),
        sizes: dict[str, tuple[int, int]] | None = None,
    ) -> None:
        self._cal = {c.camera_id: c for c in calibrations}
        self._size = dict(sizes or {})  # camera -> (width, height) px, when known

    @classmethod
    def from_config(cls, cfg: SiteConfig) -> SiteFloor:
        cals = []
        for cam in cfg.cameras:
            if cam.floor is None:
                continue
            cal = FloorCalibration.from_config(cam.id, cam.floor)
            if not cal.ok:
                log.warning(
                    "camera %s: floor calibration mean reprojection error %.2f m (max %.2f m,"
                    " %.1f px) is above max_error_m %.2f: check the point pairs",
                    cam.id,
                    cal.mean_error_m,
                    float(np.max(cal.errors_m)),
                    cal.mean_error_px,
                    cal.max_error_m,
                )
            cals.append(cal)
        sizes = {c.id: c.resolution for c in cfg.cameras if c.resolution is not None}
        return cls(cals, sizes)

    @property
    def cameras(self) -> list[str]:
        return sorted(self._cal)

    def get(self, camera_id: str) -> FloorCalibration | None:
        return self._cal.get(camera_id)

    def project(
        self, camera_id: str, foot: Sequence[float] | np.ndarray
    ) -> tuple[float, float] | None:
        """One foot point in metres, or None when the camera has no calibration."""
        cal = self._cal.get(camera_id)
        if cal is None:
            return None
        x, y = cal.project(np.asarray(foot, np.float64).reshape(1, 2))[0]
        return (float(x), float(y)) if math.isfinite(x) and math.isfinite(y) else None

    def foot_on_floor(
        self, camera_id: str, box: Sequence[float] | np.ndarray, foot: Sequence[float] | np.ndarray
    ) -> tuple[float, float] | None:
        """The foot point in metres when the box shows it: None for an uncalibrated
        camera, and for a box cut by the frame's bottom or side edge (the person's
        feet, or half of them, are outside the frame: the box's bottom-centre is
        not where they stand)."""
        size = self._size.get(camera_id)
        if size is not None and len(box) >= 4:
            w, h = size
            x0, _, x1, y1 = (float(v) for v in box[:4])
            if y1 >= h - EDGE_PX or x0 <= EDGE_PX or x1 >= w - EDGE_PX:
                return None
        return self.project(camera_id, foot)


class FloorTrack:
    """A track's floor positions over time (ts ascending), kept for ``keep_s`` seconds.

    Its two ends (:attr:`start`, :attr:`end`, for the walkable-transit gate) are the
    median of its first / last :data:`END_SAMPLES` positions, not a single sample: a
    tracker that picks up a second person, or one box that merges two people, moves
    one foot point metres away, and one stray point must not veto a transit.

    Example:
        >>> ft = FloorTrack()
        >>> ft.add(0.0, (0.0, 0.0)); ft.add(1.0, (2.0, 0.0))
        >>> ft.at(0.5)
        (1.0, 0.0)
        >>> ft.at(3.0) is None
        True
        >>> ft.add(1.2, (2.2, 0.0)); ft.add(1.4, (9.0, 0.0))   # a stray last point
        >>> ft.end
        (1.4, (2.2, 0.0))
    """

    def __init__(self, keep_s: float = 30.0) -> None:
        self.keep_s = float(keep_s)
        self.ts: list[float] = []
        self.xy: list[tuple[float, float]] = []
        self.head: list[tuple[float, tuple[float, float]]] = []  # first samples, kept when trimmed

    def __len__(self) -> int:
        return len(self.ts)

    def add(self, ts: float, xy: tuple[float, float]) -> None:
        if self.ts and ts <= self.ts[-1]:
            return  # per-camera updates come in ts order; ignore a stray late one
        if len(self.head) < END_SAMPLES:
            self.head.append((float(ts), xy))
        self.ts.append(float(ts))
        self.xy.append(xy)
        cut = bisect.bisect_left(self.ts, ts - self.keep_s)
        if cut > 0:
            del self.ts[:cut], self.xy[:cut]

    @property
    def first(self) -> tuple[float, tuple[float, float]] | None:
        return self.head[0] if self.head else None

    @property
    def last(self) -> tuple[float, tuple[float, float]] | None:
        return (self.ts[-1], self.xy[-1]) if self.ts else None

    @property
    def start(self) -> tuple[float, tuple[float, float]] | None:
        """(first ts, median of the first positions), None when empty."""
        if not self.head:
            return None
        return self.head[0][0], _median_xy([xy for _, xy in self.head])

    @property
    def end(self) -> tuple[float, tuple[float, float]] | None:
        """(last ts, median of the last positions), None when empty."""
        if not self.ts:
            return None
        return self.ts[-1], _median_xy(self.xy[-END_SAMPLES:])

    def at(
        self, ts: float, tol_s: float = 0.5, max_gap_s: float = 1.5
    ) -> tuple[float, float] | None:
        """Position at ``ts``: interpolated between samples at most ``max_gap_s`` apart, or
        the nearest sample within ``tol_s``; None when the track was not seen then."""
        if not self.ts:
            return None
        i = bisect.bisect_left(self.ts, ts)
        if i < len(self.ts) and self.ts[i] == ts:
            return self.xy[i]
        if 0 < i < len(self.ts):
            t0, t1 = self.ts[i - 1], self.ts[i]
            if t1 - t0 <= max_gap_s:
                f = (ts - t0) / (t1 - t0)
                (x0, y0), (x1, y1) = self.xy[i - 1], self.xy[i]
                return (x0 + f * (x1 - x0), y0 + f * (y1 - y0))
        near = min(
            (j for j in (i - 1, i) if 0 <= j < len(self.ts)), key=lambda j: abs(self.ts[j] - ts)
        )
        return self.xy[near] if abs(self.ts[near] - ts) <= tol_s else None


def _median_xy(pts: Sequence[tuple[float, float]]) -> tuple[float, float]:
    return (
        float(np.median([p[0] for p in pts])),
        float(np.median([p[1] for p in pts])),
    )


def floor_distance(
    track: FloorTrack,
    others: Iterable[FloorTrack],
    max_samples: int = 20,
    min_samples: int = MIN_COINCIDENT,
) -> float | None:
    """Floor distance (m) between ``track`` and the nearest of ``others`` at the same moments.

    For each other track, the median distance over the last ``max_samples``
    positions of ``track`` that it was also seen at (at least ``min_samples`` of
    them, else it says nothing); the result is the smallest of these medians, so
    an identity seen on another camera by two tracks (one of them a tracker
    mix-up) is where its nearer track is. None when no other track coincides in
    time often enough.
    """
    best: float | None = None
    n = len(track)
    for o in others:
        if not len(o) or o.ts[0] > track.ts[-1] + 0.5 or o.ts[-1] < track.ts[0] - 0.5:
            continue
        dists: list[float] = []
        for k in range(max(0, n - max_samples), n):
            p = o.at(track.ts[k])
            if p is not None:
                q = track.xy[k]
                dists.append(math.hypot(p[0] - q[0], p[1] - q[1]))
        if len(dists) >= min_samples:
            d = float(np.median(dists))
            best = d if best is None else min(best, d)
    return best


def coincidence_term(d: float, match_m: float, apart_m: float, weight: float) -> float | None:
    """The geometry term of the matching cost for same-moment sightings ``d`` metres apart.

    ``weight · clip((d − match_m) / match_m, −1, 1)``: −weight at 0 m (strong evidence
    of one person), 0 at ``match_m``, up to +weight farther; None (forbidden: two
    people) beyond ``apart_m``.

    Example:
        >>> coincidence_term(0.0, 1.0, 2.5, 0.3), coincidence_term(3.0, 1.0, 2.5, 0.3)
        (-0.3, None)
    """
    if d > apart_m:
        return None
    return weight * min(max((d - match_m) / match_m, -1.0), 1.0)


def walkable(
    p: Sequence[float], q: Sequence[float], gap_s: float, max_speed: float, slack_m: float = 0.0
) -> bool:
    """Could a person walk from floor point ``p`` to ``q`` in ``gap_s`` seconds?

    ``|p − q| ≤ max_speed · max(gap_s, 0) + slack_m`` (the slack absorbs calibration
    and foot-point error).
    """
    d = math.hypot(float(q[0]) - float(p[0]), float(q[1]) - float(p[1]))
    return d <= max_speed * max(float(gap_s), 0.0) + slack_m


# ---------------------------------------------------------------- drawing
def draw_floor_grid(
    frame: np.ndarray,
    cal: FloorCalibration,
    points: Sequence[tuple[Sequence[float], Sequence[float]]] = (),
    step_m: float = 1.0,
    margin_m: float = 10.0,
) -> np.ndarray:
    """The floor's metre grid drawn over ``frame`` (a copy), with the calibration pairs.

    Grid lines every ``step_m`` over the calibration points' extent plus ``margin_m``,
    clipped to the floor in front of the camera; each pair is drawn as its pixel
    (green) and its floor point projected back into the frame (red), joined by a line
    whose length is the pixel reprojection error.
    """
    img = frame.copy()
    hgt, wid = img.shape[:2]
    flr = np.array([f for _, f in points], np.float64).reshape(-1, 2)
    if len(flr):
        lo, hi = flr.min(axis=0) - margin_m, flr.max(axis=0) + margin_m
    else:
        corners = cal.project([[0, hgt - 1], [wid - 1, hgt - 1], [wid / 2, hgt / 2]])
        lo, hi = corners.min(axis=0) - margin_m, corners.max(axis=0) + margin_m
    lo = np.floor(lo / step_m) * step_m
    hi = np.ceil(hi / step_m) * step_m
    colour = (0, 215, 255)

    def polyline(pts_m: np.ndarray, thick: int) -> None:
        px, front = cal.to_image(pts_m)
        inside = front & (np.abs(px[:, 0]) < 4 * wid) & (np.abs(px[:, 1]) < 4 * hgt)
        for a in range(len(px) - 1):
            if inside[a] and inside[a + 1]:
                p0 = (round(px[a, 0]), round(px[a, 1]))
                p1 = (round(px[a + 1, 0]), round(px[a + 1, 1]))
                cv2.line(img, p0, p1, colour, thick, cv2.LINE_AA)

    n = 200
    for x in np.arange(lo[0], hi[0] + 1e-9, step_m):
        polyline(np.column_stack([np.full(n, x), np.linspace(lo[1], hi[1], n)]), 2 if x == 0 else 1)
    for y in np.arange(lo[1], hi[1] + 1e-9, step_m):
        polyline(np.column_stack([np.linspace(lo[0], hi[0], n), np.full(n, y)]), 2 if y == 0 else 1)
    # label whole-metre crossings inside the frame
    xs = np.arange(lo[0], hi[0] + 1e-9, step_m)
    ys = np.arange(lo[1], hi[1] + 1e-9, step_m)
    grid = np.array([(x, y) for x in xs for y in ys], np.float64).reshape(-1, 2)
    px, front = cal.to_image(grid)
    every = max(1, math.ceil(2.0 / step_m))
    for (gx, gy), (u, v), ok in zip(grid, px, front, strict=True):
        if (
            ok
            and 0 <= u < wid
            and 0 <= v < hgt
            and round(gx / step_m) % every == 0
            and round(gy / step_m) % every == 0
        ):
            cv2.putText(
                img,
                f"{gx:g},{gy:g}",
                (round(u) + 3, round(v) - 3),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.35,
                colour,
                1,
                cv2.LINE_AA,
            )
    for image_pt, floor_pt in points:
        back, front_ok = cal.to_image(np.array([floor_pt], np.float64))
        ix, iy = round(float(image_pt[0])), round(float(image_pt[1]))
        cv2.circle(img, (ix, iy), 5, (0, 200, 0), 2, cv2.LINE_AA)
        if front_ok[0]:
            bb = (round(float(back[0, 0])), round(float(back[0, 1])))
            cv2.drawMarker(img, bb, (0, 0, 255), cv2.MARKER_CROSS, 10, 2)
            cv2.line(img, (ix, iy), bb, (0, 0, 255), 1, cv2.LINE_AA)
    return img
