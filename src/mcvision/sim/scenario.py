"""A simulated store: cameras, their floors, zones, doors and entrance lines, who walks in.

Geometry is normalized (0..1 of the frame) so one scenario renders at any size.
Each camera sees a floor below ``horizon``; a person standing at foot height
``y`` is drawn ``person_height(y)`` pixels tall (perspective), never taller than
the person's native size. Cameras are joined by **doors**: a door at a frame
edge leads to another camera (or ``outside`` for the street door, which must
be crossed by an entrance line). The topology's transit windows say how long a
walk between two cameras takes; ``overlap`` pairs see the same floor, so a
person is on both for a moment.

A scenario is YAML-loadable (:func:`load_scenario`); :func:`default_scenario`
is the built-in crowded three-camera store (:func:`crowded_scenario`);
:func:`small_scenario` is the earlier 80-second store with six people. Both are
in :data:`SCENARIOS`, and :func:`resolve_scenario` takes a name or a YAML path.

Example:
    >>> sc = default_scenario()
    >>> [c.id for c in sc.cameras], sc.entrance_camera().id
    (['cam1', 'cam2', 'cam3'], 'cam1')
    >>> sc.transit("cam3", "cam2").overlap
    True
    >>> sorted(SCENARIOS), resolve_scenario("small").population.shoppers
    (['crowded', 'small'], 5)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mcvision.config import format_validation_error

Point = tuple[float, float]
Range = tuple[float, float]
OUTSIDE = "outside"

__all__ = [
    "OUTSIDE",
    "SCENARIOS",
    "CameraSpec",
    "DoorSpec",
    "LineSpec",
    "PopulationSpec",
    "Scenario",
    "ScenarioError",
    "TransitSpec",
    "ZoneSpec",
    "crowded_scenario",
    "default_scenario",
    "load_scenario",
    "resolve_scenario",
    "small_scenario",
]


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names each bad field."""


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _unit(points: list[Point] | tuple[Point, ...], what: str) -> None:
    if any(not (0.0 <= c <= 1.0) for p in points for c in p):
        raise ValueError(f"{what}: normalized coordinates must lie in 0..1")


def _range(r: Range, what: str, low: float = 0.0) -> None:
    if r[0] < low or r[1] < r[0]:
        raise ValueError(f"{what}: expected {low:g} <= min <= max, got {list(r)}")


class ZoneSpec(_M):
    """A floor zone (normalized polygon) and how long shoppers stay in it."""

    name: str = Field(min_length=1)
    polygon: list[Point] = Field(min_length=3)
    dwell_s: Range = (4.0, 10.0)

    @model_validator(mode="after")
    def _check(self) -> ZoneSpec:
        _unit(self.polygon, "polygon")
        _range(self.dwell_s, "dwell_s", 0.5)
        return self


class DoorSpec(_M):
    """Where people appear/disappear on a camera: the foot point and where it leads."""

    to: str = Field(min_length=1, description="camera id, or 'outside' for the street")
    point: Point

    @model_validator(mode="after")
    def _check(self) -> DoorSpec:
        _unit([self.point], "point")
        return self


class LineSpec(_M):
    """An entrance line (normalized), as in the site config."""

    name: str = Field(min_length=1)
    points: tuple[Point, Point]
    inside: Literal["left", "right"] = "left"

    @model_validator(mode="after")
    def _check(self) -> LineSpec:
        _unit(self.points, "points")
        if self.points[0] == self.points[1]:
            raise ValueError("points: the two points of a line must differ")
        return self


