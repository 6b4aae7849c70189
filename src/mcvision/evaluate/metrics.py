"""Accuracy of identities, visits and zone dwell against a simulator's ground truth.

Predictions are foot points with global IDs per (camera, frame) — what the event
store keeps in ``track_points``. A prediction matches a ground-truth person in the
same frame when its foot point lies within ``max_dist`` × the person's box height
of the true foot point (the optimal one-to-one assignment, via motmetrics).
Ground-truth boxes seen less than ``min_visibility`` are *ignored*: they count
neither as misses nor, when a prediction lands on them, as false positives.

Tracking (motmetrics, ``mm.metrics.create()``):

- per camera: IDF1, MOTA, ID switches, ... with the global IDs as hypotheses;
- **global IDF1**: one accumulator over every (camera, frame) pair, so one person
  must keep one global ID across all cameras to score 1.0;
- fragmentation: share of ground-truth people matched to more than one global ID
  (each on at least ``min_match_frames`` frames);
- merge: share of predicted global IDs matched to more than one person;
- where extra IDs began (:class:`IdStarts`): for each person's second, third, ...
  global ID, what the person was doing just before it first held them — seen at that
  moment on another camera under an earlier ID (an overlap hand-over missed), last seen
  on the same camera (a re-acquisition missed: occlusion, a tracker's new track) or
  last seen on another camera (a transit hand-over missed), with the gaps.

Visits and zones (times in seconds from the video start):

- each predicted global ID stands for the person it matched most often (``id_map``);
- ground-truth and predicted visits of the same person are paired by the largest
  time overlap (Hungarian); in-time and out-time MAE over the pairs;
- total dwell MAE: per person, all true visit time against all predicted visit time
  of the IDs mapped to them (0 when none maps);
- zone dwell relative error: per zone, |predicted − true| total dwell / true total dwell;
- unique visitors: distinct predicted global IDs (with a visit or a track point)
  against the people in the ground truth.

Example:
    >>> from mcvision.evaluate.metrics import predictions_from_truth, tracking_metrics
    >>> tm = tracking_metrics(gt, predictions_from_truth(gt))  # doctest: +SKIP
    >>> tm.overall.idf1  # doctest: +SKIP
    1.0
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import motmetrics as mm
import numpy as np
from pydantic import BaseModel, ConfigDict, field_validator
from scipy.optimize import linear_sum_assignment

from mcvision.sim.truth import GroundTruth

__all__ = [
    "CameraScores",
    "IdStarts",
    "PredVisit",
    "PredZoneVisit",
    "Predictions",
    "TrackingMetrics",
    "VisitMetrics",
    "id_starts",
    "predictions_from_truth",
    "tracking_metrics",
    "visit_metrics",
]

#: (camera_id, frame index) -> [(global_id, foot x, foot y)] in pixels.
Predictions = Mapping[tuple[str, int], Sequence[tuple[str, float, float]]]

_MOT_METRICS = [
    "idf1",
    "idp",
    "idr",
    "mota",
    "motp",
    "num_switches",
    "num_false_positives",
    "num_misses",
    "num_objects",
    "num_predictions",
    "precision",
    "recall",
]


#: The global accumulator's frame IDs: camera index × this + frame index.
_CAMERA_STRIDE = 10_000_000


def _clean(v: float | None) -> float | None:
    if v is None:
        return None
    v = float(v)
    return None if math.isnan(v) or math.isinf(v) else round(v, 4)


class _M(BaseModel):
    model_config = ConfigDict(frozen=True)


class CameraScores(_M):
    """motmetrics' scores of one camera (or ``all``: every camera jointly)."""

    camera: str
    idf1: float | None
    idp: float | None
    idr: float | None
    mota: float | None
    motp: float | None = None  # mean matched distance / box height
    num_switches: int
    num_false_positives: int
    num_misses: int
    num_objects: int
    num_predictions: int
    precision: float | None
    recall: float | None

    @field_validator("idf1", "idp", "idr", "mota", "motp", "precision", "recall", mode="before")
    @classmethod
    def _nan(cls, v: float | None) -> float | None:
        return _clean(v)


class IdStarts(_M):
    """Where people's extra global IDs began: what to fix when fragmentation is high.

    Each count is of (person, ID) pairs after the person's first ID (the IDs ordered by
    the frame each first held the person). ``concurrent``: at that frame the person was
    also matched on another camera under another ID; else by the person's latest earlier
    match: ``same_camera`` (re-acquired on the camera they were last seen on) or
    ``other_camera`` (a walk from another camera). Gaps: seconds since that match.
    """

    concurrent: int = 0
    same_camera: int = 0
    other_camera: int = 0
    median_gap_s_same_camera: float | None = None
    median_gap_s_other_camera: float | None = None


