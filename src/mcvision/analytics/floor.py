"""Floor-plan analytics: track points projected onto the site's floor, in metres.

Each calibrated camera (``cameras[].floor``, see :mod:`mcvision.identity.geometry`)
maps image pixels to the one floor plan of the site by a homography. A stored track
point is a foot point normalized to the frame (``x``, ``y`` in 0..1), so the
camera's frame size (``cameras[].resolution``, the size of the frame its
calibration pixels are in) turns it back into pixels first. The projection runs
in DuckDB SQL over the ``track_points`` view: per point
``(X, Y) = (H · (x·W, y·H, 1)) / w``; a point whose projective scale ``w`` has the
wrong sign (above the horizon: not on the floor) is dropped and counted.

Semantics:

- **Samples** (heatmap, occupancy, routes): one floor position per person and
  ``sample_s`` seconds (default 1 s): the mean of the positions every calibrated
  camera saw them at in that slot, so two overlapping cameras seeing one person
  count once, where they agree.
- **Heatmap**: samples per square cell of ``cell_m`` metres; cell ``(ix, iy)``
  covers ``x0_m + ix·cell_m ≤ x < x0_m + (ix+1)·cell_m`` and the same in y, rows
  from south (small y) to north. The grid covers the floor-plan picture when there
  is one (samples off it are counted as ``outside``), else the samples and areas.
- **Occupancy by area** (``floor_plan.areas``, polygons in metres): per area the
  samples inside it, the distinct visitors, the dwell (each sample inside counts
  the time to the same visit's next sample, when that comes within
  ``max_gap_s``), and the peak: most distinct visitors in one ``bucket`` of the
  business day.
- **Route** of one global ID: its samples in time order (every visit of the day),
  with the camera sequence from all its track points (calibrated or not): legs
  are stretches one camera saw the person, points no more than ``max_gap_s``
  apart, in order of their start.
- Cameras with no calibration, or no ``resolution``, are left out of the floor
  and named (``uncalibrated``) with the reason. With no usable camera at all the
  queries raise :class:`FloorNotReady`.

Example:
    >>> from mcvision.config import parse_config
    >>> cfg = parse_config({"site_id": "s", "cameras": [{"id": "c1", "source": "a.mp4"}]})
    >>> SiteFloorPlan.from_config(cfg).uncalibrated
    {'c1': 'no floor calibration (cameras[].floor)'}
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from mcvision.analytics.queries import NotFound, parse_bucket
from mcvision.analytics.store import EventStore, check_day
from mcvision.business_day import BusinessCalendar
from mcvision.config import FloorAreaConfig, SiteConfig
from mcvision.identity.geometry import FloorCalibration, FloorCalibrationError

__all__ = [
    "AreaOccupancy",
    "CameraFloor",
    "FloorArea",
    "FloorCamera",
    "FloorHeatmap",
    "FloorNotReady",
    "FloorOccupancy",
    "FloorPlanInfo",
    "FloorRoute",
    "RouteLeg",
    "RoutePoint",
    "SiteFloorPlan",
    "floor_heatmap",
    "floor_occupancy",
    "floor_route",
    "plan_info",
]

MAX_CELLS_PER_SIDE = 1000
MAX_AREAS_EDGES = 10_000


class FloorNotReady(RuntimeError):
    """The floor cannot answer: no calibrated camera, or no areas; the message says which."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


# ---- result models -----------------------------------------------------------
class FloorCamera(_Model):
    """A calibrated camera on the floor plan."""

    camera_id: str
    points: int = Field(description="calibration point pairs")
    mean_error_m: float = Field(description="mean floor reprojection error of the pairs")
    ok: bool = Field(description="mean error within the calibration's max_error_m")
    footprint: list[tuple[float, float]] = Field(
        description="convex hull of its calibration floor points (metres): where it was calibrated"
    )


class FloorArea(_Model):
    """A named floor area (metres)."""

    name: str
    polygon: list[tuple[float, float]]


