"""The simulator's floor plan: homographies that match the pixels it draws."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from shapely.geometry import Polygon

from mcvision.config import load_config
from mcvision.identity.geometry import FloorCalibration, SiteFloor
from mcvision.sim import load_ground_truth, run_sim
from mcvision.sim.floor import PERSON_M, camera_homography, floor_layout, handover, to_floor
from mcvision.sim.routes import plan_people
from mcvision.sim.scenario import Scenario, default_scenario, small_scenario


def _view(cam, h: np.ndarray) -> Polygon:
    top = cam.horizon * cam.height + 1
    img = np.array([[0, top], [cam.width, top], [cam.width, cam.height], [0, cam.height]])
    return Polygon(to_floor(h, img))


def test_homography_is_the_pinhole_behind_the_perspective_scaling() -> None:
    """A 1.7 m person at the floor point of a foot row is person_height(row) pixels tall."""
    for cam in default_scenario().cameras:
        h = camera_homography(cam)
        for y in np.linspace(cam.horizon * cam.height + 5, cam.height, 7):
            _, z = to_floor(h, np.array([[cam.width / 2, y]]))[0]
            f = cam.width
            assert f * PERSON_M / z == pytest.approx(cam.person_height(y), rel=1e-9)


@pytest.mark.parametrize("sc", [default_scenario(), small_scenario()], ids=["crowded", "small"])
def test_layout_overlapping_cameras_share_floor_and_transits_are_walkable(sc: Scenario) -> None:
    lay = floor_layout(sc)
    views = {c.id: _view(c, lay[c.id]) for c in sc.cameras}
    for t in sc.transits:
        shared = views[t.a].intersection(views[t.b]).area
        if t.overlap:
            assert shared > 1.0
            start, end = handover(sc, lay, t.a, t.b)
            assert views[t.a].contains(_pt(start)) and views[t.b].contains(_pt(end))
        else:
            assert shared == 0.0
            da = to_floor(lay[t.a], np.array([sc.camera(t.a).px(sc.camera(t.a).door(t.b).point)]))
            db = to_floor(lay[t.b], np.array([sc.camera(t.b).px(sc.camera(t.b).door(t.a).point)]))
            assert float(np.linalg.norm(da - db)) <= 1.0 * t.min_s + 2.0  # 1 m/s + margin


def _pt(p: np.ndarray):
    from shapely.geometry import Point

    return Point(float(p[0]), float(p[1]))


def test_a_person_on_two_overlapping_cameras_is_on_one_floor_point() -> None:
    sc = default_scenario()
    lay = floor_layout(sc)
    plans = plan_people(sc, 40, np.random.default_rng([3, 1]))
    dists = []
    for p in plans:
        for a in p.legs:
            for b in p.legs:
                if (a.camera, b.camera) != ("cam2", "cam3"):
                    continue
                for t in np.arange(max(a.start, b.start), min(a.end, b.end) + 1e-9, 0.2):
                    pa, pb = a.at(float(t)), b.at(float(t))
                    fa = to_floor(lay["cam2"], np.array([pa[:2]]))
                    fb = to_floor(lay["cam3"], np.array([pb[:2]]))
                    dists.append(float(np.linalg.norm(fa - fb)))
    assert len(dists) > 50  # handovers happened
    assert max(dists) < 0.15  # group followers: a few centimetres


def test_render_writes_calibrations_that_match_its_pixels(
    people_dir: Path, tiny_data: dict, tmp_path: Path
) -> None:
    tiny_data["transits"] = [{"a": "a", "b": "b", "min_s": 0.0, "max_s": 2.0, "overlap": True}]
    tiny_data["population"]["overlap_s"] = [1.0, 1.5]
    sc = Scenario.model_validate(tiny_data)
    res = run_sim([people_dir], tmp_path / "out", seed=4, scenario=sc, check_detector=False)
    cfg = load_config(res.site_config)
    floor = SiteFloor.from_config(cfg)
    assert floor.cameras == ["a", "b"]
    for cam in cfg.cameras:
        assert cam.floor is not None and len(cam.floor.points) >= 4
        assert FloorCalibration.from_config(cam.id, cam.floor).mean_error_m < 1e-3
    gt = load_ground_truth(res.ground_truth)
    both = 0
    for fa, fb in zip(gt.frames["a"], gt.frames["b"], strict=True):
        on_b = {x.id: x for x in fb if x.visibility == 1.0 and x.box[0] > 0 and x.box[2] < 192}
        for x in fa:
            y = on_b.get(x.id)
            if y is None or x.visibility < 1.0 or x.box[0] <= 0 or x.box[2] >= 192:
                continue
            pa, pb = floor.project("a", x.foot), floor.project("b", y.foot)
            assert pa is not None and pb is not None
            assert np.hypot(pa[0] - pb[0], pa[1] - pb[1]) < 0.25, (x, y)
            both += 1
    assert both >= 3  # the shoppers were handed over on the shared floor
