"""Accuracy against a simulator's ground truth: IDF1 (per camera and global), visits, dwell.

Example:
    >>> from mcvision.evaluate import evaluate, format_report
    >>> print(format_report(evaluate("sim_out", "sim_out/store")))  # doctest: +SKIP
"""

from mcvision.evaluate.metrics import (
    PredVisit,
    PredZoneVisit,
    TrackingMetrics,
    VisitMetrics,
    predictions_from_truth,
    tracking_metrics,
    visit_metrics,
)
from mcvision.evaluate.score import EvalReport, evaluate, format_report

__all__ = [
    "EvalReport",
    "PredVisit",
    "PredZoneVisit",
    "TrackingMetrics",
    "VisitMetrics",
    "evaluate",
    "format_report",
    "predictions_from_truth",
    "tracking_metrics",
    "visit_metrics",
]