class FloorPlanInfo(_Model):
    """How to draw the floor plan: picture, scale, areas, calibrated cameras."""

    has_image: bool = Field(description="a floor-plan picture is served at /floor/plan/image")
    image_error: str | None = Field(
        default=None, description="why a configured picture cannot be used"
    )
    image_width_px: int | None = None
    image_height_px: int | None = None
    px_per_m: float | None = None
    origin_px: tuple[float, float] | None = Field(
        default=None, description="picture pixel of floor (0, 0) m; floor y grows up the picture"
    )
    extent_m: tuple[float, float, float, float] | None = Field(
        default=None, description="the picture's floor extent: (x0, y0, x1, y1) metres"
    )
    cameras: list[FloorCamera]
    uncalibrated: dict[str, str] = Field(description="cameras left off the floor, with the reason")
    areas: list[FloorArea]


class FloorHeatmap(_Model):
    """Samples per floor cell over one day, combined over the calibrated cameras."""

    day: str
    cell_m: float
    x0_m: float = Field(description="west edge of column 0")
    y0_m: float = Field(description="south edge of row 0")
    columns: int
    rows: int
    counts: list[list[int]] = Field(description="counts[iy][ix], rows south to north")
    total: int = Field(description="samples inside the grid")
    outside: int = Field(description="samples off the floor-plan picture")
    sample_s: float
    cameras: dict[str, int] = Field(description="track points projected, per calibrated camera")
    dropped: int = Field(description="track points of calibrated cameras not on the floor")
    uncalibrated: dict[str, str]


class AreaOccupancy(_Model):
    """Use of one floor area over one day."""

    area: str
    samples: int
    visitors: int = Field(description="distinct global IDs")
    dwell_s: float = Field(description="summed time of the samples inside (see module doc)")
    share: float | None = Field(description="samples / all floor samples of the day")
    peak_visitors: int = Field(description="most distinct visitors inside in one bucket")
    peak_start_ts: float | None = Field(description="start of the (first) peak bucket")


class FloorOccupancy(_Model):
    """Occupancy of every floor area over one day."""

    day: str
    bucket_s: int
    sample_s: float
    total_samples: int
    outside_samples: int = Field(description="samples in no area")
    areas: list[AreaOccupancy]
    cameras: dict[str, int]
    uncalibrated: dict[str, str]


class RoutePoint(_Model):
    """One floor sample of a visitor."""

    ts: float
    x_m: float
    y_m: float
    cameras: list[str] = Field(description="the cameras whose positions were averaged")
    visit_id: str


class RouteLeg(_Model):
    """A stretch of time one camera saw the visitor."""

    camera_id: str
    start_ts: float
    end_ts: float
    points: int = Field(description="track points")
    floor_points: int = Field(description="of those, projected onto the floor")
    calibrated: bool


class FloorRoute(_Model):
    """One visitor's route on the floor across cameras, over one day."""

    day: str
    global_id: str
    visits: list[str] = Field(description="the visitor's visits that day, in order")
    cameras: list[str] = Field(description="camera sequence (repeats collapsed), e.g. 3 → 7 → 10")
    legs: list[RouteLeg]
    points: list[RoutePoint]
    length_m: float = Field(description="walked length between samples of the same visit")
    sample_s: float
    uncalibrated: dict[str, str] = Field(description="cameras of this route left off the floor")


# ---- the site's floor ------------------------------------------------------------
@dataclass(frozen=True)
class CameraFloor:
    """A camera usable on the floor: its calibration and the frame size of its pixels."""

    calibration: FloorCalibration
    size: tuple[int, int]
    floor_points: np.ndarray  # (N, 2) the calibration pairs' floor points, metres

    @property
    def camera_id(self) -> str:
        return self.calibration.camera_id