class CameraSpec(_M):
    """One rendered camera."""

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    width: int = Field(default=640, ge=64, le=3840)
    height: int = Field(default=360, ge=48, le=2160)
    horizon: float = Field(default=0.38, gt=0, lt=0.9, description="top of the floor, 0..1")
    person_height_far: float = Field(default=0.28, gt=0, le=1, description="at the horizon")
    person_height_near: float = Field(default=0.5, gt=0, le=1, description="at the bottom")
    scale: float = Field(default=1.0, gt=0, le=2)
    gain: float = Field(default=1.0, gt=0, le=3, description="brightness multiplier")
    colour: tuple[float, float, float] = Field(default=(1.0, 1.0, 1.0), description="B, G, R gains")
    floor: tuple[int, int, int] = Field(default=(150, 160, 170), description="floor BGR")
    zones: list[ZoneSpec] = Field(default_factory=list)
    doors: list[DoorSpec] = Field(min_length=1)
    lines: list[LineSpec] = Field(default_factory=list)

    def person_height(self, foot_y: float) -> float:
        """Height in pixels of a person whose feet are at pixel row ``foot_y``."""
        top = self.horizon * self.height
        f = min(max((foot_y - top) / max(self.height - top, 1.0), 0.0), 1.0)
        frac = self.person_height_far + (self.person_height_near - self.person_height_far) * f
        return frac * self.height * self.scale

    def door(self, to: str) -> DoorSpec:
        for d in self.doors:
            if d.to == to:
                return d
        raise KeyError(f"camera {self.id} has no door to {to!r}")

    def px(self, p: Point) -> tuple[float, float]:
        """A normalized point in pixels."""
        return (p[0] * self.width, p[1] * self.height)


class TransitSpec(_M):
    """Walking time between two cameras' doors (seconds, either way)."""

    a: str
    b: str
    min_s: float = Field(default=2.0, ge=0)
    max_s: float = Field(default=10.0, gt=0)
    overlap: bool = False

    @model_validator(mode="after")
    def _check(self) -> TransitSpec:
        if self.a == self.b:
            raise ValueError("a and b must be different cameras")
        if self.max_s < self.min_s:
            raise ValueError(f"max_s ({self.max_s}) must be >= min_s ({self.min_s})")
        return self


class PopulationSpec(_M):
    """Who walks in and how."""

    shoppers: int = Field(default=5, ge=0, le=200)
    staff: int = Field(default=1, ge=0, le=20)
    returning: int = Field(default=1, ge=0, description="shoppers who leave and come back")
    zones_per_visit: tuple[int, int] = (1, 2)
    arrivals_s: Range = Field(default=(1.0, 30.0), description="first-arrival window")
    return_gap_s: Range = (3.0, 8.0)
    walk_speed: float = Field(default=0.16, gt=0, le=2, description="frame widths per second")
    overlap_s: Range = Field(default=(1.0, 2.0), description="time seen on both overlap cameras")
    groups: int = Field(default=0, ge=0, description="groups of shoppers who walk in together")
    group_size: tuple[int, int] = Field(default=(2, 3), description="people per group, min and max")
    lookalikes: int = Field(
        default=0,
        ge=0,
        description="people chosen to share their dominant clothing colour with another person"
        " (ReID crop folders only)",
    )

    @model_validator(mode="after")
    def _check(self) -> PopulationSpec:
        if self.group_size[0] < 2 or self.group_size[1] < self.group_size[0]:
            raise ValueError(f"group_size: expected 2 <= min <= max, got {list(self.group_size)}")
        if self.groups * self.group_size[0] > self.shoppers:
            raise ValueError(
                f"groups: {self.groups} groups of at least {self.group_size[0]} need more than"
                f" {self.shoppers} shoppers"
            )
        if self.lookalikes == 1:
            raise ValueError("lookalikes: a look-alike needs a partner (0 or >= 2)")
        if self.zones_per_visit[0] < 0 or self.zones_per_visit[1] < self.zones_per_visit[0]:
            raise ValueError(
                f"zones_per_visit: expected 0 <= min <= max, got {self.zones_per_visit}"
            )
        _range(self.arrivals_s, "arrivals_s")
        _range(self.return_gap_s, "return_gap_s")
        _range(self.overlap_s, "overlap_s")
        if self.returning > self.shoppers:
            raise ValueError(f"returning ({self.returning}) must be <= shoppers ({self.shoppers})")
        return self


