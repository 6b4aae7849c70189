"""Market-1501 protocol (Rank-k, mAP) and the false-match-rate threshold, on hand-made data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mcvision.evaluate.reid_protocol import (
    count_cross_camera_diff_pairs,
    cross_camera_pair_scores,
    rank_metrics,
    threshold_at_false_match_rate,
)


def unit(deg: float) -> list[float]:
    """A 2-D unit vector at ``deg`` degrees: cosine order = angular distance order."""
    return [math.cos(math.radians(deg)), math.sin(math.radians(deg))]


# Gallery: (angle, person, camera). Person 0 is a distractor, -1 junk.
GALLERY = [
    (0.0, 1, 1),  # g0: person 1, camera 1 — same person and camera as query A: ignored for A
    (5.0, -1, 3),  # g1: junk: ignored for every query
    (10.0, 0, 2),  # g2: distractor: counts (a wrong answer ranked above A's matches)
    (20.0, 1, 2),  # g3: person 1, camera 2
    (60.0, 1, 3),  # g4: person 1, camera 3
    (85.0, 2, 2),  # g5: person 2, camera 2
]
# Queries: (angle, person, camera).
QUERIES = [
    (0.0, 1, 1),  # A: valid ranking g2 (distractor), g3 (match), g4 (match), g5
    (90.0, 2, 1),  # B: valid ranking g5 (match), g4, g3, g2, g0
    (45.0, 2, 2),  # C: its only person-2 crop (g5) is from its own camera: skipped
]


def split(rows: list[tuple[float, int, int]]) -> tuple[np.ndarray, list[int], list[int]]:
    return np.array([unit(a) for a, _, _ in rows]), [p for _, p, _ in rows], [c for _, _, c in rows]


def test_hand_made_gallery_has_the_hand_computed_scores() -> None:
    s = rank_metrics(*split(QUERIES), *split(GALLERY))
    # A: matches at valid ranks 2 and 3 -> AP = (1/2 + 2/3) / 2 = 7/12, no rank-1 hit.
    # B: its one match is at rank 1 -> AP = 1. C: skipped.
    assert (s.queries, s.queries_scored, s.queries_skipped) == (3, 2, 1)
    assert s.rank1 == pytest.approx(1 / 2)
    assert s.rank5 == s.rank10 == 1.0
    assert s.mAP == pytest.approx((7 / 12 + 1.0) / 2)
    assert (s.gallery, s.gallery_junk, s.gallery_distractors) == (6, 1, 1)


def test_ap_is_the_mean_precision_at_each_true_match() -> None:
    # ranking: match, other person, match -> AP = (1/1 + 2/3) / 2
    q = [unit(0)]
    g = [unit(10), unit(20), unit(30)]
    s = rank_metrics(q, [7], [1], g, [7, 8, 7], [2, 2, 3])
    assert s.mAP == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert s.rank1 == 1.0


def test_what_each_rule_changes() -> None:
    """Junk, same-camera and distractor rules each move query A's AP as the protocol says."""
    qf, qp, qc = split(QUERIES[:1])
    gf, gp, gc = split(GALLERY)
    # junk kept as a real (wrong) person: it ranks first among valid -> matches at 3, 4
    gp_nojunk = [9 if p == -1 else p for p in gp]
    assert rank_metrics(qf, qp, qc, gf, gp_nojunk, gc).mAP == pytest.approx((1 / 3 + 2 / 4) / 2)
    # g0 from another camera: it becomes a rank-1 match -> matches at 1, 3, 4
    gc_other = [4, *gc[1:]]
    assert rank_metrics(qf, qp, qc, gf, gp, gc_other).mAP == pytest.approx(
        (1 / 1 + 2 / 3 + 3 / 4) / 3
    )


def test_unnormalised_features_and_chunking_give_the_same_scores() -> None:
    qf, qp, qc = split(QUERIES)
    gf, gp, gc = split(GALLERY)
    base = rank_metrics(qf, qp, qc, gf, gp, gc)
    scaled = rank_metrics(qf * 7.5, qp, qc, gf * np.arange(1, 7)[:, None], gp, gc, chunk=1)
    assert scaled == base


def test_matches_a_per_query_reference_on_random_data() -> None:
    """The vectorised code equals a plain per-query loop (torchreid's eval_market1501)."""
    rng = np.random.default_rng(3)
    nq, ng, d = 40, 300, 8
    qp, qc = rng.integers(1, 15, nq), rng.integers(1, 7, nq)
    gp, gc = rng.integers(-1, 15, ng), rng.integers(1, 7, ng)
    centres = rng.normal(size=(16, d))
    qf = rng.normal(size=(nq, d)) + 1.2 * centres[qp]
    gf = rng.normal(size=(ng, d)) + 1.2 * centres[gp + 1]
    qn = qf / np.linalg.norm(qf, axis=1, keepdims=True)
    gn = gf / np.linalg.norm(gf, axis=1, keepdims=True)
    cmc1, aps = [], []
    for i in range(nq):
        order = np.argsort(-(gn @ qn[i]), kind="stable")
        keep = ~(((gp[order] == qp[i]) & (gc[order] == qc[i])) | (gp[order] == -1))
        hits = (gp[order] == qp[i])[keep]
        if not hits.any():
            continue
        pos = np.flatnonzero(hits) + 1
        cmc1.append(pos[0] == 1)
        aps.append(np.mean(np.arange(1, len(pos) + 1) / pos))
    s = rank_metrics(qf, qp, qc, gf, gp, gc, chunk=7)
    assert s.queries_scored == len(aps)
    assert s.rank1 == pytest.approx(np.mean(cmc1))
    assert s.mAP == pytest.approx(np.mean(aps))


