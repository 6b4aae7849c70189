"""Score a run of the pipeline on a simulated scene: event store + ground truth → report.

``evaluate(out_dir, store_root)`` reads ``<out_dir>/ground_truth.json`` and the
event store (``track_points``, ``visits``, ``zone_visits``), aligns times and
computes :mod:`mcvision.evaluate.metrics`.

Time alignment: the runtime stamps frame ``i`` at ``start_ts + i / fps``. Give
``start_ts`` when it is known (``mcvision run`` takes one); otherwise it is
estimated: per camera, the first track point's time minus the first ground-truth
sighting's time (the earliest over cameras), refined over whole-frame shifts of
up to ±3 s to the shift that matches the most track points to true people (then
the smallest total foot distance).

Both this and :func:`mcvision.evaluate.labelled.evaluate_labelled` (a store's own
labelled footage) score through :func:`score_store`: a ground truth, the store, the time
alignment and, for sparse labels, the frames that are labelled.

Example:
    >>> report = evaluate("sim_out", "sim_out/store")  # doctest: +SKIP
    >>> print(format_report(report))  # doctest: +SKIP
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from mcvision.analytics.store import EventStore
from mcvision.evaluate.metrics import (
    PredVisit,
    PredZoneVisit,
    TrackingMetrics,
    VisitMetrics,
    tracking_metrics,
    visit_metrics,
)
from mcvision.sim.truth import GroundTruth, load_ground_truth

__all__ = [
    "EvalReport",
    "estimate_start_ts",
    "evaluate",
    "format_report",
    "points_to_predictions",
    "score_store",
]

VisitsSource = Literal["simulator", "labels", "sightings"]


class EvalReport(BaseModel):
    """Accuracy of one run against the ground truth."""

    model_config = ConfigDict(frozen=True)

    site_id: str
    start_ts: float
    start_ts_source: Literal["given", "estimated"]
    track_points: int
    track_points_used: int
    max_dist: float
    min_visibility: float
    tracking: TrackingMetrics
    visits: VisitMetrics
    visits_source: VisitsSource = Field(
        default="simulator",
        description="where the true visits come from: the simulator, labels (visits.csv) or"
        " sightings (derived first to last sighting: in/out errors not scored)",
    )
    notes: list[str] = Field(default_factory=list, description="caveats of this scoring")


def points_to_predictions(
    gt: GroundTruth,
    rows: list[dict[str, Any]],
    start_ts: float,
    *,
    frames: Mapping[str, Sequence[int]] | None = None,
) -> tuple[dict[tuple[str, int], list[tuple[str, float, float]]], int]:
    """Store track points (normalized feet) → per-(camera, frame) pixel predictions.

    A point at ``ts`` is on frame ``round((ts - start_ts) * fps)``. With ``frames`` (per
    camera, the labelled frame indices) it goes to the nearest labelled frame instead, when
    that is within half the label step and within half the camera's track-point spacing
    (the median time between two points of one ID; at least half a frame), so a track
    that ends between two labelled frames is not carried onto the next; points of cameras
    not in ``frames`` are dropped. Of several points of one ID on one frame the nearest in
    time is kept.

    Returns the predictions and how many points fell on a (labelled) frame of the videos.

    Example:
        >>> preds, used = points_to_predictions(gt, rows, start_ts, frames={"c1": [0, 5, 10]})  # doctest: +SKIP
    """
    size = {c.id: (c.width, c.height, c.frames) for c in gt.cameras}
    grids: dict[str, tuple[list[int], set[int], float]] = {}
    spacing = _point_spacing(rows) if frames is not None else {}
    for cam, idx in (frames or {}).items():
        g = sorted(set(idx))
        step = (g[-1] - g[0]) / (len(g) - 1) if len(g) > 1 else 1.0
        tol = min(step, spacing.get(cam, np.inf) * gt.fps) / 2
        grids[cam] = (g, set(g), max(0.5, tol) + 1e-3)  # + float error of epoch times
    out: dict[tuple[str, int], dict[str, tuple[float, tuple[str, float, float]]]] = defaultdict(
        dict
    )
    used = 0
    for r in rows:
        cam = r["camera_id"]
        if cam not in size:
            continue
        w, h, n = size[cam]
        x = (float(r["ts"]) - start_ts) * gt.fps
        i = round(x)
        if frames is not None:
            if cam not in grids:
                continue
            g, on, tol = grids[cam]
            if i not in on:
                k = bisect_left(g, x)
                near = [g[j] for j in (k - 1, k) if 0 <= j < len(g)]
                if not near:
                    continue
                i = min(near, key=lambda j: abs(j - x))
                if abs(i - x) > tol:
                    continue
        if not 0 <= i < n:
            continue
        used += 1
        gid = str(r["global_id"])
        prev = out[(cam, i)].get(gid)
        if prev is None or abs(x - i) <= prev[0]:
            out[(cam, i)][gid] = (abs(x - i), (gid, float(r["x"]) * w, float(r["y"]) * h))
    return {k: sorted(p for _, p in v.values()) for k, v in sorted(out.items())}, used


def estimate_start_ts(
    gt: GroundTruth, rows: list[dict[str, Any]], *, max_dist: float = 0.5, search_s: float = 3.0
) -> float:
    """The ``start_ts`` that lines the track points up with the ground truth best.

    Raises:
        ValueError: no track point on a camera of the ground truth.
    """
    first_gt: dict[str, float] = {}
    for cam, frames in gt.frames.items():
        for i, boxes in enumerate(frames):
            if boxes:
                first_gt[cam] = i / gt.fps
                break
    first_pred: dict[str, float] = {}
    for r in rows:
        cam = r["camera_id"]
        first_pred[cam] = min(first_pred.get(cam, np.inf), float(r["ts"]))
    common = sorted(set(first_gt) & set(first_pred))
    if not common:
        raise ValueError("no track point on any camera of the ground truth: cannot align times")
    coarse = min(first_pred[c] - first_gt[c] for c in common)
    step = 1.0 / gt.fps
    feet = {
        (cam, i): (
            np.array([b.foot for b in boxes]),
            np.array([b.box[3] - b.box[1] for b in boxes]),
        )
        for cam, frames in gt.frames.items()
        for i, boxes in enumerate(frames)
        if boxes
    }
    size = {c.id: (c.width, c.height) for c in gt.cameras}
    pts = [
        (r["camera_id"], float(r["ts"]), float(r["x"]), float(r["y"]))
        for r in rows
        if r["camera_id"] in size
    ]
    best: tuple[int, float, int] | None = None  # (hits, -distance, -|k|)
    best_start = coarse
    for k in range(-round(search_s * gt.fps), round(search_s * gt.fps) + 1):
        start = coarse + k * step
        hits, dist = 0, 0.0
        for cam, ts, x, y in pts:
            f = feet.get((cam, round((ts - start) * gt.fps)))
            if f is None:
                continue
            w, h = size[cam]
            d = float(
                (np.hypot(f[0][:, 0] - x * w, f[0][:, 1] - y * h) / np.maximum(f[1], 1.0)).min()
            )
            if d <= max_dist:
                hits += 1
                dist += d
        key = (hits, -round(dist, 6), -abs(k))
        if best is None or key > best:
            best, best_start = key, start
    return best_start


def _events_dir(store_root: Path) -> Path:
    return store_root / "events" if (store_root / "events").is_dir() else store_root


def _point_spacing(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Per camera, the median time (s) between consecutive track points of one ID."""
    last: dict[tuple[str, str], float] = {}
    gaps: dict[str, list[float]] = defaultdict(list)
    for r in sorted(rows, key=lambda r: float(r["ts"])):
        key = (r["camera_id"], str(r["global_id"]))
        ts = float(r["ts"])
        if key in last and ts > last[key]:
            gaps[key[0]].append(ts - last[key])
        last[key] = ts
    return {cam: float(np.median(g)) for cam, g in gaps.items()}


