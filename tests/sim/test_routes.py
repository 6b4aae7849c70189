from __future__ import annotations

import numpy as np
import pytest

from mcvision.sim.routes import Leg, plan_people
from mcvision.sim.scenario import OUTSIDE, crowded_scenario, small_scenario


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_routes_respect_topology_and_time(seed: int) -> None:
    sc = small_scenario()
    plans = plan_people(sc, n_sprites=12, rng=np.random.default_rng(seed))
    assert sum(p.is_staff for p in plans) == 1
    assert len({p.sprite for p in plans}) == len(plans)  # one person per identity
    for p in plans:
        for a, b in zip(p.legs, p.legs[1:], strict=False):
            if a.camera == b.camera:  # left through the street door and came back
                assert a.camera == "cam1" and b.start - a.end >= sc.population.return_gap_s[0]
                continue
            t = sc.transit(a.camera, b.camera)
            assert t is not None, (p.person_id, a.camera, b.camera)
            gap = b.start - a.end
            assert gap <= t.max_s and (t.overlap or gap >= t.min_s), (p.person_id, gap)
        if not p.is_staff:
            assert p.legs[-1].end <= sc.duration_s - 1.0
            door = sc.entrance_camera().px(sc.entrance_camera().door(OUTSIDE).point)
            assert p.legs[0].camera == "cam1" and p.legs[0].points[0][0] == pytest.approx(door[0])
            assert p.legs[-1].points[-1][0] == pytest.approx(door[0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_staff_is_in_all_day_and_someone_returns(seed: int) -> None:
    sc = small_scenario()
    plans = plan_people(sc, n_sprites=12, rng=np.random.default_rng(seed))
    staff = next(p for p in plans if p.is_staff)
    assert staff.legs[0].start == 0.0 and staff.legs[-1].end >= sc.duration_s
    assert sum(len(p.visits) == 2 for p in plans if not p.is_staff) == sc.population.returning
    assert all(len(p.visits) <= 2 for p in plans)


def test_fewer_identities_than_people() -> None:
    plans = plan_people(small_scenario(), n_sprites=3, rng=np.random.default_rng(0))
    assert len(plans) <= 3 and plans[0].is_staff


def test_leg_interpolation() -> None:
    leg = Leg("c", [0.0, 2.0, 4.0], [(0.0, 0.0), (100.0, 50.0), (100.0, 50.0)])
    assert leg.at(1.0) == (50.0, 25.0, True)
    assert leg.at(3.0) == (100.0, 50.0, False)
    assert leg.at(4.5) is None


@pytest.mark.parametrize("seed", [0, 1])
def test_crowded_groups_walk_together_within_the_topology(seed: int) -> None:
    sc = crowded_scenario()
    plans = plan_people(sc, n_sprites=40, rng=np.random.default_rng(seed))
    assert sum(p.is_staff for p in plans) == 2 and sum(not p.is_staff for p in plans) == 24
    groups: dict[int, list] = {}
    for p in plans:
        if p.group is not None:
            groups.setdefault(p.group, []).append(p)
        for a, b in zip(p.legs, p.legs[1:], strict=False):
            if a.camera == b.camera:
                continue
            t = sc.transit(a.camera, b.camera)
            assert t is not None and b.start - a.end <= t.max_s
        assert p.is_staff or p.legs[-1].end <= sc.duration_s - 1.0
    assert len(groups) >= 2
    for members in groups.values():
        assert 2 <= len(members) <= 3
        lead, *rest = members
        for f in rest:  # same cameras in the same order, a moment later, a step aside
            first = [leg.camera for leg in lead.legs if leg.start <= lead.visits[0][1]]
            assert [leg.camera for leg in f.legs if leg.start <= f.visits[0][1]] == first
            lag = f.legs[0].start - lead.legs[0].start
            assert 0.4 <= lag <= 2.4
            dx = f.legs[0].points[0][0] - lead.legs[0].points[0][0]
            assert 0.03 * 640 - 1e-6 <= abs(dx) <= 0.07 * 640 + 1e-6
