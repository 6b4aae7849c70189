"""The strong embedder at its own thresholds on real two-camera footage, in this process.

The demo site plays the real clip on two cameras, the second 20 s later: three people
walk through one after another, each seen by both. The Ray path of the same site with
the default embedder is ``tests/e2e/test_runtime.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mcvision.config import EMBEDDER_THRESHOLDS, SiteConfig, load_config
from mcvision.demo import demo_site
from support import capture_site, identify

pytestmark = [pytest.mark.slow, pytest.mark.assets]
T0 = 1_764_000_000.0
RETAIL_0286 = "reid_openvino/person-reidentification-retail-0286"


def two_camera_site(assets: Path, tmp_path: Path, reid: dict[str, str]) -> SiteConfig:
    """The demo site on the real clip (two cameras, 60 s at 5 fps) with this embedder."""
    site = demo_site(
        tmp_path, assets / "footage" / "one-by-one-person-detection.mp4", fps=5, max_s=60
    )
    raw = yaml.safe_load(site.read_text())
    raw["models"] = {"reid": reid}
    raw["storage"] = {"root": str(tmp_path / "store")}
    site.write_text(yaml.safe_dump(raw))
    return load_config(site)


def test_retail0286_keeps_three_people_apart_across_two_real_cameras(
    assets: Path, tmp_path: Path
) -> None:
    """At 0.40 the third person (cosine 0.457 to the first) was merged into the first."""
    cfg = two_camera_site(assets, tmp_path, {"backend": "openvino", "weights": RETAIL_0286})
    table = EMBEDDER_THRESHOLDS["person-reidentification-retail-0286"]
    assert cfg.identity.match_threshold == table["identity.match_threshold"]
    batches = capture_site(cfg, T0)
    core = identify(cfg, batches)
    visits = core.store.sql("SELECT global_id, in_ts, cameras FROM visits ORDER BY in_ts")
    assert len({v["global_id"] for v in visits}) == len(visits) == 3
    assert all(sorted(v["cameras"]) == ["entrance", "floor"] for v in visits)
    assert [round(v["in_ts"] - T0) for v in visits] == pytest.approx([7, 23, 51], abs=2)
    # the same captures at the earlier 0.40: the third person takes the first one's ID
    before = cfg.model_copy(
        update={
            "identity": cfg.identity.model_copy(update={"match_threshold": 0.40}),
            "storage": cfg.storage.model_copy(update={"root": str(tmp_path / "store040")}),
        }
    )
    merged = identify(before, batches).store.sql("SELECT global_id FROM visits")
    assert len({v["global_id"] for v in merged}) == 2


def test_retail0287_int8_at_its_own_thresholds_keeps_three_people_apart(
    assets: Path, tmp_path: Path
) -> None:
    """The INT8 model named alone takes its own row (match 0.47, not OSNet's 0.72)."""
    cfg = two_camera_site(
        assets, tmp_path, {"weights": "reid_openvino/person-reidentification-retail-0287-int8"}
    )
    assert cfg.identity.match_threshold == 0.47
    core = identify(cfg, capture_site(cfg, T0))
    visits = core.store.sql("SELECT global_id, in_ts, cameras FROM visits ORDER BY in_ts")
    assert len({v["global_id"] for v in visits}) == len(visits) == 3
    assert all(sorted(v["cameras"]) == ["entrance", "floor"] for v in visits)
