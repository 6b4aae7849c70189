"""A site config fuzzed with hypothesis: every failure is a ConfigError naming a field path."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcvision.config import ConfigError, SiteConfig, parse_config

BASE: dict[str, Any] = {
    "site_id": "shop",
    "cameras": [
        {
            "id": "door",
            "source": "door.mp4",
            "fps": 5,
            "zones": [{"name": "till", "polygon": [[0, 0], [10, 0], [10, 10]]}],
            "lines": [{"name": "in", "points": [[0, 5], [10, 5]]}],
        },
        {"id": "floor", "source": "rtsp://10.0.0.2/s", "resolution": [1280, 720]},
    ],
    "topology": {"transits": [{"a": "door", "b": "floor", "min_s": 1, "max_s": 60}]},
    "identity": {"match_threshold": 0.7},
    "visits": {"absence_timeout_s": 300},
    "reset": {"time": "00:00", "timezone": "Asia/Kolkata"},
    "runtime": {"detector": {"max_batch_size": 8}},
}

KEYS = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=6)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out.extend(paths(v, (*prefix, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.extend(paths(v, (*prefix, i)))
    return out


ALL_PATHS = paths(BASE)


def mutate(data: dict[str, Any], path: tuple[Any, ...], value: Any, drop: bool) -> dict[str, Any]:
    out = copy.deepcopy(data)
    node: Any = out
    for part in path[:-1]:
        node = node[part]
    if drop and isinstance(node, dict):
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return out


def check(data: Any) -> None:
    try:
        cfg = parse_config(data)
    except ConfigError as err:
        lines = str(err).splitlines()
        assert lines[0].startswith("<config>:"), lines
        if not isinstance(data, dict):
            assert "expected a mapping at the top level" in lines[0]
            return
        assert len(lines) >= 2, lines
        for line in lines[1:]:
            where, sep, msg = line.partition(": ")
            assert where and sep and msg.strip(), f"not 'field.path: message': {line!r}"
        return
    assert isinstance(cfg, SiteConfig)


def test_the_base_config_is_valid() -> None:
    assert parse_config(BASE).cameras[1].is_live


@given(
    path=st.sampled_from(ALL_PATHS),
    value=values,
    drop=st.booleans(),
    extra=st.dictionaries(KEYS, values, max_size=2),
)
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
def test_mutated_configs_fail_only_with_config_errors(
    path: tuple[Any, ...], value: Any, drop: bool, extra: dict[str, Any]
) -> None:
    data = mutate(BASE, path, value, drop)
    data.update(extra)
    check(data)


@given(data=values)
@settings(max_examples=100, deadline=None)
def test_arbitrary_documents_fail_with_config_errors(data: Any) -> None:
    check(data)
