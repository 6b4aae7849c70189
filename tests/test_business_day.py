"""BusinessCalendar: business days, reset times, time zones with DST."""

from __future__ import annotations

import pytest

from mcvision.business_day import BusinessCalendar
from mcvision.config import ResetConfig

# 2025-11-25 00:00 Asia/Kolkata (UTC+05:30) = 2025-11-24 18:30 UTC
KOLKATA_MIDNIGHT = 1_764_009_000.0
# 2025-11-25 12:00 Asia/Kolkata = 2025-11-25 06:30 UTC
KOLKATA_NOON = 1_764_052_200.0


@pytest.mark.parametrize(
    ("time", "ts", "day"),
    [
        ("00:00", KOLKATA_MIDNIGHT - 1, "2025-11-24"),
        ("00:00", KOLKATA_MIDNIGHT, "2025-11-25"),
        ("00:00", KOLKATA_MIDNIGHT + 1, "2025-11-25"),
        ("00:00", KOLKATA_NOON, "2025-11-25"),
        # noon reset: the morning of the 25th belongs to the day begun at noon on the 24th
        ("12:00", KOLKATA_MIDNIGHT + 1, "2025-11-24"),
        ("12:00", KOLKATA_NOON - 1, "2025-11-24"),
        ("12:00", KOLKATA_NOON, "2025-11-25"),
        ("12:00", KOLKATA_NOON + 11 * 3600, "2025-11-25"),
    ],
)
def test_day_of_splits_at_the_reset_time(time: str, ts: float, day: str) -> None:
    assert BusinessCalendar(time, "Asia/Kolkata").day_of(ts) == day


@pytest.mark.parametrize(
    ("time", "day", "start", "end"),
    [
        ("00:00", "2025-11-25", KOLKATA_MIDNIGHT, KOLKATA_MIDNIGHT + 86_400),
        ("12:00", "2025-11-25", KOLKATA_NOON, KOLKATA_NOON + 86_400),
        ("12:00", "2025-11-24", KOLKATA_NOON - 86_400, KOLKATA_NOON),
    ],
)
def test_day_bounds_and_next_reset(time: str, day: str, start: float, end: float) -> None:
    cal = BusinessCalendar(time, "Asia/Kolkata")
    assert cal.day_bounds(day) == (start, end)
    assert cal.day_start(day) == start
    assert cal.next_reset_after(start) == end
    assert cal.next_reset_after(start - 0.5) == start
    assert cal.next_reset_after(end - 0.5) == end


@pytest.mark.parametrize(
    ("day", "start", "hours"),
    [
        ("2025-03-08", 1_741_410_000.0, 24),  # 00:00 EST = 05:00 UTC
        ("2025-03-09", 1_741_496_400.0, 23),  # clocks spring forward at 02:00
        ("2025-11-01", 1_761_969_600.0, 24),  # 00:00 EDT = 04:00 UTC
        ("2025-11-02", 1_762_056_000.0, 25),  # clocks fall back at 02:00
        ("2025-11-03", 1_762_146_000.0, 24),
    ],
)
def test_dst_days_are_23_or_25_hours(day: str, start: float, hours: int) -> None:
    cal = BusinessCalendar("00:00", "America/New_York")
    lo, hi = cal.day_bounds(day)
    assert lo == start
    assert hi - lo == hours * 3600
    assert cal.day_of(lo) == day
    assert cal.day_of(hi - 1) == day
    assert cal.day_of(lo - 1) != day


def test_from_config_and_local_time() -> None:
    cal = BusinessCalendar.from_config(ResetConfig(time="7:30", timezone="Europe/Berlin"))
    assert (cal.time, cal.timezone) == ("07:30", "Europe/Berlin")
    local = cal.local(KOLKATA_MIDNIGHT)  # 18:30 UTC = 19:30 CET
    assert (local.hour, local.minute) == (19, 30)


@pytest.mark.parametrize(
    ("time", "tz", "message"),
    [
        ("25:00", "Asia/Kolkata", "not a time of day"),
        ("noon", "Asia/Kolkata", "not a time of day"),
        ("00:00", "Mars/Olympus", "unknown time zone"),
    ],
)
def test_bad_reset_settings_are_named(time: str, tz: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessCalendar(time, tz)
