"""Business days and the daily reset: the calendar identity, analytics, CLI, API and MCP share.

A business day starts at ``reset.time`` in ``reset.timezone`` and is labelled
by the local date on which it starts: with a 12:00 reset, 2026-11-24 runs from
noon on the 24th to noon on the 25th. Times are epoch seconds; pendulum does
the time-zone arithmetic, so days are 23 or 25 hours long across DST changes.

Example:
    >>> cal = BusinessCalendar("00:00", "Asia/Kolkata")
    >>> cal.day_of(1_764_009_000.0)   # 2025-11-25 00:00 IST
    '2025-11-25'
    >>> cal.day_of(1_764_008_999.0)
    '2025-11-24'
"""

from __future__ import annotations

from functools import lru_cache
from typing import cast

import pendulum

from mcvision.config import ResetConfig


class BusinessCalendar:
    """Maps timestamps to business days for one reset time and time zone."""

    def __init__(self, time: str = "00:00", timezone: str = "Asia/Kolkata") -> None:
        cfg = ResetConfig(time=time, timezone=timezone)  # validates both
        self.time = cfg.time
        self.timezone = cfg.timezone
        hh, mm = self.time.split(":")
        self._hour, self._minute = int(hh), int(mm)
        self._tz = pendulum.timezone(self.timezone)

    @classmethod
    def from_config(cls, cfg: ResetConfig) -> BusinessCalendar:
        return cls(cfg.time, cfg.timezone)

    def day_start(self, day: str) -> float:
        """Epoch seconds at which business day ``day`` (YYYY-MM-DD) starts."""
        return _day_start(day, self._hour, self._minute, self.timezone)

    def day_bounds(self, day: str) -> tuple[float, float]:
        """``[start, end)`` of a business day, epoch seconds."""
        nxt = _parse_day(day).add(days=1).to_date_string()
        return self.day_start(day), self.day_start(nxt)

    def day_of(self, ts: float) -> str:
        """The business day (YYYY-MM-DD) that ``ts`` belongs to."""
        local = pendulum.from_timestamp(ts, tz=self._tz)
        day = local.to_date_string()
        if ts < self.day_start(day):
            day = local.subtract(days=1).to_date_string()
        return day

    def next_reset_after(self, ts: float) -> float:
        """The first reset strictly after ``ts``."""
        return self.day_bounds(self.day_of(ts))[1]

    def local(self, ts: float) -> pendulum.DateTime:
        """``ts`` as a local date-time in the site's time zone."""
        return pendulum.from_timestamp(ts, tz=self._tz)


def _parse_day(day: str) -> pendulum.DateTime:
    # pendulum.parse types a union (date, time, duration); a YYYY-MM-DD string gives a DateTime
    return cast(pendulum.DateTime, pendulum.parse(day))


@lru_cache(maxsize=4096)
def _day_start(day: str, hour: int, minute: int, tz: str) -> float:
    d = _parse_day(day)
    # pendulum resolves a non-existent local time (DST gap) forward, an ambiguous one to the first.
    return pendulum.datetime(d.year, d.month, d.day, hour, minute, tz=tz).timestamp()
