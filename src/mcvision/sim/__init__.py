"""Multi-camera store simulator: real people cut from MOT sequences, scripted routes, ground truth.

Example:
    >>> from mcvision.sim import run_sim
    >>> res = run_sim(["footage/MOT17-mini"], "out", seed=0)  # doctest: +SKIP
    >>> sorted(res.videos)  # doctest: +SKIP
    ['cam1', 'cam2', 'cam3']
"""

from mcvision.sim.render import SimResult, run_sim
from mcvision.sim.scenario import Scenario, ScenarioError, default_scenario, load_scenario
from mcvision.sim.truth import GroundTruth, check_ground_truth, load_ground_truth

__all__ = [
    "GroundTruth",
    "Scenario",
    "ScenarioError",
    "SimResult",
    "check_ground_truth",
    "default_scenario",
    "load_ground_truth",
    "load_scenario",
    "run_sim",
]