@dataclass
class SiteFloorPlan:
    """The floor of a site: usable cameras, the ones left out (and why), picture and areas."""

    cameras: dict[str, CameraFloor]
    uncalibrated: dict[str, str]
    areas: list[FloorAreaConfig] = field(default_factory=list)
    image: str | None = None
    px_per_m: float | None = None
    origin_px: tuple[float, float] = (0.0, 0.0)
    _image_size: tuple[int, int] | None = field(default=None, repr=False)
    _image_error: str | None = field(default=None, repr=False)
    _image_read: bool = field(default=False, repr=False)

    @classmethod
    def from_config(cls, cfg: SiteConfig) -> SiteFloorPlan:
        """The site's floor from its config (reads no file; the picture is read on first use)."""
        cams: dict[str, CameraFloor] = {}
        missing: dict[str, str] = {}
        for cam in cfg.cameras:
            if cam.floor is None:
                missing[cam.id] = "no floor calibration (cameras[].floor)"
                continue
            if cam.resolution is None:
                missing[cam.id] = (
                    "no frame size (cameras[].resolution) to turn its normalized track points"
                    " into the calibration's pixels"
                )
                continue
            try:
                cal = FloorCalibration.from_config(cam.id, cam.floor)
            except FloorCalibrationError as err:
                missing[cam.id] = f"unusable floor calibration: {err}"
                continue
            cams[cam.id] = CameraFloor(
                cal,
                (int(cam.resolution[0]), int(cam.resolution[1])),
                np.array([p.floor for p in cam.floor.points], np.float64),
            )
        plan = cfg.floor_plan
        image, scale, origin = plan.image, plan.px_per_m, plan.origin_px
        if image is None:
            for cam in cfg.cameras:
                if cam.id in cams and cam.floor is not None and cam.floor.plan_image is not None:
                    image, scale, origin = (
                        cam.floor.plan_image,
                        cam.floor.plan_px_per_m,
                        cam.floor.plan_origin_px,
                    )
                    break
        ox, oy = origin
        return cls(cams, missing, list(plan.areas), image, scale, (float(ox), float(oy)))

    def require(self) -> None:
        """Raise :class:`FloorNotReady` when no camera can be put on the floor."""
        if not self.cameras:
            why = "; ".join(f"{c}: {r}" for c, r in sorted(self.uncalibrated.items()))
            raise FloorNotReady(
                "no camera is calibrated to the floor (add cameras[].floor point pairs and"
                f" cameras[].resolution; `mcvision calibrate` checks them): {why}"
            )

    # ---- the picture ----
    def _read_image(self) -> None:
        if self._image_read:
            return
        self._image_read = True
        if self.image is None:
            return
        img = cv2.imread(str(self.image), cv2.IMREAD_UNCHANGED)
        if img is None:
            where = "not found" if not Path(self.image).exists() else "not a readable image"
            self._image_error = f"floor-plan picture {self.image}: {where}"
            return
        self._image_size = (int(img.shape[1]), int(img.shape[0]))

    @property
    def image_size(self) -> tuple[int, int] | None:
        """(width, height) of the usable picture, or None."""
        self._read_image()
        return self._image_size

    @property
    def image_error(self) -> str | None:
        """Why a configured picture cannot be used (None when fine or none configured)."""
        self._read_image()
        return self._image_error

    def image_extent(self) -> tuple[float, float, float, float] | None:
        """(x0, y0, x1, y1) metres covered by the picture, or None without one."""
        size = self.image_size
        if size is None or self.px_per_m is None:
            return None
        (w, h), s, (ox, oy) = size, self.px_per_m, self.origin_px
        return ((0.0 - ox) / s, (oy - h) / s, (w - ox) / s, oy / s)

    # ---- SQL ----
    def cal_cte(self) -> str:
        """``cal(camera_id, w, h, h00 … h22, front)``: one row per usable camera."""
        rows = []
        for c in self.cameras.values():
            vals = [c.size[0], c.size[1], *c.calibration.h.ravel().tolist(), c.calibration._front]
            nums = ", ".join(f"CAST({float(v)!r} AS DOUBLE)" for v in vals)
            rows.append(f"({_sql_str(c.camera_id)}, {nums})")
        cols = "camera_id, w, h, h00, h01, h02, h10, h11, h12, h20, h21, h22, front"
        return f"cal({cols}) AS (VALUES {', '.join(rows)})"


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _staff(include_staff: bool, col: str = "t.visit_id") -> str:
    if include_staff:
        return "TRUE"
    return f"{col} NOT IN (SELECT visit_id FROM visits WHERE is_staff)"


