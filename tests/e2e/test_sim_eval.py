"""Simulator → pipeline → evaluation on a tiny rendered store, with real weights.

The scene (three cameras, 24 s at 5 fps, two shoppers of whom one comes back, one
member of staff) is rendered from the assets' MOT17-mini people. Every camera runs
through :class:`CameraWorker` with in-process models and the updates go through
:class:`SiteIdentity` in arrival order — the logic the Ray actors wrap (the Ray path
itself is covered by tests/e2e/test_runtime.py and ``mcvision demo``). The store is
then scored against the ground truth.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mcvision.config import load_config
from mcvision.demo import demo_scenario
from mcvision.evaluate.score import EvalReport, evaluate
from mcvision.sim.render import run_sim
from support import capture_site, identify

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
T0 = 1_764_000_000.0

# Measured (in-process, real weights): seed 0 global IDF1 0.971, fragmentation 0,
# merge 0, 3 predicted visitors for 3 true, in/out MAE 0.0/0.0 s; seed 1 IDF1 0.916.
# The floor leaves room for detector/ReID jitter across machines and library versions.
IDF1_FLOOR = 0.85


@pytest.fixture(scope="module")
def scored(assets: Path, tmp_path_factory: pytest.TempPathFactory) -> EvalReport:
    out = tmp_path_factory.mktemp("scene")
    res = run_sim(
        [assets / "footage" / "MOT17-mini"],
        out,
        seed=0,
        scenario=demo_scenario(24.0, fps=5.0, shoppers=2),
        check_detector=False,
    )
    cfg = load_config(res.site_config)
    identify(cfg, capture_site(cfg, T0))
    return evaluate(out, cfg.storage.root, start_ts=T0)


def test_global_identity_across_cameras(scored: EvalReport) -> None:
    t = scored.tracking
    assert t.overall.idf1 is not None and t.overall.idf1 >= IDF1_FLOOR
    assert t.merge == 0.0  # no global ID covers two people
    assert t.fragmentation <= 1 / 3  # at most one of the three people split


def test_visits_against_ground_truth(scored: EvalReport) -> None:
    v = scored.visits
    assert v.unique_visitors_gt == 3
    assert abs(v.unique_visitors_pred - v.unique_visitors_gt) <= 1
    assert v.in_mae_s is not None and v.in_mae_s <= 3.0
    assert v.out_mae_s is not None and v.out_mae_s <= 3.0