def _spacing_notes(
    gt: GroundTruth, rows: list[dict[str, Any]], frames: Mapping[str, Sequence[int]] | None
) -> list[str]:
    """A note per camera whose track points are much sparser than its labelled frames."""
    notes = []
    for cam, point_s in sorted(_point_spacing(rows).items()):
        if frames is not None and len(frames.get(cam, ())) > 1:
            g = frames[cam]
            label_s = (max(g) - min(g)) / (len(g) - 1) / gt.fps
        else:
            label_s = 1.0 / gt.fps
        if point_s > 1.5 * label_s + 1e-9:
            notes.append(
                f"{cam}: track points are {point_s:.2f} s apart but labels {label_s:.2f} s: labelled"
                " frames between two points of a tracked person count as misses (run the scored"
                f" footage with visits.track_point_every_s <= {label_s:.2f})"
            )
    return notes


def score_store(
    gt: GroundTruth,
    store_root: str | Path,
    start_ts: float | None = None,
    *,
    max_dist: float = 0.5,
    min_visibility: float = 0.3,
    min_match_frames: int = 3,
    frames: Mapping[str, Sequence[int]] | None = None,
    visits_source: VisitsSource = "simulator",
) -> EvalReport:
    """Score an event store against a ground truth (what :func:`evaluate` and
    :func:`~mcvision.evaluate.labelled.evaluate_labelled` share).

    Args:
        gt: the ground truth.
        store_root: the site's storage root (holding ``events/``) or the events folder.
        start_ts: epoch seconds of the videos' first frame; estimated when None.
        max_dist: match radius in units of the true person's box height.
        min_visibility: true boxes seen less are ignored.
        min_match_frames: frames an ID must hold a person to count for fragmentation/merge.
        frames: per camera, the labelled frame indices of ``gt.frames`` (None: every frame).
            Only these are scored; track points go to the nearest one.
        visits_source: where ``gt``'s visits come from; ``sightings`` leaves the in/out
            errors unscored (None).

    Raises:
        ValueError: nothing in the store to align with (no ``start_ts``).

    Example:
        >>> r = score_store(load_ground_truth("out/ground_truth.json"), "out/store")  # doctest: +SKIP
    """
    store = EventStore(_events_dir(Path(store_root)), gt.site_id)
    rows = store.sql(
        "SELECT camera_id, global_id, ts, x, y FROM track_points ORDER BY ts, camera_id, global_id"
    )
    source: Literal["given", "estimated"] = "given"
    if start_ts is None:
        start_ts = estimate_start_ts(gt, rows, max_dist=max_dist)
        source = "estimated"
    preds, used = points_to_predictions(gt, rows, start_ts, frames=frames)
    tm = tracking_metrics(
        gt,
        preds,
        max_dist=max_dist,
        min_visibility=min_visibility,
        min_match_frames=min_match_frames,
    )
    vrows = store.sql("SELECT global_id, in_ts, out_ts FROM visits ORDER BY in_ts, global_id")
    zrows = store.sql(
        "SELECT global_id, zone, enter_ts, exit_ts FROM zone_visits ORDER BY enter_ts, global_id"
    )
    visits = [
        PredVisit(r["global_id"], r["in_ts"] - start_ts, r["out_ts"] - start_ts) for r in vrows
    ]
    zones = [
        PredZoneVisit(r["global_id"], r["zone"], r["enter_ts"] - start_ts, r["exit_ts"] - start_ts)
        for r in zrows
    ]
    vm = visit_metrics(
        gt, visits, zones, tm.id_map, pred_ids=sorted({str(r["global_id"]) for r in rows})
    )
    notes = _spacing_notes(gt, rows, frames)
    if visits_source == "sightings":
        vm = vm.model_copy(update={"in_mae_s": None, "out_mae_s": None})
        notes.append(
            "no visits.csv: true visits are first to last sighting; in/out errors not scored"
        )
    return EvalReport(
        site_id=gt.site_id,
        start_ts=start_ts,
        start_ts_source=source,
        track_points=len(rows),
        track_points_used=used,
        max_dist=max_dist,
        min_visibility=min_visibility,
        tracking=tm,
        visits=vm,
        visits_source=visits_source,
        notes=notes,
    )


