"""Questions asked of the event store, answered with DuckDB SQL.

Plain functions over an :class:`~mcvision.analytics.store.EventStore` (and a
:class:`~mcvision.business_day.BusinessCalendar` where local time matters),
returning pydantic models that the HTTP API and the MCP server return as is.

Conventions:

- A ``day`` is a business day ``YYYY-MM-DD``; every query reads only that day's
  partition.
- Staff visits (``Visit.is_staff``) are left out of customer metrics unless
  ``include_staff=True``; zone visits and track points follow their visit.
- Dwell statistics (mean, median, p90, zone totals) are over **closed** visits
  and closed zone visits only: an open visit's dwell is still growing. Counts
  include open ones. p90 interpolates linearly (``quantile_cont``).
- A visitor is a distinct ``global_id``; a visitor is *returning* if any of
  their visits that day is marked returning.

Example:
    >>> import tempfile
    >>> from mcvision.analytics.store import EventStore
    >>> from mcvision.types import Records, Visit
    >>> store = EventStore(tempfile.mkdtemp(), "demo")
    >>> store.write(Records(visits=[
    ...     Visit("v1", "demo", "2026-01-05", "G1", 0.0, 60.0, closed=True),
    ...     Visit("v2", "demo", "2026-01-05", "G2", 10.0, 130.0, closed=True),
    ... ]))
    >>> _ = store.flush()
    >>> s = day_summary(store, "2026-01-05")
    >>> (s.unique_visitors, s.dwell_mean_s, s.dwell_median_s)
    (2, 90.0, 90.0)
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from mcvision.analytics.store import EventStore, check_day
from mcvision.business_day import BusinessCalendar

__all__ = [
    "ActivityStat",
    "CameraPath",
    "DaySummary",
    "EventRow",
    "Heatmap",
    "Journey",
    "NewVsReturning",
    "NotFound",
    "PathPoint",
    "Sighting",
    "TimelineItem",
    "Traffic",
    "TrafficBucket",
    "VisitPage",
    "VisitRow",
    "VisitTimeline",
    "ZoneStat",
    "ZoneVisitRow",
    "activity_stats",
    "camera_path",
    "day_summary",
    "heatmap",
    "list_visits",
    "new_vs_returning",
    "parse_bucket",
    "top_journeys",
    "traffic",
    "visit_timeline",
    "zone_stats",
]


class NotFound(LookupError):
    """The thing asked for (e.g. a visit ID) is not in the store."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


# ---- result models -----------------------------------------------------------
class DaySummary(_Model):
    """Headline numbers of one business day (customers only unless staff included)."""

    day: str
    unique_visitors: int = Field(description="distinct global IDs with a visit")
    visits: int
    open_visits: int
    closed_visits: int
    in_count: int = Field(description="visits started this day (every visit of the day)")
    out_count: int = Field(description="visits closed this day")
    dwell_mean_s: float | None = Field(description="mean dwell of closed visits")
    dwell_median_s: float | None = Field(description="median dwell of closed visits")
    dwell_p90_s: float | None = Field(description="90th percentile dwell of closed visits")
    dwell_basis: str = "closed visits"
    returning_visitors: int
    new_visitors: int
    staff_visits: int = Field(description="staff visits that day (excluded unless included)")
    include_staff: bool


class VisitRow(_Model):
    """One visit (its latest snapshot)."""

    visit_id: str
    global_id: str
    day: str
    in_ts: float
    out_ts: float
    dwell_s: float
    cameras: list[str]
    zones: list[str]
    in_source: str
    out_source: str
    returning: bool
    is_staff: bool
    closed: bool
    corrected_at: float | None = Field(
        default=None, description="site time of the late identity merge that rewrote it"
    )


class VisitPage(_Model):
    """A page of visits and how many match in all."""

    day: str
    total: int
    limit: int
    offset: int
    items: list[VisitRow]


class ZoneVisitRow(_Model):
    """One stay in one zone (its latest snapshot)."""

    zone_visit_id: str
    visit_id: str
    global_id: str
    zone: str
    enter_ts: float
    exit_ts: float
    dwell_s: float
    cameras: list[str]
    closed: bool


