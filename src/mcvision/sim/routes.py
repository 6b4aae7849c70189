"""Scripted routes: where every simulated person is, on which camera, at every moment.

A route is a list of :class:`Leg` s, one per stay on one camera: timed foot
points (pixels) joined by straight walks or dwells. Shoppers come in through the
street door (crossing the entrance line), visit zones (dwell times drawn from
the zones' ranges), walk between cameras through doors (the gap drawn inside the
transit window; overlapping cameras see the person on both for a moment), and
leave through the street door; some come back. **Groups** walk together: the
followers take the leader's route a moment later and a step to the side, so they
cross and occlude each other. Staff are inside from the first frame to the last
and never leave.

Everything is drawn from the ``numpy.random.Generator`` passed in, so a seed
gives the same routes.

Example:
    >>> import numpy as np
    >>> from mcvision.sim.scenario import default_scenario
    >>> plans = plan_people(default_scenario(), n_sprites=10, rng=np.random.default_rng(0))
    >>> [p.person_id for p in plans][:2], plans[0].is_staff
    (['S01', 'P01'], True)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
from shapely.geometry import Point as SPoint
from shapely.geometry import Polygon

from mcvision.sim.floor import floor_layout, handover, to_image
from mcvision.sim.scenario import OUTSIDE, CameraSpec, Scenario, ZoneSpec

__all__ = ["Leg", "PersonPlan", "plan_people"]


@dataclass
class Leg:
    """One stay on one camera: foot points (pixels) at times (s), linear in between."""

    camera: str
    times: list[float] = field(default_factory=list)
    points: list[tuple[float, float]] = field(default_factory=list)

    @property
    def start(self) -> float:
        return self.times[0]

    @property
    def end(self) -> float:
        return self.times[-1]

    def at(self, t: float) -> tuple[float, float, bool] | None:
        """(x, y, moving) at time ``t``, or None outside the leg."""
        if t < self.times[0] or t > self.times[-1]:
            return None
        i = int(np.searchsorted(self.times, t, side="right")) - 1
        i = min(max(i, 0), len(self.times) - 2) if len(self.times) > 1 else 0
        if len(self.times) == 1:
            x, y = self.points[0]
            return x, y, False
        t0, t1 = self.times[i], self.times[i + 1]
        (x0, y0), (x1, y1) = self.points[i], self.points[i + 1]
        f = 0.0 if t1 <= t0 else (t - t0) / (t1 - t0)
        moving = bool(np.hypot(x1 - x0, y1 - y0) / max(t1 - t0, 1e-6) > 8.0)  # > 8 px/s
        return x0 + f * (x1 - x0), y0 + f * (y1 - y0), moving


@dataclass
class PersonPlan:
    """A person's whole day: legs in time order and the planned visit windows."""

    person_id: str
    sprite: int
    is_staff: bool
    legs: list[Leg]
    visits: list[tuple[float, float]]
    group: int | None = None  # walks in with the others of this group (see _form_groups)


class _Walker:
    def __init__(
        self, sc: Scenario, rng: np.random.Generator, cam: str, pos: tuple[float, float], t: float
    ):
        self.sc, self.rng = sc, rng
        self.layout = _layout(sc)
        self.t = t
        self.legs: list[Leg] = [Leg(cam, [t], [pos])]

    @property
    def cam(self) -> CameraSpec:
        return self.sc.camera(self.legs[-1].camera)

    @property
    def pos(self) -> tuple[float, float]:
        return self.legs[-1].points[-1]

    def _add(self, t: float, p: tuple[float, float]) -> None:
        leg = self.legs[-1]
        leg.times.append(t)
        leg.points.append(p)
        self.t = t

    def walk_to(self, p: tuple[float, float]) -> None:
        x0, y0 = self.pos
        speed = self.sc.population.walk_speed * self.cam.width * float(self.rng.uniform(0.85, 1.15))
        dt = max(float(np.hypot(p[0] - x0, p[1] - y0)) / speed, 1.0 / self.sc.fps)
        self._add(self.t + dt, p)

    def dwell(self, seconds: float) -> None:
        x0, y0 = self.pos
        n = max(1, int(seconds))
        sway = 0.004 * self.cam.width
        for k in range(1, n + 1):
            last = k == n
            jx = 0.0 if last else float(self.rng.uniform(-sway, sway))
            jy = 0.0 if last else float(self.rng.uniform(-sway, sway) * 0.5)
            self._add(self.t + seconds / n, (x0 + jx, y0 + jy))

    def go_to(self, cam_id: str) -> None:
        """Walk out through the door to ``cam_id`` and appear at its door back.

        Between overlapping cameras the person walks the floor strip both see
        (:func:`mcvision.sim.floor.handover`), drawn on both at the same floor point.
        """
        here = self.cam
        tr = self.sc.transit(here.id, cam_id)
        assert tr is not None  # checked by the scenario
        if tr.overlap:
            self._overlap_handover(cam_id)
            return
        door = self.cam.px(here.door(cam_id).point)
        self.walk_to(door)
        span = tr.max_s - tr.min_s
        margin = min(0.2 * span + 2.0 / self.sc.fps, span / 2)
        start = self.t + float(self.rng.uniform(tr.min_s + margin, tr.max_s - margin))
        other = self.sc.camera(cam_id)
        self.legs.append(Leg(cam_id, [start], [other.px(other.door(here.id).point)]))
        self.t = start

    def _overlap_handover(self, cam_id: str) -> None:
        here = self.cam.id
        start, end = handover(self.sc, self.layout, here, cam_id)
        self.walk_to(tuple(to_image(self.layout[here], start[None])[0]))
        lo, hi = self.sc.population.overlap_s
        dur = float(self.rng.uniform(lo, hi))
        t0 = self.t
        n = max(2, int(np.ceil(dur * self.sc.fps)))
        f = np.linspace(0.0, 1.0, n + 1)[:, None]
        path = start[None] + f * (end - start)[None]
        here_px = to_image(self.layout[here], path)
        there_px = to_image(self.layout[cam_id], path)
        times = [t0 + float(k) * dur / n for k in range(n + 1)]
        for k in range(1, n + 1):
            self._add(times[k], (float(here_px[k, 0]), float(here_px[k, 1])))
        self.legs.append(Leg(cam_id, times, [(float(x), float(y)) for x, y in there_px]))
        self.t = times[-1]

    def navigate(self, cam_id: str) -> None:
        for step in _path(self.sc, self.cam.id, cam_id)[1:]:
            self.go_to(step)


