"""Zones (polygons) and entrance lines of one camera, in frame pixels, on shapely.

* :class:`ZoneMap` — which zones hold each foot point. A point on a zone's
  boundary counts as inside.
* :class:`LineCrossingDetector` — directed crossings of entrance lines by a
  track's foot point between two updates.

Normalized geometry (``normalized: true`` in the config, coordinates in 0..1)
is scaled by the frame size.

Side convention: a line runs from ``points[0]`` to ``points[1]``; ``left`` and
``right`` are as seen walking along it **on the image** (x to the right, y
down). For a line drawn left to right, ``left`` is the upper part of the image.

Example:
    >>> from mcvision.config import LineConfig
    >>> door = LineConfig(name="door", points=((0, 100), (200, 100)), inside="right")
    >>> lines = LineCrossingDetector([door], frame_size=(640, 480))
    >>> lines.update(7, (100, 50))  # first sighting: nothing to compare with
    ()
    >>> [str(c.direction) for c in lines.update(7, (100, 150))]  # moved down: right side
    ['in']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon

from mcvision.config import CameraConfig, LineConfig, ZoneConfig
from mcvision.types import Direction, LineCrossing

FrameSize = tuple[int, int]


def _check_size(frame_size: FrameSize | None, what: str) -> FrameSize | None:
    if frame_size is None:
        return None
    if len(frame_size) != 2 or frame_size[0] <= 0 or frame_size[1] <= 0:
        raise ValueError(f"frame_size must be (width, height) > 0, got {frame_size} ({what})")
    return (int(frame_size[0]), int(frame_size[1]))


def _scale(
    points: Iterable[tuple[float, float]], normalized: bool, frame_size: FrameSize | None, what: str
) -> list[tuple[float, float]]:
    pts = [(float(x), float(y)) for x, y in points]
    if not normalized:
        return pts
    if frame_size is None:
        raise ValueError(f"{what} is normalized (0..1): a frame size (width, height) is needed")
    w, h = frame_size
    return [(x * w, y * h) for x, y in pts]


class ZoneMap:
    """The zone polygons of one camera, in pixels.

    Args:
        camera: the camera's config (its ``zones``), or a list of zones.
        frame_size: (width, height) of the frames; needed for normalized zones
            (default: the camera's ``resolution``).

    Example:
        >>> from mcvision.config import CameraConfig
        >>> cam = CameraConfig(id="c1", source="v.mp4", zones=[
        ...     {"name": "till", "polygon": [(0, 0), (0.5, 0), (0.5, 1), (0, 1)], "normalized": True}])
        >>> ZoneMap(cam, (640, 480)).zones_at(np.array([[100, 200], [600, 200]]))
        [('till',), ()]
    """

    def __init__(
        self, camera: CameraConfig | Sequence[ZoneConfig], frame_size: FrameSize | None = None
    ) -> None:
        if isinstance(camera, CameraConfig):
            zones = list(camera.zones)
            frame_size = frame_size or camera.resolution
            where = f"camera {camera.id}"
        else:
            zones = list(camera)
            where = "zones"
        self.frame_size = _check_size(frame_size, where)
        self.names: tuple[str, ...] = tuple(z.name for z in zones)
        self.polygons: list[Polygon] = []
        for i, z in enumerate(zones):
            pts = _scale(z.polygon, z.normalized, self.frame_size, f"{where} zone {z.name!r}")
            poly = Polygon(pts)
            if not poly.is_valid:
                poly = shapely.make_valid(poly)
                if poly.area == 0:
                    raise ValueError(f"{where} zones[{i}] {z.name!r}: polygon has no area")
            shapely.prepare(poly)
            self.polygons.append(poly)

    def __len__(self) -> int:
        return len(self.polygons)

    def zones_at(self, points: np.ndarray) -> list[tuple[str, ...]]:
        """Names of the zones holding each point (boundary counts as inside).

        Args:
            points: (N, 2) pixel coordinates (e.g. ``Detections.foot_points``).

        Returns:
            One tuple of zone names per point, in config order, each name once.
        """
        pts = np.asarray(points, dtype=np.float64)
        if pts.size == 0:
            return []
        if pts.ndim != 2 or pts.shape[1] != 2:
            raise ValueError(f"points must be (N, 2), got {pts.shape}")
        inside = np.zeros((len(self.polygons), len(pts)), dtype=bool)
        for k, poly in enumerate(self.polygons):
            inside[k] = shapely.intersects_xy(poly, pts[:, 0], pts[:, 1])
        out = []
        for j in range(len(pts)):
            names = dict.fromkeys(self.names[k] for k in np.flatnonzero(inside[:, j]))
            out.append(tuple(names))
        return out


@dataclass(frozen=True)
class _Line:
    name: str
    a: np.ndarray
    b: np.ndarray
    inside_sign: int  # sign of the cross product on the inside side
    geom: LineString

    def side(self, p: np.ndarray) -> int:
        d = self.b - self.a
        cross = d[0] * (p[1] - self.a[1]) - d[1] * (p[0] - self.a[0])
        return int(np.sign(cross))


class LineCrossingDetector:
    """Directed crossings of entrance lines by each track's foot point.

    A crossing is reported when the move from the previous point to the new one
    intersects the line *segment* and goes from one strict side to the other.
    A point exactly on the line does not count as a side: the previous side is
    kept until the point leaves the line. Moves past the segment's ends, or along
    it, are not crossings.

    Args:
        lines: the camera's ``lines``.
        frame_size: (width, height), needed for normalized lines.
    """

    def __init__(self, lines: Sequence[LineConfig], frame_size: FrameSize | None = None) -> None:
        self.frame_size = _check_size(frame_size, "lines")
        self.lines: list[_Line] = []
        for ln in lines:
            (a, b) = _scale(ln.points, ln.normalized, self.frame_size, f"line {ln.name!r}")
            # image coords (y down): "left" of the direction of travel has cross < 0
            sign = -1 if ln.inside == "left" else 1
            self.lines.append(_Line(ln.name, np.array(a), np.array(b), sign, LineString([a, b])))
        self._last: dict[tuple[int, int], np.ndarray] = {}  # (track, line) -> last off-line point

    def distance(self, point: Sequence[float]) -> float:
        """Pixels from ``point`` to the nearest of the line segments (inf without lines).

        Example:
            >>> from mcvision.config import LineConfig
            >>> d = LineCrossingDetector([LineConfig(name="d", points=((0, 0), (0, 10)))])
            >>> d.distance((3, 5)), d.distance((0, 14))
            (3.0, 4.0)
        """
        p = shapely.Point(float(point[0]), float(point[1]))
        return min((ln.geom.distance(p) for ln in self.lines), default=float("inf"))

    @classmethod
    def for_camera(
        cls, camera: CameraConfig, frame_size: FrameSize | None = None
    ) -> LineCrossingDetector:
        """The detector for one camera's lines."""
        return cls(camera.lines, frame_size or camera.resolution)

    def update(
        self, track_id: int, point: Sequence[float] | np.ndarray
    ) -> tuple[LineCrossing, ...]:
        """Move a track's foot point; return the crossings this move made."""
        p = np.asarray(point, dtype=np.float64).reshape(-1)
        if p.shape != (2,) or not np.isfinite(p).all():
            raise ValueError(f"point must be a finite (x, y), got {point!r}")
        out: list[LineCrossing] = []
        for k, ln in enumerate(self.lines):
            key = (track_id, k)
            side = ln.side(p)
            if side == 0:
                continue  # on the line: keep the previous side
            prev = self._last.get(key)
            self._last[key] = p
            if prev is None:
                continue
            prev_side = ln.side(prev)
            if prev_side == side:
                continue
            if not LineString([prev, p]).intersects(ln.geom):
                continue  # went around the end of the segment
            direction = Direction.IN if side == ln.inside_sign else Direction.OUT
            out.append(LineCrossing(line=ln.name, direction=direction))
        return tuple(out)

    def forget(self, track_id: int) -> None:
        """Drop a track's state (call when it ends)."""
        for k in range(len(self.lines)):
            self._last.pop((track_id, k), None)

    @property
    def tracks(self) -> set[int]:
        """Tracks with a remembered point."""
        return {t for t, _ in self._last}


__all__ = ["LineCrossingDetector", "ZoneMap"]
