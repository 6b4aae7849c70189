"""Person ReID scores in the standard Market-1501 protocol, and a match threshold.

Plain numpy, no model: features in, numbers out.

Protocol (as torchreid's ``eval_market1501`` and the Market-1501 MATLAB code):

* similarity is the cosine of L2-normalised features; the gallery is ranked by it,
  highest first (ties keep gallery order: a stable sort);
* for each query, gallery entries of the same person *and* the same camera are removed
  (they are too easy), and so are junk entries (person ``-1``); distractors (person ``0``,
  false detections) stay: they can only push true matches down;
* a query with no true match left is skipped (and counted);
* CMC at rank k: share of scored queries with a true match within the first k;
* AP of a query: the mean, over its true matches, of the precision at each true match's
  rank; mAP: the mean AP over scored queries.

:func:`threshold_at_false_match_rate` turns pair scores into the cosine threshold that
lets a chosen share of different-person pairs through (the identity matcher's
``identity.match_threshold`` is derived from it), and :func:`cross_camera_pair_scores`
collects those pairs from a query/gallery split.

Example:
    >>> f = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> s = rank_metrics(f, [1, 2], [1, 1], f, [1, 2], [2, 2])
    >>> s.rank1, s.mAP, s.queries_scored
    (1.0, 1.0, 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = [
    "DISTRACTOR",
    "JUNK",
    "ReIDScores",
    "ThresholdAtFMR",
    "cross_camera_pair_scores",
    "l2_rows",
    "rank_metrics",
    "threshold_at_false_match_rate",
]

JUNK = -1
DISTRACTOR = 0

ArrayLike = np.ndarray | Sequence[Any]


def _rounded(d: dict[str, Any], digits: int | None) -> dict[str, Any]:
    if digits is None:
        return d
    return {k: round(v, digits) if isinstance(v, float) else v for k, v in d.items()}


@dataclass(frozen=True)
class ReIDScores:
    """CMC and mAP of one query/gallery evaluation.

    Attributes:
        rank1, rank5, rank10: CMC at ranks 1, 5, 10 (share of scored queries).
        mAP: mean average precision over scored queries.
        queries: queries given.
        queries_scored: queries with at least one valid true match in the gallery.
        queries_skipped: ``queries - queries_scored``.
        gallery: gallery entries given (junk included, if any was given).
        gallery_junk: gallery entries of person ``-1`` (ignored for every query).
        gallery_distractors: gallery entries of person ``0`` (kept).
    """

    rank1: float
    rank5: float
    rank10: float
    mAP: float
    queries: int
    queries_scored: int
    queries_skipped: int
    gallery: int
    gallery_junk: int
    gallery_distractors: int

    def as_dict(self, digits: int | None = 4) -> dict[str, Any]:
        """A JSON-ready dict (floats rounded to ``digits``; None: as they are)."""
        return _rounded(asdict(self), digits)


@dataclass(frozen=True)
class ThresholdAtFMR:
    """A score threshold chosen for a target false-match rate.

    A pair *matches* when its score is ``>= threshold``.

    Attributes:
        threshold: the lowest threshold whose false-match rate is at most ``target_rate``.
        target_rate: the false-match rate asked for.
        false_match_rate: share of different-person pairs at or above ``threshold``.
        true_match_rate: share of same-person pairs at or above ``threshold``.
        same_pairs, diff_pairs: how many scores of each kind were given.
    """

    threshold: float
    target_rate: float
    false_match_rate: float
    true_match_rate: float
    same_pairs: int
    diff_pairs: int

    def as_dict(self, digits: int | None = 4) -> dict[str, Any]:
        """A JSON-ready dict (floats rounded to ``digits``; None: as they are)."""
        return _rounded(asdict(self), digits)


def l2_rows(x: ArrayLike, eps: float = 1e-12) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), float32 (N, D).

    Example:
        >>> l2_rows([[3.0, 4.0]]).tolist()
        [[0.6000000238418579, 0.800000011920929]]
    """
    a = np.asarray(x, dtype=np.float32)
    if a.ndim != 2:
        raise ValueError(f"features must be (N, D), got shape {a.shape}")
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), eps)


def _labels(name: str, values: ArrayLike, n: int) -> np.ndarray:
    a = np.asarray(values, dtype=np.int64).reshape(-1)
    if len(a) != n:
        raise ValueError(f"{name} has {len(a)} entries, the features have {n} rows")
    return a


