"""Accuracy: a store's run against ground truth (a simulator's, or labelled footage in MOT
format), IDF1 per camera and global, visits, dwell; ReID Rank-1/mAP on crop folders.

Example:
    >>> from mcvision.evaluate import evaluate, format_report
    >>> print(format_report(evaluate("sim_out", "sim_out/store")))  # doctest: +SKIP
"""

from mcvision.evaluate.labelled import evaluate_labelled, load_labelled_truth
from mcvision.evaluate.metrics import (
    PredVisit,
    PredZoneVisit,
    TrackingMetrics,
    VisitMetrics,
    predictions_from_truth,
    tracking_metrics,
    visit_metrics,
)
from mcvision.evaluate.reid_protocol import ReIDScores, rank_metrics, threshold_at_false_match_rate
from mcvision.evaluate.score import EvalReport, evaluate, format_report, score_store

__all__ = [
    "EvalReport",
    "PredVisit",
    "PredZoneVisit",
    "ReIDScores",
    "TrackingMetrics",
    "VisitMetrics",
    "evaluate",
    "evaluate_labelled",
    "format_report",
    "load_labelled_truth",
    "predictions_from_truth",
    "rank_metrics",
    "score_store",
    "threshold_at_false_match_rate",
    "tracking_metrics",
    "visit_metrics",
]
