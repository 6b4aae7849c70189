from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mcvision.sim.scenario import Scenario, ScenarioError, default_scenario, load_scenario


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


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["cameras", 0, "doors", 1, "to"], "zz", "unknown camera 'zz'"),
        (["cameras", 0, "lines"], [], "needs an entrance line"),
        (["cameras", 1, "zones", 0, "name"], "till", "zone names must be unique"),
        (["transits"], [], "no transit between 'a' and 'b'"),
        (["cameras", 0, "zones", 0, "dwell_s"], [5, 1], "dwell_s"),
        (["cameras", 0, "doors", 0, "point"], [1.5, 0.5], "0..1"),
        (["population", "returning"], 5, "returning"),
    ],
)
def test_bad_scenarios_name_the_problem(
    tmp_path: Path, tiny_data: dict[str, Any], path: list[Any], value: Any, message: str
) -> None:
    node = tiny_data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(tiny_data))
    with pytest.raises(ScenarioError, match=message):
        load_scenario(f)


def test_missing_scenario_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="not found"):
        load_scenario(tmp_path / "nope.yaml")


def test_tiny_is_valid(tiny_data: dict[str, Any]) -> None:
    assert Scenario.model_validate(tiny_data).entrance_camera().id == "a"
