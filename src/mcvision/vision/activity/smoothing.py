"""Label smoothing: hysteresis over a stream of raw labels, one per tick."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mcvision.vision.activity.features import Activity


class LabelSmoother:
    """Hysteresis over a stream of raw labels, one per tick.

    A different label takes over once it was the raw label for ``min_s`` seconds of
    consecutive ticks (each tick counts ``period_s``); labels in ``immediate``
    (``fallen``) take over at once. So every smoothed label but those lasts at least
    ``min_s``.

    ``onset`` is the time of the first raw tick of the current label's run: a label
    that took over after ``min_s`` started that long before it was emitted, and the
    activity intervals are back-dated to it. ``holds`` keeps a label while the raw
    label is one it holds: a ``fallen`` person who stays ``lying`` stays ``fallen``
    (only a learned classifier says ``lying``; a person first seen lying is not fallen).

    Example:
        >>> s = LabelSmoother(min_s=2.0, period_s=1.0)
        >>> [s.update(t, lab) for t, lab in enumerate("WWSWWSSS")]
        ['W', 'W', 'W', 'W', 'W', 'W', 'S', 'S']
    """

    def __init__(
        self,
        min_s: float = 2.0,
        period_s: float = 1.0,
        immediate: Sequence[str] = (Activity.FALLEN.value,),
        holds: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        if min_s < 0 or period_s <= 0:
            raise ValueError(f"min_s must be >= 0 and period_s > 0, got {min_s}, {period_s}")
        self.min_s = min_s
        self.period_s = period_s
        self.immediate = frozenset(immediate)
        self.holds = {
            k: frozenset(v)
            for k, v in (
                holds if holds is not None else {Activity.FALLEN.value: (Activity.LYING.value,)}
            ).items()
        }
        self.label: str | None = None
        self.onset: float | None = None
        self._candidate: str | None = None
        self._since = 0.0

    def update(self, ts: float, raw: str) -> str:
        """Feed one raw label at ``ts``; returns the smoothed label."""
        if self.label is not None and raw in self.holds.get(self.label, ()):
            raw = self.label
        if self.label is None or (raw in self.immediate and raw != self.label):
            self.label, self._candidate, self.onset = raw, None, ts
        elif raw == self.label:
            self._candidate = None
        else:
            if raw != self._candidate:
                self._candidate, self._since = raw, ts
            if ts - self._since + self.period_s >= self.min_s - 1e-9:
                self.label, self._candidate, self.onset = raw, None, self._since
        return self.label


def smooth_labels(labels: Sequence[str], min_s: float = 2.0, period_s: float = 1.0) -> list[str]:
    """Smooth a per-tick label sequence offline (ticks ``period_s`` apart)."""
    s = LabelSmoother(min_s=min_s, period_s=period_s)
    return [s.update(i * period_s, lab) for i, lab in enumerate(labels)]