class TrackingMetrics(_M):
    """Identity metrics per camera and across cameras."""

    per_camera: list[CameraScores]
    overall: CameraScores  # camera "all": global IDF1 / MOTA over every (camera, frame)
    people_gt: int
    ids_pred: int
    fragmentation: float | None
    merge: float | None
    id_map: dict[str, str]  # predicted global ID -> the person it matched most often
    id_starts: IdStarts = IdStarts()


def id_starts(
    matches: Sequence[tuple[str, str, str, int]], fps: float, min_match_frames: int = 1
) -> IdStarts:
    """Classify where each person's extra IDs began (see :class:`IdStarts`).

    Args:
        matches: ``(person, global_id, camera, frame)`` for every matched box.
        fps: frames per second of the (synchronized) cameras, for the gaps.
        min_match_frames: an ID must hold the person this many frames to count.

    Example:
        >>> m = [("p", "A", "c1", 0), ("p", "A", "c1", 1), ("p", "B", "c1", 6)]
        >>> s = id_starts(m, fps=2.0)
        >>> (s.same_camera, s.median_gap_s_same_camera)
        (1, 2.5)
    """
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    by_person: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for person, hid, cam, frame in matches:
        by_person[person].append((frame, cam, hid))
    counts = Counter[str]()
    gaps: dict[str, list[float]] = defaultdict(list)
    for obs in by_person.values():
        obs.sort()
        held = Counter(h for _, _, h in obs)
        first: dict[str, tuple[int, str]] = {}
        for frame, cam, hid in obs:
            if held[hid] >= min_match_frames and hid not in first:
                first[hid] = (frame, cam)
        for hid, (f0, cam0) in sorted(first.items(), key=lambda kv: kv[1])[1:]:
            if any(f == f0 and c != cam0 and h != hid for f, c, h in obs):
                counts["concurrent"] += 1
                continue
            before = [(f, c) for f, c, h in obs if f < f0]
            if not before:  # another ID began on the same frame on this camera
                counts["same_camera"] += 1
                gaps["same_camera"].append(0.0)
                continue
            f, c = before[-1]
            kind = "same_camera" if c == cam0 else "other_camera"
            counts[kind] += 1
            gaps[kind].append((f0 - f) / fps)

    def med(kind: str) -> float | None:
        return round(float(np.median(gaps[kind])), 2) if gaps[kind] else None

    return IdStarts(
        concurrent=counts["concurrent"],
        same_camera=counts["same_camera"],
        other_camera=counts["other_camera"],
        median_gap_s_same_camera=med("same_camera"),
        median_gap_s_other_camera=med("other_camera"),
    )


@dataclass(frozen=True)
class PredVisit:
    """A predicted visit, times in seconds from the video start."""

    global_id: str
    in_s: float
    out_s: float


@dataclass(frozen=True)
class PredZoneVisit:
    """A predicted zone stay, times in seconds from the video start."""

    global_id: str
    zone: str
    enter_s: float
    exit_s: float


class VisitMetrics(_M):
    """Visit, dwell and visitor-count errors."""

    unique_visitors_gt: int
    unique_visitors_pred: int
    unique_visitor_error: int  # predicted - true
    unique_visitor_rel_error: float | None
    visits_gt: int
    visits_pred: int
    visits_matched: int
    in_mae_s: float | None
    out_mae_s: float | None
    total_dwell_mae_s: float | None
    zone_dwell_gt_s: dict[str, float]
    zone_dwell_pred_s: dict[str, float]
    zone_dwell_rel_error: dict[str, float]
    zone_dwell_rel_error_mean: float | None


def predictions_from_truth(
    gt: GroundTruth, min_visibility: float = 0.0
) -> dict[tuple[str, int], list[tuple[str, float, float]]]:
    """The ground truth as a prediction (person ID as global ID): the perfect tracker."""
    out: dict[tuple[str, int], list[tuple[str, float, float]]] = {}
    for cam, rows in gt.frames.items():
        for i, boxes in enumerate(rows):
            pts = [(b.id, b.foot[0], b.foot[1]) for b in boxes if b.visibility >= min_visibility]
            if pts:
                out[(cam, i)] = pts
    return out


