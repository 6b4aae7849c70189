"""Site config: the example loads; every bad field fails with its path named."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from mcvision.config import ConfigError, load_config, parse_config

REPO = Path(__file__).resolve().parents[1]

BASE: dict[str, Any] = {
    "site_id": "s1",
    "cameras": [
        {
            "id": "a",
            "source": "a.mp4",
            "zones": [{"name": "z", "polygon": [[0, 0], [1, 0], [1, 1]]}],
        },
        {"id": "b", "source": "rtsp://127.0.0.1:8554/b"},
        {"id": "c", "source": 0, "lines": [{"name": "door", "points": [[0, 5], [10, 5]]}]},
    ],
}


def test_example_store_loads() -> None:
    cfg = load_config(REPO / "configs" / "example_store.yaml")
    assert len(cfg.cameras) == 4
    assert cfg.zone_names == ["promo-table", "produce", "bakery", "dairy", "checkout-queue"]
    assert cfg.zone_cameras()["bakery"] == ["aisle-1", "aisle-2"]
    assert cfg.transit("aisle-2", "aisle-1").overlap is True
    assert cfg.transit("entrance", "aisle-2") is None
    assert cfg.camera("entrance").lines[0].inside == "left"
    assert Path(cfg.storage.root).is_absolute()


def test_defaults() -> None:
    cfg = parse_config(BASE)
    assert cfg.visits.absence_timeout_s == 300
    assert (cfg.reset.time, cfg.reset.timezone) == ("00:00", "Asia/Kolkata")
    assert cfg.models.detector.classes == ["person"]
    assert [c.source_kind for c in cfg.cameras] == ["file", "url", "webcam"]
    assert [c.is_live for c in cfg.cameras] == [False, True, True]


def _with(path: str, value: Any) -> dict[str, Any]:
    """BASE with the value at a dotted path (``cameras.0.zones.0.polygon``) replaced."""
    data = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node: Any = data
    for p in parents:
        node = node[int(p)] if p.isdigit() else node.setdefault(p, {})
    if last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "cameras.0.zones.0.polygon",
            [[0, 0], [1, 1]],
            "cameras[0].zones[0].polygon: needs >= 3 points",
        ),
        ("cameras.0.zones.0.name", "", "cameras[0].zones[0].name:"),
        (
            "cameras.0.zones.0",
            {"name": "z", "polygon": [[0, 0], [5, 0], [5, 5]], "normalized": True},
            "cameras[0].zones[0].polygon: normalized coordinates must lie in 0..1",
        ),
        ("cameras.0.zones.0.polygon", [[0, 0], [5, 0], "x"], "cameras[0].zones[0].polygon[2]"),
        ("cameras.0.fps", 0, "cameras[0].fps: Input should be greater than 0"),
        ("cameras.0.fps", "fast", "cameras[0].fps:"),
        ("cameras.0.source", "", "cameras[0].source: must not be empty"),
        ("cameras.2.source", -1, "cameras[2].source: webcam index must be >= 0"),
        ("cameras.0.resolution", [0, 10], "cameras[0].resolution: width and height must be > 0"),
        ("cameras.0.id", "bad id!", "cameras[0].id:"),
        ("cameras.1.id", "a", "cameras: duplicate camera ids ['a']"),
        ("cameras.0.colour", "red", "cameras[0].colour: unknown key"),
        (
            "cameras.2.lines.0.points",
            [[1, 1], [1, 1]],
            "cameras[2].lines[0].points: the two points",
        ),
        ("cameras.2.lines.0.inside", "up", "cameras[2].lines[0].inside:"),
        ("cameras", [], "cameras:"),
        ("site_id", "", "site_id:"),
        (
            "topology.transits",
            [{"a": "a", "b": "zz"}],
            "topology.transits[0].b: unknown camera 'zz'",
        ),
        (
            "topology.transits",
            [{"a": "a", "b": "a"}],
            "topology.transits[0]: a and b must be different",
        ),
        (
            "topology.transits",
            [{"a": "a", "b": "b", "min_s": 9, "max_s": 3}],
            "max_s (3.0) must be >= min_s",
        ),
        (
            "topology.transits",
            [{"a": "a", "b": "b"}, {"a": "b", "b": "a"}],
            "pair b-a listed twice",
        ),
        ("topology.transits", [{"a": "a", "b": "b", "min_s": -1}], "topology.transits[0].min_s"),
        ("topology.unlisted", "maybe", "topology.unlisted:"),
        ("identity.match_threshold", 1.5, "identity.match_threshold:"),
        ("identity.min_frames", 0, "identity.min_frames:"),
        ("visits.absence_timeout_s", 0, "visits.absence_timeout_s:"),
        ("visits.zone_enter_s", -2, "visits.zone_enter_s:"),
        ("reset.time", "25:00", "reset.time: '25:00' is not a time of day HH:MM"),
        ("reset.time", "noon", "reset.time: 'noon' is not a time of day"),
        ("reset.timezone", "Mars/Olympus", "reset.timezone: unknown time zone 'Mars/Olympus'"),
        ("models.detector.conf", 2, "models.detector.conf:"),
        ("models.segmenter.backend", "magic", "models.segmenter.backend:"),
        ("models.reid.backend", "tf", "models.reid.backend:"),
        ("models.tracker.type", "sort", "models.tracker.type:"),
        ("storage.rooot", "x", "storage.rooot: unknown key"),
    ],
)
def test_config_error_paths(path: str, value: Any, expected: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config(_with(path, value), source="site.yaml")
    msg = str(exc.value)
    assert msg.startswith("site.yaml: invalid site config")
    assert expected in msg, msg
    assert "Traceback" not in msg and "pydantic" not in msg.lower()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("site_id: [unclosed", "not valid YAML (line 1"),
        ("- just\n- a list\n", "expected a mapping at the top level, got list"),
        ("", "expected a mapping at the top level, got NoneType"),
    ],
)
def test_bad_files(tmp_path: Path, text: str, expected: str) -> None:
    p = tmp_path / "site.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=None) as exc:
        load_config(p)
    assert expected in str(exc.value)
    assert str(p) in str(exc.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_relative_paths_resolve_against_config_folder(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    p = tmp_path / "site" / "site.yaml"
    p.write_text(
        "site_id: s\nstorage: {root: out}\n"
        "cameras:\n  - {id: a, source: v.mp4}\n  - {id: b, source: 'rtsp://127.0.0.1/x'}\n"
    )
    cfg = load_config(p)
    assert cfg.storage.root == str(tmp_path / "site" / "out")
    assert cfg.cameras[0].source == str(tmp_path / "site" / "v.mp4")
    assert cfg.cameras[1].source == "rtsp://127.0.0.1/x"


def test_several_errors_reported_together() -> None:
    data = _with("cameras.0.fps", -1)
    data["reset"] = {"time": "99:99"}
    with pytest.raises(ConfigError) as exc:
        parse_config(data)
    lines = str(exc.value).splitlines()[1:]
    assert any(ln.startswith("cameras[0].fps:") for ln in lines)
    assert any(ln.startswith("reset.time:") for ln in lines)


def test_appearance_thresholds_follow_the_named_embedder() -> None:
    """Thresholds a config leaves out take the named ReID model's values; given ones stay."""
    from mcvision.config import (
        EMBEDDER_THRESHOLDS,
        CustomersConfig,
        IdentityConfig,
        ModelsConfig,
        ReIDConfig,
        SiteConfig,
        StaffConfig,
    )

    cams = [{"id": "c1", "source": "c1.mp4"}]

    def thresholds(cfg: SiteConfig) -> tuple[float, float, float, float]:
        return (
            cfg.identity.match_threshold,
            cfg.identity.merge_threshold,
            cfg.staff.match_threshold,
            cfg.customers.match_threshold,
        )

    default = SiteConfig.model_validate({"site_id": "s", "cameras": cams})
    assert default.models.reid.backend == "openvino"  # retail-0286, the default embedder
    assert thresholds(default) == (0.47, 0.48, 0.47, 0.47)
    assert default.identity.track_split_similarity == 0.3
    # OSNet by its file name alone: the backend follows the file, the thresholds the model
    osnet = EMBEDDER_THRESHOLDS["osnet_x0_25_msmt17.onnx"]
    by_name = SiteConfig.model_validate(
        {
            "site_id": "s",
            "cameras": cams,
            "models": {"reid": {"weights": "osnet_x0_25_msmt17.onnx"}},
        }
    )
    assert by_name.models.reid.backend == "onnx"
    assert thresholds(by_name) == tuple(osnet.values())
    assert by_name.identity.track_split_similarity is None
    int8 = SiteConfig.model_validate(
        {
            "site_id": "s",
            "cameras": cams,
            "models": {
                "reid": {"weights": "reid_openvino/person-reidentification-retail-0287-int8"}
            },
        }
    )
    assert int8.models.reid.backend == "openvino"  # an IR folder: OpenVINO
    assert thresholds(int8) == (0.47, 0.50, 0.45, 0.45)  # its own swept row, not OSNet's
    assert int8.identity.track_split_similarity == 0.32
    retail = {
        "reid": {
            "backend": "openvino",
            "weights": "/models/reid_openvino/person-reidentification-retail-0286",
        }
    }
    cfg = SiteConfig.model_validate(
        {"site_id": "s", "cameras": cams, "models": retail, "identity": {"match_threshold": 0.6}}
    )
    assert thresholds(cfg) == (0.6, 0.48, 0.47, 0.47)  # the given one kept, the rest retail's
    # pydantic objects as well as mappings; an unknown model keeps the field defaults
    weights = "reid_openvino/person-reidentification-retail-0286"
    as_objects = SiteConfig(
        site_id="s",
        cameras=cams,  # type: ignore[arg-type]
        models=ModelsConfig(reid=ReIDConfig(backend="openvino", weights=weights)),
    )
    assert thresholds(as_objects) == (0.47, 0.48, 0.47, 0.47)
    other = {"reid": {"backend": "onnx", "weights": "my_reid.onnx"}}
    unknown = SiteConfig.model_validate({"site_id": "s", "cameras": cams, "models": other})
    fields = (IdentityConfig(), StaffConfig(), CustomersConfig())
    assert thresholds(unknown) == (
        fields[0].match_threshold,
        fields[0].merge_threshold,
        fields[1].match_threshold,
        fields[2].match_threshold,
    )
