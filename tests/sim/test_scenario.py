from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from mcvision.sim.scenario import Scenario, ScenarioError, default_scenario, load_scenario
from tests.sim.conftest import TINY


def test_default_scenario_shape() -> None:
    sc = default_scenario()
    assert [c.id for c in sc.cameras] == ["cam1", "cam2", "cam3"]
    assert sc.entrance_camera().id == "cam1"
    assert [t.overlap for t in sc.transits] == [False, True]
    assert sc.frames == round(sc.duration_s * sc.fps)
    assert 60 <= sc.duration_s <= 90


def test_person_height_grows_towards_the_camera() -> None:
    cam = default_scenario().cameras[0]
    assert cam.person_height(cam.horizon * cam.height) == pytest.approx(0.28 * 360)
    assert cam.person_height(360) == pytest.approx(0.5 * 360)


def test_yaml_round_trip(tmp_path: Path) -> None:
    sc = default_scenario()
    f = tmp_path / "sc.yaml"
    f.write_text(yaml.safe_dump(sc.model_dump(mode="json")))
    assert load_scenario(f) == sc


def _broken(path: list[Any], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(TINY)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_broken(["cameras", 1, "doors", 0, "to"], "zz"), "unknown camera 'zz'"),
        (_broken(["cameras", 0, "lines"], []), "needs an entrance line"),
        (_broken(["cameras", 1, "zones", 0, "name"], "till"), "zone names must be unique"),
        (_broken(["transits"], []), "no transit between 'a' and 'b'"),
        (_broken(["cameras", 0, "zones", 0, "dwell_s"], [5, 1]), "dwell_s"),
        (_broken(["cameras", 0, "doors", 0, "point"], [1.5, 0.5]), "0..1"),
        (_broken(["population", "returning"], 5), "returning"),
    ],
)
def test_bad_scenarios_name_the_problem(tmp_path: Path, data: dict[str, Any], message: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(data))
    with pytest.raises(ScenarioError, match=message):
        load_scenario(f)


def test_missing_scenario_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="not found"):
        load_scenario(tmp_path / "nope.yaml")


def test_tiny_is_valid() -> None:
    assert Scenario.model_validate(TINY).entrance_camera().id == "a"