def _frame_pairs(
    gt: GroundTruth, preds: Predictions, max_dist: float, min_visibility: float
) -> list[tuple[str, int, list[str], list[str], np.ndarray]]:
    """Per (camera, frame): kept GT ids, prediction ids and the normalized distance matrix."""
    out = []
    for cam in gt.cameras:
        rows = gt.frames[cam.id]
        for i, boxes in enumerate(rows):
            pred = list(preds.get((cam.id, i), ()))
            keep = [b for b in boxes if b.visibility >= min_visibility]
            ignore = [b for b in boxes if b.visibility < min_visibility]
            if ignore and pred:  # predictions on barely visible people are not false positives
                d = _dist([b for b in ignore], pred)
                r, c = linear_sum_assignment(np.nan_to_num(d, nan=1e6))
                drop = {int(cc) for rr, cc in zip(r, c, strict=True) if d[rr, cc] <= max_dist}
                pred = [p for k, p in enumerate(pred) if k not in drop]
            if not keep and not pred:
                continue
            d = _dist(keep, pred)
            d[d > max_dist] = np.nan
            out.append((cam.id, i, [b.id for b in keep], [p[0] for p in pred], d))
    return out


def _dist(boxes: Sequence, pred: Sequence[tuple[str, float, float]]) -> np.ndarray:
    if not boxes or not pred:
        return np.zeros((len(boxes), len(pred)))
    g = np.array([b.foot for b in boxes], np.float64)
    h = np.array([max(b.box[3] - b.box[1], 1.0) for b in boxes], np.float64)
    p = np.array([(x, y) for _, x, y in pred], np.float64)
    return np.linalg.norm(g[:, None, :] - p[None, :, :], axis=2) / h[:, None]


def _scores(summary_row: Mapping[str, float], camera: str) -> CameraScores:
    r = summary_row
    return CameraScores(
        camera=camera,
        idf1=r["idf1"],
        idp=r["idp"],
        idr=r["idr"],
        mota=r["mota"],
        motp=r["motp"],
        num_switches=int(r["num_switches"]),
        num_false_positives=int(r["num_false_positives"]),
        num_misses=int(r["num_misses"]),
        num_objects=int(r["num_objects"]),
        num_predictions=int(r["num_predictions"]),
        precision=r["precision"],
        recall=r["recall"],
    )