_LAYOUTS: dict[int, tuple[Scenario, dict[str, np.ndarray]]] = {}


def _layout(sc: Scenario) -> dict[str, np.ndarray]:
    """The scenario's floor plan (cached per scenario object)."""
    hit = _LAYOUTS.get(id(sc))
    if hit is None or hit[0] is not sc:
        hit = (sc, floor_layout(sc))
        _LAYOUTS.clear()
        _LAYOUTS[id(sc)] = hit
    return hit[1]


def _path(sc: Scenario, a: str, b: str) -> list[str]:
    """Cameras from ``a`` to ``b`` through doors (breadth-first, door order)."""
    prev: dict[str, str | None] = {a: None}
    queue = deque([a])
    while queue:
        c = queue.popleft()
        if c == b:
            break
        for d in sc.camera(c).doors:
            if d.to != OUTSIDE and d.to not in prev:
                prev[d.to] = c
                queue.append(d.to)
    if b not in prev:
        raise ValueError(f"no way through doors from camera {a!r} to {b!r}")
    out = [b]
    while prev[out[-1]] is not None:
        out.append(prev[out[-1]])  # type: ignore[arg-type]
    return out[::-1]


def _point_in(zone: ZoneSpec, cam: CameraSpec, rng: np.random.Generator) -> tuple[float, float]:
    poly = Polygon([cam.px(p) for p in zone.polygon])
    inner = poly.buffer(
        -0.08 * min(poly.bounds[2] - poly.bounds[0], poly.bounds[3] - poly.bounds[1])
    )
    target = inner if not inner.is_empty else poly
    x1, y1, x2, y2 = target.bounds
    for _ in range(1000):
        p = (float(rng.uniform(x1, x2)), float(rng.uniform(y1, y2)))
        if target.contains(SPoint(p)):
            return p
    c = target.representative_point()
    return (float(c.x), float(c.y))


def _zones(sc: Scenario) -> list[tuple[str, ZoneSpec]]:
    return [(c.id, z) for c in sc.cameras for z in c.zones]


def _shopper_visit(
    sc: Scenario, rng: np.random.Generator, t0: float, n_zones: int
) -> list[Leg] | None:
    """One visit from the street door and back, or None if it cannot end in time."""
    ent = sc.entrance_camera()
    all_zones = _zones(sc)
    state = rng.bit_generator.state
    for k in range(min(n_zones, len(all_zones)), -1, -1):
        rng.bit_generator.state = state  # every attempt draws the same numbers
        picks = [all_zones[i] for i in rng.permutation(len(all_zones))[:k]]
        picks.sort(key=lambda cz: len(_path(sc, ent.id, cz[0])))
        door = ent.px(ent.door(OUTSIDE).point)
        door = (door[0], door[1] + float(rng.uniform(-0.03, 0.03)) * ent.height)
        w = _Walker(sc, rng, ent.id, door, t0)
        for cam_id, zone in picks:
            w.navigate(cam_id)
            w.walk_to(_point_in(zone, w.cam, rng))
            w.dwell(float(rng.uniform(*zone.dwell_s)))
        if not picks:  # a look around the entrance floor
            y = float(rng.uniform(max(ent.horizon + 0.12, 0.5), 0.92)) * ent.height
            w.walk_to((float(rng.uniform(0.35, 0.8)) * ent.width, y))
            w.dwell(float(rng.uniform(1.0, 3.0)))
        w.navigate(ent.id)
        w.walk_to(door)
        if w.t <= sc.duration_s - 1.0:
            return w.legs
    return None