class Sighting(_Model):
    """A stretch of time one camera saw the person (track points no further apart than a gap)."""

    camera_id: str
    start_ts: float
    end_ts: float
    points: int


class EventRow(_Model):
    """One event of the log."""

    event_id: str
    kind: str
    ts: float
    global_id: str | None
    camera_id: str | None
    visit_id: str | None
    zone: str | None
    payload: dict[str, Any]


class TimelineItem(_Model):
    """One entry of a visit's timeline: a zone stay, a camera sighting or an event."""

    start_ts: float
    end_ts: float | None
    type: Literal["zone", "sighting", "event"]
    label: str
    camera_id: str | None = None
    zone: str | None = None


class VisitTimeline(_Model):
    """A visit with everything that happened in it, each list in time order."""

    visit: VisitRow
    zone_visits: list[ZoneVisitRow]
    sightings: list[Sighting]
    events: list[EventRow]
    items: list[TimelineItem] = Field(description="all of the above merged, by start time")


class ZoneStat(_Model):
    """Traffic and dwell of one zone over one day."""

    zone: str
    visits: int = Field(description="zone visits (open and closed)")
    open_visits: int
    unique_visitors: int
    total_dwell_s: float = Field(description="sum over closed zone visits")
    mean_dwell_s: float | None
    median_dwell_s: float | None


class TrafficBucket(_Model):
    """One time bucket: people in, people out, people inside at its end."""

    start_ts: float
    end_ts: float
    start_local: str = Field(description="bucket start, ISO 8601 in the site time zone")
    label: str = Field(description="local HH:MM of the bucket start")
    entries: int
    exits: int
    occupancy: int = Field(description="visits open at the bucket end (entries - exits so far)")


class Traffic(_Model):
    """Entries, exits and occupancy over a business day in fixed-length buckets."""

    day: str
    timezone: str
    bucket: str
    bucket_s: int
    start_ts: float
    end_ts: float
    buckets: list[TrafficBucket]


class Heatmap(_Model):
    """Counts of foot positions of one camera on a grid (rows = y, columns = x)."""

    day: str
    camera_id: str
    width: int
    height: int
    total: int
    counts: list[list[int]]


class PathPoint(_Model):
    """One sampled foot position of a person on a camera (normalized 0..1)."""

    ts: float
    x: float
    y: float
    zone: str | None = None


class CameraPath(_Model):
    """One person's foot positions on one camera during a day, in time order."""

    day: str
    camera_id: str
    global_id: str
    total: int = Field(description="track points of this person on this camera that day")
    points: list[PathPoint] = Field(description="in time order; evenly thinned past max_points")


class Journey(_Model):
    """A path through zones or cameras (repeats collapsed) and how many visits took it."""

    path: list[str]
    count: int
    share: float = Field(description="count / visits that have a path")


class NewVsReturning(_Model):
    """Visitors of a day split into first-timers and returning customers."""

    day: str
    visitors: int
    new_visitors: int
    returning_visitors: int
    returning_share: float | None


# ---- validation helpers ------------------------------------------------------
def _staff_visits(include_staff: bool) -> str:
    """SQL predicate over ``visits`` leaving out staff visits."""
    return "TRUE" if include_staff else "NOT is_staff"


def _staff(include_staff: bool) -> str:
    """SQL predicate over a table with ``visit_id`` leaving out rows of staff visits."""
    if include_staff:
        return "TRUE"
    return "visit_id NOT IN (SELECT visit_id FROM visits WHERE is_staff)"