def _check_positive(name: str, value: Any, hi: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if value <= 0 or (hi is not None and value > hi):
        raise ValueError(f"{name} must be > 0{f' and <= {hi:g}' if hi else ''}, got {value!r}")
    return float(value)


def _samples_sql(plan: SiteFloorPlan, where: str) -> str:
    """CTEs ``f`` (projected track points) and ``s`` (one sample per person and slot).

    Parameters: ``$day``, ``$dt`` (sample_s) and whatever ``where`` uses.
    """
    return f"""
    {plan.cal_cte()},
    p AS (
      SELECT t.global_id, t.visit_id, t.camera_id, t.ts, t.x * cal.w AS px, t.y * cal.h AS py,
             cal.* EXCLUDE (camera_id, w, h)
      FROM track_points t JOIN cal ON cal.camera_id = t.camera_id
      WHERE t.day = $day AND {where}),
    q AS (
      SELECT global_id, visit_id, camera_id, ts, front,
             h20 * px + h21 * py + h22 AS wq,
             h00 * px + h01 * py + h02 AS xq,
             h10 * px + h11 * py + h12 AS yq
      FROM p),
    f AS (
      SELECT global_id, visit_id, camera_id, ts, xq / wq AS fx, yq / wq AS fy
      FROM q WHERE wq * front > 0),
    s AS (
      SELECT global_id, visit_id, floor(ts / $dt)::BIGINT AS slot, min(ts) AS ts,
             avg(fx) AS fx, avg(fy) AS fy, list(DISTINCT camera_id ORDER BY camera_id) AS cams
      FROM f GROUP BY global_id, visit_id, slot)
    """


def _camera_counts(
    store: EventStore, plan: SiteFloorPlan, day: str, where: str, params: dict[str, Any]
) -> tuple[dict[str, int], int]:
    """Track points projected per calibrated camera, and those not on the floor."""
    rows = store.sql(
        f"""
        WITH {_samples_sql(plan, where)}
        SELECT q.camera_id, count(*) AS n, count(*) FILTER (WHERE wq * front > 0) AS on_floor
        FROM q GROUP BY q.camera_id ORDER BY q.camera_id
        """,
        params,
        day=day,
    )
    cams = {c: 0 for c in sorted(plan.cameras)}
    dropped = 0
    for r in rows:
        cams[r["camera_id"]] = int(r["on_floor"])
        dropped += int(r["n"]) - int(r["on_floor"])
    return cams, dropped


def plan_info(plan: SiteFloorPlan) -> FloorPlanInfo:
    """How to draw the site's floor plan.

    Raises:
        FloorNotReady: no calibrated camera.
    """
    plan.require()
    cams = []
    for cid in sorted(plan.cameras):
        report = plan.cameras[cid].calibration.report()
        hull = _hull(plan.cameras[cid])
        cams.append(
            FloorCamera(
                camera_id=cid,
                points=int(report["points"]),
                mean_error_m=float(report["mean_error_m"]),
                ok=bool(report["ok"]),
                footprint=hull,
            )
        )
    size = plan.image_size
    return FloorPlanInfo(
        has_image=size is not None and plan.px_per_m is not None,
        image_error=plan.image_error,
        image_width_px=size[0] if size else None,
        image_height_px=size[1] if size else None,
        px_per_m=plan.px_per_m if size else None,
        origin_px=plan.origin_px if size else None,
        extent_m=plan.image_extent(),
        cameras=cams,
        uncalibrated=dict(sorted(plan.uncalibrated.items())),
        areas=[FloorArea(name=a.name, polygon=list(a.polygon)) for a in plan.areas],
    )


def _hull(cam: CameraFloor) -> list[tuple[float, float]]:
    """Convex hull of a camera's calibration floor points (counter-clockwise)."""
    hull = cv2.convexHull(cam.floor_points.astype(np.float32)).reshape(-1, 2)
    return [(round(float(x), 4), round(float(y), 4)) for x, y in hull]


def floor_heatmap(
    store: EventStore,
    plan: SiteFloorPlan,
    day: str,
    cell_m: float = 0.5,
    *,
    include_staff: bool = False,
    sample_s: float = 1.0,
) -> FloorHeatmap:
    """Floor samples of one day per ``cell_m`` square cell (see module doc).

    Raises:
        FloorNotReady: no calibrated camera.
        ValueError: a bad day, cell size or sample period, or a grid over
            :data:`MAX_CELLS_PER_SIDE` cells a side.
    """
    check_day(day)
    cell = _check_positive("cell_m", cell_m, 100.0)
    dt = _check_positive("sample_s", sample_s, 3600.0)
    plan.require()
    where = _staff(include_staff)
    params: dict[str, Any] = {"day": day, "dt": dt}
    rows = store.sql(
        f"""
        WITH {_samples_sql(plan, where)}
        SELECT floor(fx / $cell)::BIGINT AS ix, floor(fy / $cell)::BIGINT AS iy, count(*) AS n
        FROM s WHERE isfinite(fx) AND isfinite(fy) GROUP BY ix, iy
        """,
        {**params, "cell": cell},
        day=day,
    )
    cams, dropped = _camera_counts(store, plan, day, where, params)
    extent = plan.image_extent()
    if extent is not None:
        ix0, iy0 = math.floor(extent[0] / cell + 1e-9), math.floor(extent[1] / cell + 1e-9)
        ix1, iy1 = math.ceil(extent[2] / cell - 1e-9), math.ceil(extent[3] / cell - 1e-9)
    else:
        xs = [r["ix"] for r in rows]
        ys = [r["iy"] for r in rows]
        for a in plan.areas:
            xs += [math.floor(p[0] / cell) for p in a.polygon]
            ys += [math.floor(p[1] / cell) for p in a.polygon]
        if xs:
            ix0, iy0, ix1, iy1 = min(xs), min(ys), max(xs) + 1, max(ys) + 1
        else:
            ix0 = iy0 = ix1 = iy1 = 0
    cols, nrows = ix1 - ix0, iy1 - iy0
    if cols > MAX_CELLS_PER_SIDE or nrows > MAX_CELLS_PER_SIDE:
        raise ValueError(
            f"cell_m {cell:g} is too small for the floor's extent: {cols}×{nrows} cells"
            f" (at most {MAX_CELLS_PER_SIDE} a side); use a larger cell_m"
        )
    counts = np.zeros((max(nrows, 0), max(cols, 0)), np.int64)
    outside = 0
    for r in rows:
        ix, iy = int(r["ix"]) - ix0, int(r["iy"]) - iy0
        if 0 <= ix < cols and 0 <= iy < nrows:
            counts[iy, ix] += int(r["n"])
        else:
            outside += int(r["n"])
    return FloorHeatmap(
        day=day,
        cell_m=cell,
        x0_m=ix0 * cell,
        y0_m=iy0 * cell,
        columns=cols,
        rows=nrows,
        counts=counts.tolist(),
        total=int(counts.sum()),
        outside=outside,
        sample_s=dt,
        cameras=cams,
        dropped=dropped,
        uncalibrated=dict(sorted(plan.uncalibrated.items())),
    )


def _areas_cte(areas: list[FloorAreaConfig]) -> str:
    """``edges(area, x1, y1, x2, y2)`` and ``boxes(area, bx0, by0, bx1, by1)``."""
    edges, boxes = [], []
    for a in areas:
        name = _sql_str(a.name)
        pts = [(float(x), float(y)) for x, y in a.polygon]
        for (x1, y1), (x2, y2) in zip(pts, pts[1:] + pts[:1], strict=True):
            edges.append(
                f"({name}, {x1!r}::DOUBLE, {y1!r}::DOUBLE, {x2!r}::DOUBLE, {y2!r}::DOUBLE)"
            )
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        boxes.append(
            f"({name}, {min(xs)!r}::DOUBLE, {min(ys)!r}::DOUBLE,"
            f" {max(xs)!r}::DOUBLE, {max(ys)!r}::DOUBLE)"
        )
    if len(edges) > MAX_AREAS_EDGES:
        raise ValueError(f"floor_plan.areas: {len(edges)} edges, at most {MAX_AREAS_EDGES}")
    return (
        f"edges(area, x1, y1, x2, y2) AS (VALUES {', '.join(edges)}),"
        f" boxes(area, bx0, by0, bx1, by1) AS (VALUES {', '.join(boxes)})"
    )


def floor_occupancy(
    store: EventStore,
    plan: SiteFloorPlan,
    calendar: BusinessCalendar,
    day: str,
    bucket: str = "15m",
    *,
    include_staff: bool = False,
    sample_s: float = 1.0,
    max_gap_s: float = 10.0,
) -> FloorOccupancy:
    """Samples, visitors, dwell and peak of every floor area over one day (see module doc).

    A point is inside an area by the even-odd rule (ray casting, in SQL); areas may
    overlap, a sample then counts in each.

    Raises:
        FloorNotReady: no calibrated camera, or no ``floor_plan.areas``.
        ValueError: a bad day, bucket, sample period or gap.
    """
    check_day(day)
    width = parse_bucket(bucket)
    dt = _check_positive("sample_s", sample_s, 3600.0)
    gap = _check_positive("max_gap_s", max_gap_s, 86_400.0)
    plan.require()
    if not plan.areas:
        raise FloorNotReady(
            "no floor areas configured (floor_plan.areas: named polygons in metres)"
        )
    start, _ = calendar.day_bounds(day)
    where = _staff(include_staff)
    params: dict[str, Any] = {"day": day, "dt": dt}
    base = f"""
        WITH {_samples_sql(plan, where)}, {_areas_cte(plan.areas)},
        s2 AS (
          SELECT *, row_number() OVER () AS sid,
                 lead(ts) OVER (PARTITION BY visit_id ORDER BY slot) AS next_ts
          FROM s WHERE isfinite(fx) AND isfinite(fy)),
        hit AS (
          SELECT s2.sid, b.area
          FROM s2 JOIN boxes b ON s2.fx BETWEEN b.bx0 AND b.bx1 AND s2.fy BETWEEN b.by0 AND b.by1
          JOIN edges e ON e.area = b.area
          GROUP BY s2.sid, b.area
          HAVING sum(CASE WHEN (e.y1 > s2.fy) <> (e.y2 > s2.fy)
                           AND s2.fx < (e.x2 - e.x1) * (s2.fy - e.y1) / NULLIF(e.y2 - e.y1, 0)
                                       + e.x1
                          THEN 1 ELSE 0 END) % 2 = 1),
        per AS (
          SELECT h.area, s2.global_id, s2.ts,
                 CASE WHEN s2.next_ts - s2.ts <= $gap THEN s2.next_ts - s2.ts ELSE 0.0 END AS dwell
          FROM hit h JOIN s2 ON s2.sid = h.sid)
    """
    q_params = {**params, "gap": gap}
    areas = store.sql(
        base
        + """
        SELECT area, count(*) AS samples, count(DISTINCT global_id) AS visitors,
               coalesce(sum(dwell), 0.0) AS dwell_s,
               (SELECT count(*) FROM s2) AS total, (SELECT count(DISTINCT sid) FROM hit) AS in_any
        FROM per GROUP BY area
        """,
        q_params,
        day=day,
    )
    peaks = store.sql(
        base
        + """
        SELECT area, floor((ts - $start) / $w)::BIGINT AS b, count(DISTINCT global_id) AS n
        FROM per GROUP BY area, b ORDER BY area, n DESC, b
        """,
        {**q_params, "start": float(start), "w": float(width)},
        day=day,
    )
    if areas:
        total, in_any = int(areas[0]["total"]), int(areas[0]["in_any"])
    else:
        (r,) = store.sql(
            f"WITH {_samples_sql(plan, where)} SELECT count(*) AS n FROM s"
            " WHERE isfinite(fx) AND isfinite(fy)",
            params,
            day=day,
        )
        total, in_any = int(r["n"]), 0
    peak: dict[str, tuple[int, float]] = {}
    for r in peaks:
        peak.setdefault(r["area"], (int(r["n"]), start + int(r["b"]) * width))
    by_area = {r["area"]: r for r in areas}
    out = []
    for a in plan.areas:
        row = by_area.get(a.name)
        n = int(row["samples"]) if row else 0
        pk = peak.get(a.name)
        out.append(
            AreaOccupancy(
                area=a.name,
                samples=n,
                visitors=int(row["visitors"]) if row else 0,
                dwell_s=float(row["dwell_s"]) if row else 0.0,
                share=n / total if total else None,
                peak_visitors=pk[0] if pk else 0,
                peak_start_ts=pk[1] if pk else None,
            )
        )
    cams, _ = _camera_counts(store, plan, day, where, params)
    return FloorOccupancy(
        day=day,
        bucket_s=width,
        sample_s=dt,
        total_samples=total,
        outside_samples=total - in_any,
        areas=out,
        cameras=cams,
        uncalibrated=dict(sorted(plan.uncalibrated.items())),
    )


def floor_route(
    store: EventStore,
    plan: SiteFloorPlan,
    day: str,
    global_id: str,
    *,
    sample_s: float = 1.0,
    max_gap_s: float = 10.0,
) -> FloorRoute:
    """One visitor's route on the floor over a day, and the cameras it went through.

    Raises:
        FloorNotReady: no calibrated camera.
        NotFound: the global ID has no visit that day.
        ValueError: a bad day, ID, sample period or gap.
    """
    check_day(day)
    if not isinstance(global_id, str) or not global_id:
        raise ValueError(f"global_id must be a non-empty string, got {global_id!r}")
    dt = _check_positive("sample_s", sample_s, 3600.0)
    gap = _check_positive("max_gap_s", max_gap_s, 86_400.0)
    plan.require()
    visits = store.sql(
        "SELECT visit_id FROM visits WHERE day = $day AND global_id = $gid ORDER BY in_ts",
        {"day": day, "gid": global_id},
        day=day,
    )
    if not visits:
        raise NotFound(f"visitor {global_id!r} has no visit on {day}")
    params: dict[str, Any] = {"day": day, "dt": dt, "gid": global_id}
    pts = store.sql(
        f"""
        WITH {_samples_sql(plan, "t.global_id = $gid")}
        SELECT visit_id, ts, fx, fy, cams FROM s WHERE isfinite(fx) AND isfinite(fy)
        ORDER BY ts, visit_id
        """,
        params,
        day=day,
    )
    legs = store.sql(
        f"""
        WITH {plan.cal_cte()},
        r AS (
          SELECT t.camera_id, t.ts, cal.w IS NOT NULL AS calibrated,
                 coalesce((cal.h20 * t.x * cal.w + cal.h21 * t.y * cal.h + cal.h22) * cal.front > 0,
                          FALSE) AS on_floor
          FROM track_points t LEFT JOIN cal ON cal.camera_id = t.camera_id
          WHERE t.day = $day AND t.global_id = $gid),
        g AS (
          SELECT *, ts - lag(ts) OVER (PARTITION BY camera_id ORDER BY ts) AS gap FROM r),
        k AS (
          SELECT *, sum(CASE WHEN gap IS NULL OR gap > $gap THEN 1 ELSE 0 END)
                      OVER (PARTITION BY camera_id ORDER BY ts) AS seg FROM g)
        SELECT camera_id, min(ts) AS start_ts, max(ts) AS end_ts, count(*) AS points,
               count(*) FILTER (WHERE on_floor) AS floor_points, bool_or(calibrated) AS calibrated
        FROM k GROUP BY camera_id, seg ORDER BY start_ts, camera_id
        """,
        {"day": day, "gid": global_id, "gap": gap},
        day=day,
    )
    points = [
        RoutePoint(
            ts=float(r["ts"]),
            x_m=float(r["fx"]),
            y_m=float(r["fy"]),
            cameras=list(r["cams"]),
            visit_id=r["visit_id"],
        )
        for r in pts
    ]
    length = 0.0
    for a, b in itertools.pairwise(points):
        if a.visit_id == b.visit_id:
            length += math.hypot(b.x_m - a.x_m, b.y_m - a.y_m)
    seq: list[str] = []
    for leg in legs:
        if not seq or seq[-1] != leg["camera_id"]:
            seq.append(leg["camera_id"])
    return FloorRoute(
        day=day,
        global_id=global_id,
        visits=[v["visit_id"] for v in visits],
        cameras=seq,
        legs=[RouteLeg.model_validate(r) for r in legs],
        points=points,
        length_m=round(length, 4),
        sample_s=dt,
        uncalibrated={c: plan.uncalibrated[c] for c in sorted(set(seq)) if c in plan.uncalibrated},
    )