def tracking_metrics(
    gt: GroundTruth,
    preds: Predictions,
    *,
    max_dist: float = 0.5,
    min_visibility: float = 0.3,
    min_match_frames: int = 1,
) -> TrackingMetrics:
    """Per-camera and global identity metrics (see module doc).

    Args:
        gt: the ground truth.
        preds: (camera, frame) -> [(global_id, x, y)] foot points in pixels.
        max_dist: largest foot distance for a match, in units of the person's box height.
        min_visibility: ground-truth boxes seen less are ignored.
        min_match_frames: frames an ID must match a person on to count for fragmentation/merge.
    """
    if max_dist <= 0:
        raise ValueError(f"max_dist must be > 0, got {max_dist}")
    unknown = sorted({cam for cam, _ in preds} - {c.id for c in gt.cameras})
    if unknown:
        raise ValueError(f"predictions for cameras not in the ground truth: {unknown}")
    cams = [c.id for c in gt.cameras]
    accs = {c: mm.MOTAccumulator(auto_id=False) for c in cams}
    glob = mm.MOTAccumulator(auto_id=False)
    offset = {c: k * _CAMERA_STRIDE for k, c in enumerate(cams)}
    # motmetrics wants numeric IDs: number people and global IDs in order of first sight
    onum: dict[str, int] = {}
    hnum: dict[str, int] = {}
    for cam, i, oids, hids, d in _frame_pairs(gt, preds, max_dist, min_visibility):
        o = [onum.setdefault(x, len(onum)) for x in oids]
        h = [hnum.setdefault(x, len(hnum)) for x in hids]
        accs[cam].update(o, h, d, frameid=i)
        glob.update(o, h, d, frameid=offset[cam] + i)
    oname = {v: k for k, v in onum.items()}
    hname = {v: k for k, v in hnum.items()}
    mh = mm.metrics.create()
    names = [*cams, "all"]
    summary = mh.compute_many([*(accs[c] for c in cams), glob], metrics=_MOT_METRICS, names=names)
    per_cam = [_scores(summary.loc[c], c) for c in cams]
    overall = _scores(summary.loc["all"], "all")

    ev = glob.mot_events
    matched = ev[ev["Type"].isin(["MATCH", "SWITCH"])]
    pairs = Counter(
        (oname[int(o)], hname[int(h)]) for o, h in zip(matched["OId"], matched["HId"], strict=True)
    )
    starts = id_starts(
        [
            (oname[int(o)], hname[int(h)], cams[int(f) // _CAMERA_STRIDE], int(f) % _CAMERA_STRIDE)
            for (f, _), o, h in zip(matched.index, matched["OId"], matched["HId"], strict=True)
        ],
        gt.fps,
        min_match_frames,
    )
    ids_of: dict[str, set[str]] = defaultdict(set)
    people_of: dict[str, set[str]] = defaultdict(set)
    best: dict[str, tuple[int, str]] = {}
    for (oid, hid), n in sorted(pairs.items()):
        if n >= min_match_frames:
            ids_of[oid].add(hid)
            people_of[hid].add(oid)
        if hid not in best or (n, oid) > best[hid]:
            best[hid] = (n, oid)
    people = {
        b.id
        for rows in gt.frames.values()
        for boxes in rows
        for b in boxes
        if b.visibility >= min_visibility
    }
    pred_ids = {p[0] for pts in preds.values() for p in pts}
    frag = sum(len(ids_of[p]) > 1 for p in people) / len(people) if people else None
    merge = sum(len(people_of[h]) > 1 for h in pred_ids) / len(pred_ids) if pred_ids else None
    return TrackingMetrics(
        per_camera=per_cam,
        overall=overall,
        people_gt=len(people),
        ids_pred=len(pred_ids),
        fragmentation=_clean(frag),
        merge=_clean(merge),
        id_map={h: best[h][1] for h in sorted(best)},
        id_starts=starts,
    )


def visit_metrics(
    gt: GroundTruth,
    visits: Sequence[PredVisit],
    zone_visits: Sequence[PredZoneVisit],
    id_map: Mapping[str, str],
    *,
    pred_ids: Sequence[str] = (),
) -> VisitMetrics:
    """Visit in/out, dwell, zone dwell and visitor-count errors (see module doc).

    Args:
        gt: the ground truth.
        visits: predicted visits (seconds from the video start).
        zone_visits: predicted zone stays.
        id_map: predicted global ID -> ground-truth person (from :func:`tracking_metrics`).
        pred_ids: further predicted IDs to count as visitors (e.g. IDs with track points only).
    """
    gt_people = [p for p in gt.people if p.visits]
    pairs_gt = [(p.id, v) for p in gt_people for v in p.visits]
    cost = np.zeros((len(pairs_gt), len(visits)))
    for a, (pid, gv) in enumerate(pairs_gt):
        for b, pv in enumerate(visits):
            if id_map.get(pv.global_id) != pid:
                continue
            inter = min(gv.out_s, pv.out_s) - max(gv.in_s, pv.in_s)
            union = max(gv.out_s, pv.out_s) - min(gv.in_s, pv.in_s)
            cost[a, b] = inter / union if inter > 0 and union > 0 else 0.0
    ins: list[float] = []
    outs: list[float] = []
    if cost.size:
        r, c = linear_sum_assignment(-cost)
        for a, b in zip(r, c, strict=True):
            if cost[a, b] > 0:
                ins.append(abs(visits[b].in_s - pairs_gt[a][1].in_s))
                outs.append(abs(visits[b].out_s - pairs_gt[a][1].out_s))
    dwell_err = []
    for p in gt_people:
        true = sum(v.dwell_s for v in p.visits)
        pred = sum(v.out_s - v.in_s for v in visits if id_map.get(v.global_id) == p.id)
        dwell_err.append(abs(pred - true))
    zgt: dict[str, float] = defaultdict(float)
    for p in gt_people:
        for v in p.visits:
            for z in v.zones:
                zgt[z.zone] += z.dwell_s
    zpred: dict[str, float] = defaultdict(float)
    for z in zone_visits:
        zpred[z.zone] += z.exit_s - z.enter_s
    rel = {z: round(abs(zpred.get(z, 0.0) - t) / t, 4) for z, t in sorted(zgt.items()) if t > 0}
    visitors = {v.global_id for v in visits} | set(pred_ids)
    n_gt = len(gt_people)
    return VisitMetrics(
        unique_visitors_gt=n_gt,
        unique_visitors_pred=len(visitors),
        unique_visitor_error=len(visitors) - n_gt,
        unique_visitor_rel_error=_clean((len(visitors) - n_gt) / n_gt) if n_gt else None,
        visits_gt=len(pairs_gt),
        visits_pred=len(visits),
        visits_matched=len(ins),
        in_mae_s=_clean(float(np.mean(ins))) if ins else None,
        out_mae_s=_clean(float(np.mean(outs))) if outs else None,
        total_dwell_mae_s=_clean(float(np.mean(dwell_err))) if dwell_err else None,
        zone_dwell_gt_s={z: round(v, 3) for z, v in sorted(zgt.items())},
        zone_dwell_pred_s={z: round(v, 3) for z, v in sorted(zpred.items())},
        zone_dwell_rel_error=rel,
        zone_dwell_rel_error_mean=_clean(float(np.mean(list(rel.values())))) if rel else None,
    )