def _check(
    query_feats: ArrayLike,
    query_pids: ArrayLike,
    query_cams: ArrayLike,
    gallery_feats: ArrayLike,
    gallery_pids: ArrayLike,
    gallery_cams: ArrayLike,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    q, g = l2_rows(query_feats), l2_rows(gallery_feats)
    if q.shape[1] != g.shape[1]:
        raise ValueError(f"query features are {q.shape[1]}-d, gallery features {g.shape[1]}-d")
    return (
        q,
        _labels("query_pids", query_pids, len(q)),
        _labels("query_cams", query_cams, len(q)),
        g,
        _labels("gallery_pids", gallery_pids, len(g)),
        _labels("gallery_cams", gallery_cams, len(g)),
    )


def rank_metrics(
    query_feats: ArrayLike,
    query_pids: ArrayLike,
    query_cams: ArrayLike,
    gallery_feats: ArrayLike,
    gallery_pids: ArrayLike,
    gallery_cams: ArrayLike,
    *,
    chunk: int = 256,
) -> ReIDScores:
    """Rank-1/5/10 and mAP in the Market-1501 protocol (see the module docstring).

    Features need not be normalised (rows are L2-normalised here). The similarity is
    computed ``chunk`` queries at a time, so 3,368 × 15,913 needs ~100 MB, not 400.

    Args:
        query_feats: (Q, D) query features.
        query_pids, query_cams: (Q,) person and camera of each query.
        gallery_feats: (G, D) gallery features.
        gallery_pids, gallery_cams: (G,) person (``-1`` junk, ``0`` distractor) and camera.
        chunk: queries per similarity block.

    Returns:
        The scores; all rates are 0.0 when no query could be scored.

    Example:
        >>> q = [[1.0, 0.0]]
        >>> g = [[0.9, 0.1], [1.0, 0.0], [0.0, 1.0]]  # person 2, person 1 same camera, person 1
        >>> s = rank_metrics(q, [1], [1], g, [2, 1, 1], [2, 1, 2])
        >>> s.rank1, s.rank5, s.mAP  # the same-camera crop is ignored; the match is 2nd
        (0.0, 1.0, 0.5)
    """
    q, q_pids, q_cams, g, g_pids, g_cams = _check(
        query_feats, query_pids, query_cams, gallery_feats, gallery_pids, gallery_cams
    )
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    junk = g_pids == JUNK
    hits = np.zeros(3, dtype=np.int64)  # queries with a match within rank 1, 5, 10
    ap_sum = 0.0
    scored = 0
    for start in range(0, len(q), chunk):
        sl = slice(start, start + chunk)
        sim = q[sl] @ g.T  # (c, G)
        order = np.argsort(-sim, axis=1, kind="stable")
        pids, cams = g_pids[order], g_cams[order]
        qp, qc = q_pids[sl, None], q_cams[sl, None]
        valid = ~((pids == qp) & (cams == qc)) & ~junk[order]
        match = (pids == qp) & valid
        n_rel = match.sum(axis=1)
        ok = n_rel > 0
        if not ok.any():
            continue
        valid, match, n_rel = valid[ok], match[ok], n_rel[ok]
        rank = np.cumsum(valid, axis=1)  # 1-based rank among valid entries, at valid ones
        first = np.where(match, rank, np.iinfo(np.int64).max).min(axis=1)
        hits += (first[:, None] <= np.array([1, 5, 10])).sum(axis=0)
        precision = np.cumsum(match, axis=1) / np.maximum(rank, 1)
        ap_sum += float((np.where(match, precision, 0.0).sum(axis=1) / n_rel).sum())
        scored += int(ok.sum())
    rates = hits / scored if scored else np.zeros(3)
    return ReIDScores(
        rank1=float(rates[0]),
        rank5=float(rates[1]),
        rank10=float(rates[2]),
        mAP=ap_sum / scored if scored else 0.0,
        queries=len(q),
        queries_scored=scored,
        queries_skipped=len(q) - scored,
        gallery=len(g),
        gallery_junk=int(junk.sum()),
        gallery_distractors=int((g_pids == DISTRACTOR).sum()),
    )


def threshold_at_false_match_rate(
    scores_same: ArrayLike, scores_diff: ArrayLike, rate: float = 0.01
) -> ThresholdAtFMR:
    """The lowest threshold at which at most ``rate`` of different-person pairs match.

    A pair matches when its score is ``>= threshold``. With ``k = floor(rate × n_diff)``,
    the threshold sits just above the (k+1)-th highest different-person score, so at most
    ``k`` of them reach it (fewer when scores tie).

    Args:
        scores_same: scores of same-person pairs (e.g. same person, other camera).
        scores_diff: scores of different-person pairs.
        rate: target false-match rate in [0, 1).

    Raises:
        ValueError: no different-person score, or ``rate`` out of range.

    Example:
        >>> diff = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
        >>> t = threshold_at_false_match_rate([0.85, 0.92, 0.99], diff, rate=0.1)
        >>> round(t.threshold, 6), t.false_match_rate, round(t.true_match_rate, 4)
        (0.9, 0.1, 0.6667)
    """
    same = np.asarray(scores_same, dtype=np.float64).reshape(-1)
    diff = np.asarray(scores_diff, dtype=np.float64).reshape(-1)
    if len(diff) == 0:
        raise ValueError("no different-person score: the false-match rate is undefined")
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"rate must be in [0, 1), got {rate}")
    k = int(np.floor(rate * len(diff) + 1e-9))
    kth = np.partition(diff, len(diff) - 1 - k)[len(diff) - 1 - k]  # (k+1)-th highest
    thr = float(np.nextafter(kth, np.inf))
    return ThresholdAtFMR(
        threshold=thr,
        target_rate=float(rate),
        false_match_rate=float((diff >= thr).mean()),
        true_match_rate=float((same >= thr).mean()) if len(same) else 0.0,
        same_pairs=len(same),
        diff_pairs=len(diff),
    )