def evaluate(
    out_dir: str | Path,
    store_root: str | Path,
    *,
    start_ts: float | None = None,
    max_dist: float = 0.5,
    min_visibility: float = 0.3,
    min_match_frames: int = 3,
) -> EvalReport:
    """Score the event store of a run on a rendered scene against its ground truth.

    Args:
        out_dir: the simulator's output folder (``ground_truth.json``).
        store_root: the site's storage root (holding ``events/``) or the events folder.
        start_ts: epoch seconds of the videos' first frame; estimated when None.
        max_dist: match radius in units of the true person's box height.
        min_visibility: true boxes seen less are ignored.
        min_match_frames: frames an ID must hold a person to count for fragmentation/merge.

    Raises:
        ValueError: no ground truth, or nothing in the store to align with.
    """
    gt = load_ground_truth(Path(out_dir) / "ground_truth.json")
    return score_store(
        gt,
        store_root,
        start_ts,
        max_dist=max_dist,
        min_visibility=min_visibility,
        min_match_frames=min_match_frames,
    )


def _f(v: float | None, pct: bool = False) -> str:
    if v is None:
        return "-"
    return f"{100 * v:.1f}%" if pct else f"{v:.2f}"


def format_report(report: EvalReport) -> str:
    """A readable table of the report."""
    t, v = report.tracking, report.visits
    lines = [
        f"site {report.site_id}: {report.track_points_used}/{report.track_points} track points on"
        f" {'video' if report.visits_source == 'simulator' else 'labelled'} frames, start_ts"
        f" {report.start_ts:.3f} ({report.start_ts_source})",
        "",
        f"{'camera':<8} {'IDF1':>7} {'MOTA':>7} {'recall':>7} {'prec':>7} {'IDsw':>5} {'FP':>5} {'FN':>5} {'GT':>6}",
    ]
    for s in [*t.per_camera, t.overall]:
        lines.append(
            f"{s.camera:<8} {_f(s.idf1, True):>7} {_f(s.mota, True):>7} {_f(s.recall, True):>7}"
            f" {_f(s.precision, True):>7} {s.num_switches:>5} {s.num_false_positives:>5}"
            f" {s.num_misses:>5} {s.num_objects:>6}"
        )
    lines += [
        "",
        f"global IDF1 (all cameras jointly): {_f(t.overall.idf1, True)}",
        f"fragmentation (people with >1 ID): {_f(t.fragmentation, True)}"
        f"   merge (IDs with >1 person): {_f(t.merge, True)}",
        f"extra IDs began: {t.id_starts.concurrent} beside an earlier ID on another camera,"
        f" {t.id_starts.same_camera} re-acquired on the same camera"
        f" (median gap {_f(t.id_starts.median_gap_s_same_camera)} s),"
        f" {t.id_starts.other_camera} after another camera"
        f" (median gap {_f(t.id_starts.median_gap_s_other_camera)} s)",
        f"unique visitors: {v.unique_visitors_pred} predicted, {v.unique_visitors_gt} true"
        f" (error {v.unique_visitor_error:+d})",
        f"visits: {v.visits_matched}/{v.visits_gt} true visits matched ({v.visits_pred} predicted);"
        f" in MAE {_f(v.in_mae_s)} s, out MAE {_f(v.out_mae_s)} s, total dwell MAE"
        f" {_f(v.total_dwell_mae_s)} s",
        f"true visits from: {_SOURCES[report.visits_source]}",
    ]
    if v.zone_dwell_gt_s:
        lines.append("zone dwell (true s / predicted s / rel. error):")
        for z, gt_s in v.zone_dwell_gt_s.items():
            lines.append(
                f"  {z:<14} {gt_s:8.1f} {v.zone_dwell_pred_s.get(z, 0.0):8.1f}"
                f" {_f(v.zone_dwell_rel_error.get(z), True):>8}"
            )
        lines.append(f"  mean relative error: {_f(v.zone_dwell_rel_error_mean, True)}")
    else:
        lines.append("zone dwell: no zone stays in the ground truth")
    lines += [f"note: {n}" for n in report.notes]
    return "\n".join(lines)


_SOURCES = {
    "simulator": "simulator",
    "labels": "labels (visits.csv)",
    "sightings": "sightings (no visits.csv: first to last sighting; in/out not scored)",
}