class Scenario(_M):
    """A whole simulated site."""

    site_id: str = Field(default="simstore", pattern=r"^[A-Za-z0-9_.-]+$")
    fps: float = Field(default=10.0, gt=0, le=60)
    duration_s: float = Field(default=80.0, gt=0, le=3600)
    cameras: list[CameraSpec] = Field(min_length=1)
    transits: list[TransitSpec] = Field(default_factory=list)
    population: PopulationSpec = Field(default_factory=PopulationSpec)
    min_person_height: float = Field(default=100.0, gt=0, description="smallest cutout (px)")
    matting: Literal["feather", "seg", "seg+sam"] = Field(
        default="seg",
        description="person mattes: seg (YOLO-seg on crops), seg+sam (SAM where YOLO-seg"
        " finds no person) or feather (soft box)",
    )
    noise: float = Field(default=3.0, ge=0, description="sensor noise std (grey levels)")

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        ids = [c.id for c in self.cameras]
        if len(set(ids)) != len(ids):
            raise ValueError(
                f"cameras: duplicate camera ids {sorted({i for i in ids if ids.count(i) > 1})}"
            )
        known = set(ids)
        for i, c in enumerate(self.cameras):
            tos = [d.to for d in c.doors]
            if len(set(tos)) != len(tos):
                raise ValueError(f"cameras[{i}].doors: two doors lead to the same place")
            for j, d in enumerate(c.doors):
                if d.to != OUTSIDE and d.to not in known:
                    raise ValueError(f"cameras[{i}].doors[{j}].to: unknown camera {d.to!r}")
                if d.to == c.id:
                    raise ValueError(
                        f"cameras[{i}].doors[{j}].to: a door cannot lead to its camera"
                    )
                if d.to != OUTSIDE:
                    other = self.cameras[ids.index(d.to)]
                    if c.id not in [e.to for e in other.doors]:
                        raise ValueError(
                            f"cameras[{i}].doors[{j}]: camera {d.to!r} has no door back to {c.id!r}"
                        )
                    if self.transit(c.id, d.to) is None:
                        raise ValueError(
                            f"cameras[{i}].doors[{j}]: no transit between {c.id!r} and {d.to!r}"
                        )
        entrances = [c for c in self.cameras if OUTSIDE in [d.to for d in c.doors]]
        if len(entrances) != 1:
            raise ValueError(
                f"cameras: exactly one camera needs a door to 'outside', got {len(entrances)}"
            )
        if not entrances[0].lines:
            raise ValueError(
                f"cameras: the entrance camera {entrances[0].id!r} needs an entrance line"
            )
        for i, t in enumerate(self.transits):
            for end in (t.a, t.b):
                if end not in known:
                    raise ValueError(f"transits[{i}]: unknown camera {end!r}")
        names = [z.name for c in self.cameras for z in c.zones]
        if len(set(names)) != len(names):
            raise ValueError("cameras: zone names must be unique across cameras")
        return self

    def camera(self, camera_id: str) -> CameraSpec:
        for c in self.cameras:
            if c.id == camera_id:
                return c
        raise KeyError(camera_id)

    def entrance_camera(self) -> CameraSpec:
        """The camera with the street door."""
        return next(c for c in self.cameras if OUTSIDE in [d.to for d in c.doors])

    def transit(self, a: str, b: str) -> TransitSpec | None:
        for t in self.transits:
            if {t.a, t.b} == {a, b}:
                return t
        return None

    @property
    def frames(self) -> int:
        """Frames per camera."""
        return round(self.duration_s * self.fps)