def count_cross_camera_diff_pairs(
    query_pids: ArrayLike,
    query_cams: ArrayLike,
    gallery_pids: ArrayLike,
    gallery_cams: ArrayLike,
    *,
    chunk: int = 256,
) -> int:
    """How many query × gallery pairs are different real people seen by different cameras.

    Junk (``-1``) and distractor (``0``) entries are not counted. Tells whether
    :func:`cross_camera_pair_scores` kept all different-person pairs or a sample.

    Example:
        >>> count_cross_camera_diff_pairs([1, 2], [1, 1], [1, 2, 0], [2, 2, 2])
        2
    """
    qp, qc = np.asarray(query_pids).reshape(-1), np.asarray(query_cams).reshape(-1)
    gp, gc = np.asarray(gallery_pids).reshape(-1), np.asarray(gallery_cams).reshape(-1)
    qk = (qp != JUNK) & (qp != DISTRACTOR)
    gk = (gp != JUNK) & (gp != DISTRACTOR)
    qp, qc, gp, gc = qp[qk], qc[qk], gp[gk], gc[gk]
    total = 0
    for start in range(0, len(qp), chunk):
        sl = slice(start, start + chunk)
        total += int(((qp[sl, None] != gp) & (qc[sl, None] != gc)).sum())
    return total


def cross_camera_pair_scores(
    query_feats: ArrayLike,
    query_pids: ArrayLike,
    query_cams: ArrayLike,
    gallery_feats: ArrayLike,
    gallery_pids: ArrayLike,
    gallery_cams: ArrayLike,
    *,
    max_diff: int | None = 2_000_000,
    seed: int = 0,
    chunk: int = 256,
) -> tuple[np.ndarray, np.ndarray]:
    """Cosine scores of query × gallery pairs seen by different cameras.

    Junk (``-1``) and distractor (``0``) entries take no part: these are pairs of real
    people. Same-person pairs are all kept; different-person pairs are all kept when
    there are at most ``max_diff`` of them, else each is kept with probability
    ``max_diff / total`` (a seeded draw, the same for the same inputs).

    Returns:
        ``(same, diff)``: float32 scores of same-person and different-person pairs.

    Example:
        >>> f = [[1.0, 0.0], [0.0, 1.0]]
        >>> same, diff = cross_camera_pair_scores(f, [1, 2], [1, 1], f, [1, 2], [2, 2])
        >>> same.tolist(), diff.tolist()
        ([1.0, 1.0], [0.0, 0.0])
    """
    q, q_pids, q_cams, g, g_pids, g_cams = _check(
        query_feats, query_pids, query_cams, gallery_feats, gallery_pids, gallery_cams
    )
    qk = (q_pids != JUNK) & (q_pids != DISTRACTOR)
    gk = (g_pids != JUNK) & (g_pids != DISTRACTOR)
    q, q_pids, q_cams = q[qk], q_pids[qk], q_cams[qk]
    g, g_pids, g_cams = g[gk], g_pids[gk], g_cams[gk]
    total = count_cross_camera_diff_pairs(q_pids, q_cams, g_pids, g_cams, chunk=chunk)
    keep_p = 1.0 if max_diff is None or total <= max_diff else max_diff / total
    rng = np.random.default_rng(seed)
    same: list[np.ndarray] = []
    diff: list[np.ndarray] = []
    for start in range(0, len(q), chunk):
        sl = slice(start, start + chunk)
        sim = q[sl] @ g.T
        cross = q_cams[sl, None] != g_cams
        same_person = q_pids[sl, None] == g_pids
        same.append(sim[cross & same_person])
        neg = cross & ~same_person
        if keep_p < 1.0:
            neg &= rng.random(neg.shape) < keep_p
        diff.append(sim[neg])
    return _cat(same), _cat(diff)


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)