def _staff(sc: Scenario, rng: np.random.Generator) -> list[Leg]:
    zones = _zones(sc)
    if not zones:
        cam = sc.cameras[0]
        w = _Walker(sc, rng, cam.id, cam.px((0.5, 0.75)), 0.0)
        w.dwell(sc.duration_s)
        return w.legs
    cam_id, zone = zones[int(rng.integers(len(zones)))]
    cam = sc.camera(cam_id)
    w = _Walker(sc, rng, cam_id, _point_in(zone, cam, rng), 0.0)
    current = zone.name
    while w.t < sc.duration_s:
        w.dwell(float(rng.uniform(*zone.dwell_s)))
        choices = [cz for cz in zones if cz[1].name != current] or zones
        cam_id, zone = choices[int(rng.integers(len(choices)))]
        current = zone.name
        w.navigate(cam_id)
        w.walk_to(_point_in(zone, w.cam, rng))
    return w.legs


def plan_people(sc: Scenario, n_sprites: int, rng: np.random.Generator) -> list[PersonPlan]:
    """Routes of staff (``S01``...) and shoppers (``P01``...), one sprite each.

    People are cut to the sprites available (staff first). A shopper whose
    shortest visit cannot end before the video does is left out.
    """
    pop = sc.population
    n_staff = min(pop.staff, n_sprites)
    n_shop = min(pop.shoppers, n_sprites - n_staff)
    order = [int(i) for i in rng.permutation(n_sprites)]
    plans: list[PersonPlan] = []
    for i in range(n_staff):
        legs = _staff(sc, rng)
        plans.append(PersonPlan(f"S{i + 1:02d}", order[i], True, legs, [(0.0, sc.duration_s)]))
    arrivals = np.sort(rng.uniform(*pop.arrivals_s, size=n_shop))
    zlo, zhi = pop.zones_per_visit
    shoppers: list[PersonPlan] = []
    for i in range(n_shop):
        visit = _shopper_visit(sc, rng, float(arrivals[i]), int(rng.integers(zlo, zhi + 1)))
        if visit is not None:
            shoppers.append(
                PersonPlan(
                    f"P{i + 1:02d}",
                    order[n_staff + i],
                    False,
                    list(visit),
                    [(visit[0].start, visit[-1].end)],
                )
            )
    # the shoppers who left first come back (they have the most time to)
    for p in sorted(shoppers, key=lambda p: (p.legs[-1].end, p.person_id))[: pop.returning]:
        back = p.legs[-1].end + float(rng.uniform(*pop.return_gap_s))
        again = _shopper_visit(sc, rng, back, max(zlo, 1))
        if again is not None:
            p.legs += again
            p.visits.append((again[0].start, again[-1].end))
    _form_groups(sc, shoppers, rng)
    plans += shoppers
    return plans


def _shifted(legs: list[Leg], dt: float, dx: float, dy: float) -> list[Leg]:
    return [
        Leg(leg.camera, [t + dt for t in leg.times], [(x + dx, y + dy) for x, y in leg.points])
        for leg in legs
    ]


def _form_groups(sc: Scenario, shoppers: list[PersonPlan], rng: np.random.Generator) -> None:
    """Turn runs of shoppers into groups: each follower walks the leader's first visit.

    A follower keeps 0.4-1.2 s behind the one before and 3-7 % of the frame width to
    one side (alternating), so the group overlaps on screen. Only the leader's first
    visit is copied (later visits are drawn later, per person). Followers whose
    shifted visit would end after the video are left as they were.
    """
    pop = sc.population
    if pop.groups <= 0 or len(shoppers) < 2:
        return
    lo, hi = pop.group_size
    starts = sorted(
        int(i)
        for i in rng.choice(len(shoppers), size=min(pop.groups, len(shoppers)), replace=False)
    )
    taken: set[int] = set()
    for g, start in enumerate(starts, 1):
        if start in taken:
            continue
        size = int(rng.integers(lo, hi + 1))
        members = [i for i in range(start, len(shoppers)) if i not in taken][:size]
        if len(members) < 2:
            continue
        taken.update(members)
        leader = shoppers[members[0]]
        first = [leg for leg in leader.legs if leg.start <= leader.visits[0][1] + 1e-9]
        delay = 0.0
        for k, m in enumerate(members[1:], 1):
            delay += float(rng.uniform(0.4, 1.2))
            side = (1 if k % 2 else -1) * float(rng.uniform(0.03, 0.07))
            dx = side * sc.cameras[0].width
            dy = float(rng.uniform(-0.02, 0.02)) * sc.cameras[0].height
            legs = _shifted(first, delay, dx, dy)
            if legs[-1].end > sc.duration_s - 1.0:
                continue
            f = shoppers[m]
            shoppers[m] = PersonPlan(
                f.person_id, f.sprite, False, legs, [(legs[0].start, legs[-1].end)], g
            )
            leader.group = g