def small_scenario() -> Scenario:
    """The small store: entrance (cam1), an aisle (cam2) and a back room (cam3).

    cam1 → cam2 is a 3-8 s walk out of view; cam2 and cam3 overlap. 80 s at 10 fps,
    640×360, five shoppers (one leaves and comes back) and one member of staff.
    """
    return Scenario(
        cameras=[
            CameraSpec(
                id="cam1",
                floor=(150, 165, 175),
                doors=[
                    DoorSpec(to=OUTSIDE, point=(0.04, 0.82)),
                    DoorSpec(to="cam2", point=(0.96, 0.62)),
                ],
                lines=[LineSpec(name="door", points=((0.15, 0.45), (0.15, 0.99)), inside="left")],
                zones=[
                    ZoneSpec(
                        name="checkout",
                        polygon=[(0.45, 0.55), (0.75, 0.55), (0.75, 0.92), (0.45, 0.92)],
                        dwell_s=(4, 8),
                    )
                ],
            ),
            CameraSpec(
                id="cam2",
                scale=0.92,
                gain=0.85,
                colour=(1.08, 1.0, 0.92),
                floor=(175, 170, 150),
                doors=[
                    DoorSpec(to="cam1", point=(0.04, 0.70)),
                    DoorSpec(to="cam3", point=(0.96, 0.78)),
                ],
                zones=[
                    ZoneSpec(
                        name="produce",
                        polygon=[(0.14, 0.48), (0.44, 0.48), (0.44, 0.8), (0.14, 0.8)],
                    ),
                    ZoneSpec(
                        name="bakery",
                        polygon=[(0.55, 0.45), (0.86, 0.45), (0.86, 0.68), (0.55, 0.68)],
                    ),
                ],
            ),
            CameraSpec(
                id="cam3",
                scale=1.05,
                gain=1.15,
                colour=(0.92, 1.0, 1.08),
                floor=(140, 150, 160),
                doors=[DoorSpec(to="cam2", point=(0.04, 0.74))],
                zones=[
                    ZoneSpec(
                        name="electronics",
                        polygon=[(0.35, 0.5), (0.75, 0.5), (0.75, 0.9), (0.35, 0.9)],
                        dwell_s=(5, 12),
                    )
                ],
            ),
        ],
        transits=[
            TransitSpec(a="cam1", b="cam2", min_s=3.0, max_s=8.0),
            TransitSpec(a="cam2", b="cam3", min_s=0.0, max_s=4.0, overlap=True),
        ],
    )


def crowded_scenario() -> Scenario:
    """The crowded store (the default): the small store's three cameras, busy for five minutes.

    24 shoppers and 2 staff over 300 s at 5 fps: groups of 2-3 walk in together (side
    by side, crossing and occluding each other and other shoppers), 4 shoppers come back
    the same day, 8 people are chosen in look-alike sets (the same dominant clothing
    colour) when the people come from a ReID crop folder, cam2 and cam3 watch the same
    floor side by side (a person walks their shared strip on both for 2-5 s, see
    :mod:`mcvision.sim.floor`), and up to about eight people are in one view at a time
    (``render_report.json`` gives the measured peak).
    """
    data = small_scenario().model_dump()
    for cam in data["cameras"]:
        for z in cam["zones"]:
            z["dwell_s"] = (6.0, 16.0)
    data.update(
        fps=5.0,
        duration_s=300.0,
        transits=[
            {"a": "cam1", "b": "cam2", "min_s": 3.0, "max_s": 8.0},
            {"a": "cam2", "b": "cam3", "min_s": 0.0, "max_s": 6.0, "overlap": True},
        ],
        population={
            "shoppers": 24,
            "staff": 2,
            "returning": 4,
            "zones_per_visit": (1, 3),
            "arrivals_s": (1.0, 200.0),
            "return_gap_s": (5.0, 25.0),
            "overlap_s": (2.0, 5.0),
            "groups": 4,
            "group_size": (2, 3),
            "lookalikes": 8,
        },
    )
    return Scenario.model_validate(data)


#: Built-in scenarios by name (``mcvision sim --scenario NAME``).
SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "crowded": crowded_scenario,
    "small": small_scenario,
}


def default_scenario() -> Scenario:
    """The default scenario: :func:`crowded_scenario`."""
    return crowded_scenario()


def resolve_scenario(name_or_path: str | Path | None) -> Scenario:
    """A built-in scenario by name (see :data:`SCENARIOS`), a YAML file, or the default (None).

    Raises:
        ScenarioError: neither a known name nor a valid scenario file.
    """
    if name_or_path is None:
        return default_scenario()
    if str(name_or_path) in SCENARIOS:
        return SCENARIOS[str(name_or_path)]()
    p = Path(name_or_path)
    if not p.exists() and p.suffix not in (".yaml", ".yml"):
        raise ScenarioError(
            f"{name_or_path!r}: neither a built-in scenario ({', '.join(sorted(SCENARIOS))}) nor a file"
        )
    return load_scenario(p)


def load_scenario(path: str | Path) -> Scenario:
    """Load a scenario YAML.

    Raises:
        ScenarioError: missing file, bad YAML or an invalid scenario (fields named).
    """
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except FileNotFoundError:
        raise ScenarioError(f"{p}: scenario file not found") from None
    except yaml.YAMLError as err:
        raise ScenarioError(f"{p}: not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{p}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(f"{p}: invalid scenario\n{format_validation_error(err)}") from None