def _check_int(name: str, value: Any, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        bound = f">= {lo}" if hi is None else f"in {lo}..{hi}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return int(value)


def _check_name(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


_BUCKET = re.compile(r"^\s*(\d+)\s*(s|sec|m|min|h|hr|hour)s?\s*$", re.I)
_UNIT_S = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "hour": 3600}


def parse_bucket(bucket: str) -> int:
    """Bucket length in seconds from ``"15m"``, ``"1h"``, ``"30min"``, ``"90s"`` ...

    Raises:
        ValueError: not of that form, or not between 1 minute and 24 hours.

    Example:
        >>> parse_bucket("15m"), parse_bucket("1h")
        (900, 3600)
    """
    m = _BUCKET.match(bucket) if isinstance(bucket, str) else None
    if not m:
        raise ValueError(
            f"bucket must be a length like '5m', '15m', '1h' (units s, m, h), got {bucket!r}"
        )
    seconds = int(m[1]) * _UNIT_S[m[2].lower()]
    if not 60 <= seconds <= 86_400:
        raise ValueError(f"bucket must be between 1m and 24h, got {bucket!r} ({seconds} s)")
    return seconds


def _visit_row(r: dict[str, Any]) -> VisitRow:
    return VisitRow.model_validate({k: r[k] for k in VisitRow.model_fields})


def _zone_visit_row(r: dict[str, Any]) -> ZoneVisitRow:
    return ZoneVisitRow.model_validate({k: r[k] for k in ZoneVisitRow.model_fields})


def _event_row(r: dict[str, Any]) -> EventRow:
    data = {k: r[k] for k in EventRow.model_fields if k != "payload"}
    return EventRow(**data, payload=json.loads(r["payload"]) if r["payload"] else {})


def _opt(v: Any) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


# ---- queries -----------------------------------------------------------------
def default_day(store: EventStore, calendar: BusinessCalendar, now: float) -> str:
    """The day to show when none is asked for: the latest day with data up to today."""
    today = calendar.day_of(now)
    past = [d for d in store.days() if d <= today]
    return past[-1] if past else today


def day_summary(store: EventStore, day: str, *, include_staff: bool = False) -> DaySummary:
    """Visitors, visits and dwell of one business day.

    Args:
        store: the event store.
        day: business day ``YYYY-MM-DD``.
        include_staff: count staff visits as well.

    Raises:
        ValueError: a bad day.
    """
    check_day(day)
    (r,) = store.sql(
        f"""
        WITH v AS (SELECT *, {_staff_visits(include_staff)} AS counted FROM visits)
        SELECT
          count(*) FILTER (WHERE counted) AS visits,
          count(DISTINCT global_id) FILTER (WHERE counted) AS unique_visitors,
          count(*) FILTER (WHERE counted AND NOT closed) AS open_visits,
          count(*) FILTER (WHERE counted AND closed) AS closed_visits,
          avg(dwell_s) FILTER (WHERE counted AND closed) AS mean_s,
          median(dwell_s) FILTER (WHERE counted AND closed) AS median_s,
          quantile_cont(dwell_s, 0.9) FILTER (WHERE counted AND closed) AS p90_s,
          count(DISTINCT global_id) FILTER (WHERE counted AND "returning") AS returning_visitors,
          count(*) FILTER (WHERE is_staff) AS staff_visits
        FROM v WHERE day = ?
        """,
        [day],
        day=day,
    )
    return DaySummary(
        day=day,
        unique_visitors=r["unique_visitors"],
        visits=r["visits"],
        open_visits=r["open_visits"],
        closed_visits=r["closed_visits"],
        in_count=r["visits"],
        out_count=r["closed_visits"],
        dwell_mean_s=_opt(r["mean_s"]),
        dwell_median_s=_opt(r["median_s"]),
        dwell_p90_s=_opt(r["p90_s"]),
        returning_visitors=r["returning_visitors"],
        new_visitors=r["unique_visitors"] - r["returning_visitors"],
        staff_visits=r["staff_visits"],
        include_staff=include_staff,
    )


def list_visits(
    store: EventStore,
    day: str,
    min_dwell_s: float | None = None,
    zone: str | None = None,
    camera: str | None = None,
    limit: int = 100,
    offset: int = 0,
    *,
    include_staff: bool = False,
) -> VisitPage:
    """Visits of a day in order of arrival, filtered and paged.

    Args:
        store: the event store.
        day: business day ``YYYY-MM-DD``.
        min_dwell_s: keep visits that lasted at least this long (open ones: so far).
        zone: keep visits that entered this zone.
        camera: keep visits seen by this camera.
        limit: page size, 1..10000.
        offset: rows to skip.
        include_staff: list staff visits as well.

    Raises:
        ValueError: a bad day, a negative ``min_dwell_s``, a bad page.
    """
    check_day(day)
    if min_dwell_s is not None:
        if isinstance(min_dwell_s, bool) or not isinstance(min_dwell_s, int | float):
            raise ValueError(f"min_dwell_s must be a number of seconds, got {min_dwell_s!r}")
        if not math.isfinite(min_dwell_s) or min_dwell_s < 0:
            raise ValueError(f"min_dwell_s must be >= 0, got {min_dwell_s}")
    if zone is not None:
        _check_name("zone", zone)
    if camera is not None:
        _check_name("camera", camera)
    limit = _check_int("limit", limit, 1, 10_000)
    offset = _check_int("offset", offset, 0)
    where = ["day = $day", _staff_visits(include_staff)]
    params: dict[str, Any] = {"day": day}
    if min_dwell_s is not None:
        where.append("dwell_s >= $min_dwell")
        params["min_dwell"] = float(min_dwell_s)
    if zone is not None:
        where.append(
            "(list_contains(zones, $zone)"
            " OR visit_id IN (SELECT visit_id FROM zone_visits WHERE zone = $zone))"
        )
        params["zone"] = zone
    if camera is not None:
        where.append(
            "(list_contains(cameras, $camera)"
            " OR visit_id IN (SELECT visit_id FROM track_points WHERE camera_id = $camera))"
        )
        params["camera"] = camera
    rows = store.sql(
        f"""
        WITH f AS (SELECT * FROM visits WHERE {" AND ".join(where)})
        SELECT *, (SELECT count(*) FROM f) AS _total FROM f
        ORDER BY in_ts, visit_id LIMIT {limit} OFFSET {offset}
        """,
        params,
        day=day,
    )
    total = rows[0]["_total"] if rows else _count_visits(store, day, where, params)
    return VisitPage(
        day=day, total=total, limit=limit, offset=offset, items=[_visit_row(r) for r in rows]
    )


def _count_visits(store: EventStore, day: str, where: list[str], params: dict[str, Any]) -> int:
    (r,) = store.sql(
        f"SELECT count(*) AS n FROM visits WHERE {' AND '.join(where)}", params, day=day
    )
    return int(r["n"])


def visit_timeline(
    store: EventStore, visit_id: str, *, day: str | None = None, max_gap_s: float = 10.0
) -> VisitTimeline:
    """One visit with its zone stays, camera sightings and events, in time order.

    Args:
        store: the event store.
        visit_id: the visit.
        day: its business day if known (reads one partition instead of all).
        max_gap_s: track points of one camera further apart than this start a new sighting.

    Raises:
        NotFound: no visit with this ID.
        ValueError: bad arguments.
    """
    _check_name("visit_id", visit_id)
    if day is not None:
        check_day(day)
    if not (isinstance(max_gap_s, int | float) and math.isfinite(max_gap_s) and max_gap_s > 0):
        raise ValueError(f"max_gap_s must be > 0, got {max_gap_s!r}")
    found = store.sql("SELECT * FROM visits WHERE visit_id = ?", [visit_id], day=day)
    if not found:
        where = f" on day {day}" if day else ""
        raise NotFound(f"visit {visit_id!r} not found{where}")
    visit = _visit_row(found[0])
    vday = visit.day
    zvs = [
        _zone_visit_row(r)
        for r in store.sql(
            "SELECT * FROM zone_visits WHERE visit_id = ? ORDER BY enter_ts, zone",
            [visit_id],
            day=vday,
        )
    ]
    sightings = [
        Sighting.model_validate(r)
        for r in store.sql(
            """
            WITH p AS (
              SELECT camera_id, ts,
                     ts - lag(ts) OVER (PARTITION BY camera_id ORDER BY ts) AS gap
              FROM track_points WHERE visit_id = $vid),
            g AS (
              SELECT *, sum(CASE WHEN gap IS NULL OR gap > $gap THEN 1 ELSE 0 END)
                          OVER (PARTITION BY camera_id ORDER BY ts) AS seg
              FROM p)
            SELECT camera_id, min(ts) AS start_ts, max(ts) AS end_ts, count(*) AS points
            FROM g GROUP BY camera_id, seg ORDER BY start_ts, camera_id
            """,
            {"vid": visit_id, "gap": float(max_gap_s)},
            day=vday,
        )
    ]
    events = [
        _event_row(r)
        for r in store.sql(
            "SELECT * FROM events WHERE visit_id = ? ORDER BY ts, kind, event_id",
            [visit_id],
            day=vday,
        )
    ]
    items = (
        [
            TimelineItem(
                start_ts=z.enter_ts, end_ts=z.exit_ts, type="zone", label=z.zone, zone=z.zone
            )
            for z in zvs
        ]
        + [
            TimelineItem(
                start_ts=s.start_ts,
                end_ts=s.end_ts,
                type="sighting",
                label=s.camera_id,
                camera_id=s.camera_id,
            )
            for s in sightings
        ]
        + [
            TimelineItem(
                start_ts=e.ts,
                end_ts=None,
                type="event",
                label=e.kind,
                camera_id=e.camera_id,
                zone=e.zone,
            )
            for e in events
        ]
    )
    order = {"event": 0, "sighting": 1, "zone": 2}
    items.sort(key=lambda i: (i.start_ts, order[i.type], i.label))
    return VisitTimeline(
        visit=visit, zone_visits=zvs, sightings=sightings, events=events, items=items
    )


def zone_stats(store: EventStore, day: str, *, include_staff: bool = False) -> list[ZoneStat]:
    """Per zone: zone visits, distinct visitors and dwell (closed zone visits), by zone name.

    Raises:
        ValueError: a bad day.
    """
    check_day(day)
    rows = store.sql(
        f"""
        SELECT zone,
          count(*) AS visits,
          count(*) FILTER (WHERE NOT closed) AS open_visits,
          count(DISTINCT global_id) AS unique_visitors,
          coalesce(sum(dwell_s) FILTER (WHERE closed), 0.0) AS total_dwell_s,
          avg(dwell_s) FILTER (WHERE closed) AS mean_dwell_s,
          median(dwell_s) FILTER (WHERE closed) AS median_dwell_s
        FROM zone_visits WHERE day = ? AND {_staff(include_staff)}
        GROUP BY zone ORDER BY zone
        """,
        [day],
        day=day,
    )
    return [
        ZoneStat(
            **{
                **r,
                "mean_dwell_s": _opt(r["mean_dwell_s"]),
                "median_dwell_s": _opt(r["median_dwell_s"]),
            }
        )
        for r in rows
    ]


def traffic(
    store: EventStore,
    calendar: BusinessCalendar,
    day: str,
    bucket: str = "1h",
    *,
    include_staff: bool = False,
) -> Traffic:
    """Entries, exits and occupancy per time bucket over a business day.

    Buckets are fixed lengths of elapsed time from the start of the business day
    (epoch arithmetic), labelled with their local start time: a 23-hour DST day
    has 23 one-hour buckets and no ``02:00`` label, a 25-hour day has two ``01:00``
    (told apart by the offset in ``start_local``). A bucket that does not divide
    the day evenly leaves a shorter last bucket. Entries count ``in_ts``, exits
    count ``out_ts`` of closed visits; anything outside the day is counted in the
    first/last bucket. ``occupancy`` = entries − exits up to the bucket end, so
    open visits stay counted.

    Raises:
        ValueError: a bad day or bucket.
    """
    check_day(day)
    width = parse_bucket(bucket)
    start, end = calendar.day_bounds(day)
    n = max(1, math.ceil((end - start) / width))
    rows = store.sql(
        f"""
        WITH v AS (SELECT * FROM visits WHERE day = $day AND {_staff_visits(include_staff)}),
        e AS (
          SELECT least(greatest(floor((in_ts - $start) / $w), 0), $last)::BIGINT AS b,
                 1 AS entries, 0 AS exits FROM v
          UNION ALL
          SELECT least(greatest(floor((out_ts - $start) / $w), 0), $last)::BIGINT AS b,
                 0, 1 FROM v WHERE closed)
        SELECT b, sum(entries)::BIGINT AS entries, sum(exits)::BIGINT AS exits
        FROM e GROUP BY b
        """,
        {"day": day, "start": start, "w": float(width), "last": n - 1},
        day=day,
    )
    entries = np.zeros(n, dtype=np.int64)
    exits = np.zeros(n, dtype=np.int64)
    for r in rows:
        entries[r["b"]] = r["entries"]
        exits[r["b"]] = r["exits"]
    occupancy = np.cumsum(entries) - np.cumsum(exits)
    buckets = []
    for i in range(n):
        b0 = start + i * width
        local = calendar.local(b0)
        buckets.append(
            TrafficBucket(
                start_ts=b0,
                end_ts=min(b0 + width, end),
                start_local=local.isoformat(),
                label=local.format("HH:mm"),
                entries=int(entries[i]),
                exits=int(exits[i]),
                occupancy=int(occupancy[i]),
            )
        )
    return Traffic(
        day=day,
        timezone=calendar.timezone,
        bucket=bucket,
        bucket_s=width,
        start_ts=start,
        end_ts=end,
        buckets=buckets,
    )


def heatmap(
    store: EventStore,
    day: str,
    camera_id: str,
    grid: tuple[int, int] = (32, 18),
    *,
    include_staff: bool = False,
) -> Heatmap:
    """Counts of track points of one camera per grid cell.

    Args:
        store: the event store.
        day: business day ``YYYY-MM-DD``.
        camera_id: the camera.
        grid: ``(columns, rows)``; cell ``(ix, iy)`` holds points with
            ``ix = floor(x * columns)``, ``iy = floor(y * rows)`` (x, y normalized
            foot positions; values on or past an edge go to the edge cell).
        include_staff: count staff positions as well.

    Returns:
        ``counts[iy][ix]``: rows top to bottom, columns left to right.

    Raises:
        ValueError: a bad day, camera or grid.
    """
    check_day(day)
    _check_name("camera_id", camera_id)
    if not isinstance(grid, tuple | list) or len(grid) != 2:
        raise ValueError(f"grid must be (columns, rows), got {grid!r}")
    w = _check_int("grid columns", grid[0], 1, 1024)
    h = _check_int("grid rows", grid[1], 1, 1024)
    rows = store.sql(
        f"""
        SELECT least(greatest(floor(x * $w), 0), $w - 1)::BIGINT AS ix,
               least(greatest(floor(y * $h), 0), $h - 1)::BIGINT AS iy,
               count(*) AS n
        FROM track_points
        WHERE day = $day AND camera_id = $cam AND {_staff(include_staff)}
        GROUP BY ix, iy
        """,
        {"w": w, "h": h, "day": day, "cam": camera_id},
        day=day,
    )
    counts = np.zeros((h, w), dtype=np.int64)
    for r in rows:
        counts[r["iy"], r["ix"]] = r["n"]
    return Heatmap(
        day=day,
        camera_id=camera_id,
        width=w,
        height=h,
        total=int(counts.sum()),
        counts=counts.tolist(),
    )


def camera_path(
    store: EventStore,
    day: str,
    camera_id: str,
    global_id: str,
    *,
    max_points: int = 2000,
) -> CameraPath:
    """The track points of one person (a daily global ID) on one camera, oldest first.

    Args:
        store: the event store.
        day: business day ``YYYY-MM-DD``.
        camera_id: the camera.
        global_id: the person's ID of that day (all their visits of the day).
        max_points: at most this many points come back, evenly spaced in the
            sequence (first and last kept), so a long stay stays drawable.

    Raises:
        ValueError: a bad day, camera, ID or ``max_points``.
    """
    check_day(day)
    _check_name("camera_id", camera_id)
    _check_name("global_id", global_id)
    n = _check_int("max_points", max_points, 2, 100_000)
    rows = store.sql(
        """
        SELECT ts, x, y, zone FROM track_points
        WHERE day = $day AND camera_id = $cam AND global_id = $gid
        ORDER BY ts
        """,
        {"day": day, "cam": camera_id, "gid": global_id},
        day=day,
    )
    total = len(rows)
    if total > n:
        rows = [rows[i] for i in np.linspace(0, total - 1, n).round().astype(int)]
    return CameraPath(
        day=day,
        camera_id=camera_id,
        global_id=global_id,
        total=total,
        points=[PathPoint.model_validate(r) for r in rows],
    )


def top_journeys(
    store: EventStore,
    day: str,
    k: int = 10,
    by: Literal["zone", "camera"] = "zone",
    *,
    include_staff: bool = False,
) -> list[Journey]:
    """The ``k`` most common paths of visits through zones or cameras.

    A visit's path is its zones in order of entry (``by="zone"``, from zone
    visits) or its cameras in order of sighting (``by="camera"``, from track
    points), with consecutive repeats collapsed: A, A, B, A → A, B, A. Ties are
    broken by path, alphabetically.

    Raises:
        ValueError: a bad day, ``k`` or ``by``.
    """
    check_day(day)
    k = _check_int("k", k, 1, 1000)
    if by == "zone":
        steps = "SELECT visit_id, zone AS step, enter_ts AS t FROM zone_visits"
    elif by == "camera":
        steps = "SELECT visit_id, camera_id AS step, ts AS t FROM track_points"
    else:
        raise ValueError(f"by must be 'zone' or 'camera', got {by!r}")
    rows = store.sql(
        f"""
        WITH s AS ({steps} WHERE day = $day AND {_staff(include_staff)}),
        d AS (SELECT *, lag(step) OVER (PARTITION BY visit_id ORDER BY t, step) AS prev FROM s),
        j AS (SELECT visit_id, list(step ORDER BY t, step) AS path
              FROM d WHERE prev IS NULL OR prev <> step GROUP BY visit_id),
        c AS (SELECT path, count(*) AS n FROM j GROUP BY path)
        SELECT path, n, (SELECT count(*) FROM j) AS total
        FROM c ORDER BY n DESC, path LIMIT {k}
        """,
        {"day": day},
        day=day,
    )
    return [Journey(path=r["path"], count=r["n"], share=r["n"] / r["total"]) for r in rows]


def new_vs_returning(store: EventStore, day: str, *, include_staff: bool = False) -> NewVsReturning:
    """Distinct visitors of a day, split into new and returning.

    Raises:
        ValueError: a bad day.
    """
    check_day(day)
    (r,) = store.sql(
        f"""
        WITH p AS (SELECT global_id, bool_or("returning") AS ret FROM visits
                   WHERE day = ? AND {_staff_visits(include_staff)} GROUP BY global_id)
        SELECT count(*) AS visitors, count(*) FILTER (WHERE ret) AS returning_visitors FROM p
        """,
        [day],
        day=day,
    )
    visitors, ret = int(r["visitors"]), int(r["returning_visitors"])
    return NewVsReturning(
        day=day,
        visitors=visitors,
        new_visitors=visitors - ret,
        returning_visitors=ret,
        returning_share=ret / visitors if visitors else None,
    )


class ActivityStat(_Model):
    """Time spent in one activity in one zone (``zone`` None: outside every zone)."""

    zone: str | None
    activity: str
    total_s: float = Field(description="summed duration of the activity intervals")
    intervals: int
    visitors: int = Field(description="distinct global IDs")


def activity_stats(
    store: EventStore, day: str, *, zone: str | None = None, include_staff: bool = False
) -> list[ActivityStat]:
    """Per zone and activity: total time, intervals and visitors (open intervals count so far).

    Raises:
        ValueError: a bad day or an empty zone name.
    """
    check_day(day)
    where = ["day = $day", _staff(include_staff)]
    params: dict[str, Any] = {"day": day}
    if zone is not None:
        params["zone"] = _check_name("zone", zone)
        where.append("zone = $zone")
    rows = store.sql(
        f"""
        SELECT zone, activity, coalesce(sum(dwell_s), 0.0) AS total_s,
               count(*) AS intervals, count(DISTINCT global_id) AS visitors
        FROM activities WHERE {" AND ".join(where)}
        GROUP BY zone, activity ORDER BY zone NULLS LAST, total_s DESC, activity
        """,
        params,
        day=day,
    )
    return [ActivityStat(**r) for r in rows]
