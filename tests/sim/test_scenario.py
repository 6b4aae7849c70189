from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mcvision.sim.scenario import (
    SCENARIOS,
    Scenario,
    ScenarioError,
    default_scenario,
    load_scenario,
    resolve_scenario,
    small_scenario,
)


def test_small_scenario_shape() -> None:
    sc = small_scenario()
    assert [c.id for c in sc.cameras] == ["cam1", "cam2", "cam3"]
    assert sc.entrance_camera().id == "cam1"
    assert [t.overlap for t in sc.transits] == [False, True]
    assert sc.frames == round(sc.duration_s * sc.fps)
    assert 60 <= sc.duration_s <= 90


def test_default_is_the_crowded_store() -> None:
    sc = default_scenario()
    pop = sc.population
    assert sc == SCENARIOS["crowded"]() == resolve_scenario(None) == resolve_scenario("crowded")
    assert pop.shoppers >= 24 and pop.staff >= 2 and sc.duration_s >= 300 and sc.fps >= 5
    assert pop.groups > 0 and pop.returning > 0 and pop.lookalikes >= 2
    assert any(t.overlap for t in sc.transits)
    assert resolve_scenario("small") == small_scenario()


def test_unknown_scenario_name_lists_the_built_in_ones() -> None:
    with pytest.raises(ScenarioError, match="crowded, small"):
        resolve_scenario("busy")


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"groups": 30}, "groups: 30 groups"),
        ({"group_size": [1, 2]}, "group_size"),
        ({"lookalikes": 1}, "needs a partner"),
    ],
)
def test_bad_population_is_named(update: dict[str, Any], message: str) -> None:
    data = default_scenario().model_dump(mode="json")
    data["population"].update(update)
    with pytest.raises(ValueError, match=message):
        Scenario.model_validate(data)


def test_person_height_grows_towards_the_camera() -> None:
    cam = small_scenario().cameras[0]
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
