"""How many frames a camera may segment: a token bucket over the frames' own timestamps.

Segmentation runs only for the crops ReID needs (the tracks due for an embedding) and
costs one segmenter pass per frame (SAM's image encoder, the segmentation model), however
many of the frame's crops are due. On a CPU that pass is hundreds of milliseconds, so
:class:`SegmentBudget` lets at most ``rate`` frames per second of video through; the due
crops of the other frames are embedded as plain box crops. A cuda device, or
``rate=None``, segments every due crop.

Time is the frames' timestamps (a live camera's frames arrive in real time, a file's in
its own time), so the budget is deterministic and tests need no clock.

Example:
    >>> b = SegmentBudget(rate=2.0)
    >>> [b.take(t) for t in (0.0, 0.1, 0.2, 0.6, 0.7, 1.2)]
    [True, True, False, True, False, True]
"""

from __future__ import annotations

from mcvision.config import SegmenterConfig


class SegmentBudget:
    """At most ``rate`` frames per second (bursts of up to ``burst`` frames).

    Args:
        rate: frames per second; None for no limit.
        burst: bucket size (default ``max(1, rate)``).
    """

    def __init__(self, rate: float | None, burst: float | None = None) -> None:
        if rate is not None and rate <= 0:
            raise ValueError(f"rate must be > 0 or None, got {rate}")
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate or 1.0)
        if self.burst < 1:
            raise ValueError(f"burst must be >= 1, got {self.burst}")
        self._tokens = self.burst
        self._last: float | None = None
        self.granted = 0
        self.refused = 0

    @classmethod
    def from_config(cls, cfg: SegmenterConfig) -> SegmentBudget:
        """``cfg.max_per_second`` on a CPU device; no limit on a cuda device."""
        rate = None if cfg.device.startswith("cuda") else cfg.max_per_second
        return cls(rate)

    @property
    def limited(self) -> bool:
        return self.rate is not None

    def take(self, ts: float) -> bool:
        """Whether the frame at ``ts`` (seconds) may be segmented; spends a token if so."""
        if self.rate is None:
            self.granted += 1
            return True
        if self._last is not None and ts > self._last:
            self._tokens = min(self.burst, self._tokens + (ts - self._last) * self.rate)
        if self._last is None or ts > self._last:
            self._last = ts
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            self.granted += 1
            return True
        self.refused += 1
        return False


__all__ = ["SegmentBudget"]