def test_no_scorable_query_gives_zeros() -> None:
    s = rank_metrics([unit(0)], [1], [1], [unit(0)], [1], [1])
    assert (s.queries_scored, s.rank1, s.mAP) == (0, 0.0, 0.0)


def test_bad_shapes_are_errors() -> None:
    with pytest.raises(ValueError, match="query_pids"):
        rank_metrics([unit(0)], [1, 2], [1], [unit(0)], [1], [2])
    with pytest.raises(ValueError, match="-d"):
        rank_metrics([[1.0, 0.0, 0.0]], [1], [1], [unit(0)], [1], [2])


def test_threshold_at_one_percent_false_match_rate() -> None:
    diff = np.arange(100) / 100  # 0.00 .. 0.99
    same = [0.5, 0.985, 0.99, 1.0]
    t = threshold_at_false_match_rate(same, diff, rate=0.01)
    # one different-person pair (0.99) may pass: the threshold sits just above 0.98
    assert 0.98 < t.threshold < 0.9801
    assert t.false_match_rate == pytest.approx(0.01)
    assert t.true_match_rate == pytest.approx(3 / 4)
    assert (t.same_pairs, t.diff_pairs, t.target_rate) == (4, 100, 0.01)
    # rate 0: nothing different passes
    t0 = threshold_at_false_match_rate(same, diff, rate=0.0)
    assert t0.false_match_rate == 0.0 and t0.threshold > 0.99
    assert t0.true_match_rate == pytest.approx(1 / 4)


def test_threshold_with_ties_never_exceeds_the_rate() -> None:
    t = threshold_at_false_match_rate([0.6], [0.5] * 10, rate=0.5)
    assert t.false_match_rate == 0.0 and t.true_match_rate == 1.0


def test_threshold_errors() -> None:
    with pytest.raises(ValueError, match="different-person"):
        threshold_at_false_match_rate([0.9], [], 0.01)
    with pytest.raises(ValueError, match="rate"):
        threshold_at_false_match_rate([0.9], [0.1], 1.0)


def test_cross_camera_pairs_skip_same_camera_junk_and_distractors() -> None:
    same, diff = cross_camera_pair_scores(*split(QUERIES[:2]), *split(GALLERY))
    # A (person 1, cam 1) x {g3, g4} same person; x g5 different. B (person 2, cam 1) x g5
    # same person; x {g3, g4} different. g0 (same camera), g1 (junk), g2 (distractor): none.

    def cos(a: float, b: float) -> float:
        return math.cos(math.radians(a - b))

    assert sorted(same.tolist()) == pytest.approx(sorted([cos(0, 20), cos(0, 60), cos(90, 85)]))
    assert sorted(diff.tolist()) == pytest.approx(sorted([cos(0, 85), cos(90, 20), cos(90, 60)]))


def test_cross_camera_pair_sample_is_reproducible() -> None:
    rng = np.random.default_rng(0)
    qf, gf = rng.normal(size=(50, 4)), rng.normal(size=(200, 4))
    qp, qc = rng.integers(1, 20, 50), rng.integers(1, 4, 50)
    gp, gc = rng.integers(1, 20, 200), rng.integers(1, 4, 200)
    full_same, full_diff = cross_camera_pair_scores(qf, qp, qc, gf, gp, gc, max_diff=None)
    a = cross_camera_pair_scores(qf, qp, qc, gf, gp, gc, max_diff=1000, seed=5, chunk=16)
    b = cross_camera_pair_scores(qf, qp, qc, gf, gp, gc, max_diff=1000, seed=5, chunk=16)
    assert np.array_equal(a[0], full_same)  # same-person pairs are never sampled
    assert np.array_equal(a[1], b[1])
    assert 800 < len(a[1]) < 1200 < len(full_diff)
    gp_junk = gp.copy()
    gp_junk[:10] = [0, -1] * 5  # distractors and junk make no pairs
    n = count_cross_camera_diff_pairs(qp, qc, gp_junk, gc, chunk=7)
    assert n == len(cross_camera_pair_scores(qf, qp, qc, gf, gp_junk, gc, max_diff=None)[1])
    assert count_cross_camera_diff_pairs(qp, qc, gp, gc) == len(full_diff)
