"""Per camera-pair match thresholds, learnt from the site's own tracks without labels.

One global ``identity.match_threshold`` assumes every pair of cameras puts different
people at the same cosine. They do not: two cameras with the same light and angle make
strangers look alike, two very different ones keep even one person apart. The site
tells its own story, with no labels: **two tracks seen on one camera at the same
moment are two different people** (a camera never holds a person twice). So whenever a
track is decided, its similarity to every identity that has a live track concurrent
with it on the same camera is a *known-different* score, per camera of that
identity's gallery embeddings: the track's camera and the embedding's camera make the
pair. Per pair, the global threshold is shifted by how far the pair's score at a
false-match rate ``fmr`` (``identity.pair_fmr``: the score that fraction of its
known-different scores reach, the rule of
:func:`mcvision.evaluate.reid_protocol.threshold_at_false_match_rate`) sits from the same
score over all pairs: a pair where strangers look more alike than elsewhere needs more to
match. The shift is relative, not the rate's score itself, because the known-different
scores carry the matcher's own mistakes (an identity that already holds two people makes a
"different" pair of one person): in a diagnostic replay of a crowded simulated store
with retail-0286, 10 % of the same-camera ones were above 0.8, so an absolute tail
quantile mostly measures those mistakes. A pair with fewer than ``min_samples`` scores keeps the global
threshold.

:class:`~mcvision.identity.manager.IdentityManager` uses the thresholds as margins: a
track's similarity to an identity is ``max over the identity's embeddings of (cosine −
pair threshold) + match_threshold``, so the cost and the "new identity" option keep their
meaning and a site without enough data matches exactly as before. Scores are kept in
memory (the last ``max_samples`` per pair) and across business days (they describe the
cameras, not the people); a restarted process learns them again.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

CameraPair = tuple[str, str]


def pair_key(a: str, b: str) -> CameraPair:
    """The unordered camera pair, as a sorted tuple."""
    return (a, b) if a <= b else (b, a)


class PairThresholds:
    """Known-different similarity scores per camera pair, and a threshold per pair.

    Args:
        base: the global threshold (``identity.match_threshold``), used for a pair
            with too few scores.
        fmr: the false-match rate the threshold allows among known-different scores.
        min_samples: scores a pair needs before it gets its own threshold.
        max_samples: scores kept per pair (the most recent).

    Example:
        >>> pt = PairThresholds(base=0.4, fmr=0.5, min_samples=10)
        >>> for s in np.linspace(0.0, 0.9, 10):
        ...     pt.add("c1", "c2", float(s))
        ...     pt.add("c3", "c3", float(s) - 0.2)
        >>> [round(pt.threshold(*p), 3) for p in (("c2", "c1"), ("c3", "c3"), ("c1", "c3"))]
        [0.5, 0.3, 0.4]
    """

    def __init__(
        self, base: float, fmr: float = 0.01, min_samples: int = 50, max_samples: int = 5000
    ) -> None:
        if not 0.0 <= fmr < 1.0:
            raise ValueError(f"fmr must be in [0, 1), got {fmr}")
        if min_samples < 1 or max_samples < min_samples:
            raise ValueError(
                f"need 1 <= min_samples <= max_samples, got {min_samples}, {max_samples}"
            )
        self.base = float(base)
        self.fmr = float(fmr)
        self.min_samples = int(min_samples)
        self.max_samples = int(max_samples)
        self._scores: dict[CameraPair, deque[float]] = {}
        self._cache: dict[CameraPair | str, float] = {}

    def add(self, cam_a: str, cam_b: str, score: float) -> None:
        """Record the similarity of two people known to be different."""
        if not math.isfinite(score):
            return
        key = pair_key(cam_a, cam_b)
        q = self._scores.get(key)
        if q is None:
            q = self._scores[key] = deque(maxlen=self.max_samples)
        q.append(float(score))
        self._cache.clear()  # the pooled score moved: every pair's shift with it

    def count(self, cam_a: str, cam_b: str) -> int:
        """Known-different scores held for the pair."""
        return len(self._scores.get(pair_key(cam_a, cam_b), ()))

    def _score_at_rate(self, scores: np.ndarray) -> float:
        k = int(np.floor(self.fmr * len(scores) + 1e-9))
        kth = np.partition(scores, len(scores) - 1 - k)[len(scores) - 1 - k]  # (k+1)-th highest
        return float(np.nextafter(kth, np.inf))

    def pooled(self) -> float | None:
        """The score at ``fmr`` over every pair's known-different scores (None: none yet)."""
        if "*" not in self._cache:
            if not self._scores:
                return None
            self._cache["*"] = self._score_at_rate(
                np.concatenate([np.fromiter(q, np.float64) for q in self._scores.values()])
            )
        return self._cache["*"]

    def threshold(self, cam_a: str, cam_b: str) -> float:
        """The pair's threshold: ``base`` shifted by (its score at ``fmr`` − the pooled one);
        ``base`` with fewer than ``min_samples`` scores."""
        key = pair_key(cam_a, cam_b)
        if key in self._cache:
            return self._cache[key]
        q = self._scores.get(key)
        if q is None or len(q) < self.min_samples:
            return self.base
        pooled = self.pooled()
        assert pooled is not None
        thr = self.base + self._score_at_rate(np.fromiter(q, np.float64, len(q))) - pooled
        self._cache[key] = thr
        return thr

    def offsets(self, camera: str, cameras: list[str]) -> np.ndarray:
        """``threshold(camera, c) − base`` for each of ``cameras`` (what a margin subtracts)."""
        return np.array([self.threshold(camera, c) - self.base for c in cameras], np.float32)

    def snapshot(self) -> dict[str, dict[str, float | int]]:
        """Every pair's score count and threshold, e.g. for a report."""
        return {
            f"{a}|{b}": {"scores": len(q), "threshold": round(self.threshold(a, b), 4)}
            for (a, b), q in sorted(self._scores.items())
        }
