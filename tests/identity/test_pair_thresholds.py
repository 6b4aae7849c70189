"""Per camera-pair thresholds from known-different scores."""

from __future__ import annotations

import numpy as np
import pytest

from mcvision.evaluate.reid_protocol import threshold_at_false_match_rate
from mcvision.identity.pair_thresholds import PairThresholds


def test_each_pair_is_shifted_by_its_score_at_the_rate_against_the_pooled_one() -> None:
    rng = np.random.default_rng(0)
    pt = PairThresholds(base=0.4, fmr=0.05, min_samples=30, max_samples=1000)
    close, far = rng.normal(0.6, 0.05, 200), rng.normal(0.1, 0.05, 200)
    for a, b in zip(close, far, strict=True):
        pt.add("c1", "c2", float(a))
        pt.add("c3", "c3", float(b))

    def at(x: np.ndarray) -> float:
        return threshold_at_false_match_rate([], x, 0.05).threshold

    pooled = at(np.concatenate([close, far]))
    assert pt.pooled() == pytest.approx(pooled)
    assert pt.threshold("c2", "c1") == pytest.approx(0.4 + at(close) - pooled)  # unordered
    assert pt.threshold("c3", "c3") == pytest.approx(0.4 + at(far) - pooled)
    assert pt.threshold("c3", "c3") < 0.4 < pt.threshold("c1", "c2")
    assert pt.threshold("c1", "c3") == 0.4  # no scores: the global threshold
    np.testing.assert_allclose(
        pt.offsets("c1", ["c2", "c1"]), [pt.threshold("c1", "c2") - 0.4, 0.0], atol=1e-6
    )
    assert pt.snapshot()["c1|c2"]["scores"] == 200


def test_too_few_scores_keep_the_base_and_old_scores_roll_off() -> None:
    pt = PairThresholds(base=0.5, fmr=0.0, min_samples=3, max_samples=3)
    for s in (0.9, 0.8):
        pt.add("a", "b", s)
        pt.add("c", "c", s - 0.5)
    assert pt.threshold("a", "b") == 0.5  # 2 < 3 scores
    pt.add("a", "b", float("nan"))  # ignored
    assert pt.count("a", "b") == 2
    pt.add("a", "b", 0.7)
    assert pt.threshold("a", "b") == pytest.approx(0.5)  # its top score is the pooled top
    for _ in range(3):
        pt.add("a", "b", 0.2)  # 0.9, 0.8, 0.7 roll off (last 3 kept): below c-c's 0.4 now
    assert pt.count("a", "b") == 3
    assert pt.threshold("a", "b") == pytest.approx(0.5 + 0.2 - 0.4)


@pytest.mark.parametrize(("fmr", "lo", "hi"), [(1.0, 1, 2), (0.1, 0, 5), (0.1, 5, 2)])
def test_bad_parameters(fmr: float, lo: int, hi: int) -> None:
    with pytest.raises(ValueError):
        PairThresholds(0.4, fmr, lo, hi)
