"""The event store: Parquet partitions by business day, queried with DuckDB.

Layout under ``root``::

    <root>/<table>/day=YYYY-MM-DD/part-<content-hash>.parquet

Tables are ``events``, ``visits``, ``zone_visits`` and ``track_points``; the
``day`` column comes from the (hive-style) folder name. Every flush writes one
file per table and day to a temporary name in the same folder, syncs it and
renames it into place, so a reader in another process sees a file whole or not
at all, and never waits for the writer (there are no locks).

Rows carry deterministic IDs and the file name is a hash of the (sorted) rows,
so writing the same batch twice stores it once; readers deduplicate as well:

- ``events``: one row per ``event_id``;
- ``visits``: the latest snapshot per ``visit_id`` (closed beats open, then the
  larger ``out_ts``), with a computed ``dwell_s``;
- ``zone_visits``: the latest snapshot per ``zone_visit_id`` (closed beats
  open, then the larger ``exit_ts``), with ``dwell_s``;
- ``track_points``: one row per ``(camera_id, global_id, ts)``;
- ``activities``: the latest snapshot per ``interval_id`` (closed beats open, then
  the larger ``end_ts``), with ``dwell_s``;
- ``cameras``: the latest ``camera_online``/``camera_offline`` event per camera.

Late identity correction (:mod:`mcvision.identity.correction`) rewrites records by
appending newer snapshots under the same rules: a rewritten row carries
``corrected_at`` (the site time of the correction), which wins a tie with the row it
rewrites; a superseded visit, zone visit or track point gets a *tombstone*, a
snapshot with ``merged_into`` set (the visit / zone visit / global ID that absorbed
it) that wins its key, and the views leave tombstones out. Files written before
these columns existed read them as NULL.

A query over one day reads only that day's folder, so a damaged file breaks
only the days it belongs to; it is reported as :class:`StoreError` naming the
file.

Example:
    >>> import tempfile
    >>> from mcvision.types import Event, Records
    >>> store = EventStore(tempfile.mkdtemp(), "demo")
    >>> ev = Event(kind="visit_open", ts=1.0, day="2026-01-05", site_id="demo", global_id="G1")
    >>> store.write(Records(events=[ev, ev]))
    >>> _ = store.flush()
    >>> store.sql("SELECT count(*) AS n FROM events", day="2026-01-05")
    [{'n': 1}]
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mcvision.types import ActivityInterval, Event, Records, TrackPoint, Visit, ZoneVisit

if TYPE_CHECKING:
    from mcvision.config import SiteConfig

__all__ = ["TABLES", "EventStore", "StoreError", "check_day"]

_T = TypeVar("_T")


class StoreError(RuntimeError):
    """The store cannot be read or written (e.g. a damaged Parquet file, named in the message)."""


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def check_day(day: str) -> str:
    """Return ``day`` if it is a valid ``YYYY-MM-DD`` date, else raise ValueError."""
    if not isinstance(day, str) or not _DAY.match(day):
        raise ValueError(f"day must be a date YYYY-MM-DD, got {day!r}")
    try:
        date.fromisoformat(day)
    except ValueError:
        raise ValueError(f"day must be a real calendar date YYYY-MM-DD, got {day!r}") from None
    return day


@dataclass(frozen=True)
class _Table:
    name: str
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type); `day` is the partition
    key: tuple[str, ...]
    latest: str  # ORDER BY for "which duplicate wins"
    extra: str = ""  # computed columns appended in the view
    optional: tuple[str, ...] = ()  # columns files written before them lack (read as NULL)

    @property
    def arrow_schema(self) -> pa.Schema:
        types = {
            "VARCHAR": pa.string(),
            "DOUBLE": pa.float64(),
            "BOOLEAN": pa.bool_(),
            "VARCHAR[]": pa.list_(pa.string()),
        }
        return pa.schema([(n, types[t]) for n, t in self.columns])


TABLES: dict[str, _Table] = {
    t.name: t
    for t in (
        _Table(
            "events",
            (
                ("event_id", "VARCHAR"),
                ("kind", "VARCHAR"),
                ("ts", "DOUBLE"),
                ("site_id", "VARCHAR"),
                ("global_id", "VARCHAR"),
                ("camera_id", "VARCHAR"),
                ("visit_id", "VARCHAR"),
                ("zone", "VARCHAR"),
                ("payload", "VARCHAR"),
            ),
            key=("event_id",),
            latest="ts",
        ),
        _Table(
            "visits",
            (
                ("visit_id", "VARCHAR"),
                ("site_id", "VARCHAR"),
                ("global_id", "VARCHAR"),
                ("in_ts", "DOUBLE"),
                ("out_ts", "DOUBLE"),
                ("cameras", "VARCHAR[]"),
                ("zones", "VARCHAR[]"),
                ("in_source", "VARCHAR"),
                ("out_source", "VARCHAR"),
                ("returning", "BOOLEAN"),
                ("is_staff", "BOOLEAN"),
                ("closed", "BOOLEAN"),
                ("corrected_at", "DOUBLE"),
                ("merged_into", "VARCHAR"),
            ),
            key=("visit_id",),
            latest=(
                "closed DESC, out_ts DESC, len(cameras) DESC, len(zones) DESC, is_staff DESC,"
                ' "returning" DESC, corrected_at DESC NULLS LAST, in_ts, out_source, in_source,'
                " day"
            ),
            extra="out_ts - in_ts AS dwell_s",
            optional=("corrected_at", "merged_into"),
        ),
        _Table(
            "zone_visits",
            (
                ("zone_visit_id", "VARCHAR"),
                ("site_id", "VARCHAR"),
                ("global_id", "VARCHAR"),
                ("visit_id", "VARCHAR"),
                ("zone", "VARCHAR"),
                ("enter_ts", "DOUBLE"),
                ("exit_ts", "DOUBLE"),
                ("cameras", "VARCHAR[]"),
                ("closed", "BOOLEAN"),
                ("corrected_at", "DOUBLE"),
                ("merged_into", "VARCHAR"),
            ),
            key=("zone_visit_id",),
            latest=(
                "closed DESC, exit_ts DESC, len(cameras) DESC, corrected_at DESC NULLS LAST,"
                " enter_ts, day"
            ),
            extra="exit_ts - enter_ts AS dwell_s",
            optional=("corrected_at", "merged_into"),
        ),
        _Table(
            "track_points",
            (
                ("site_id", "VARCHAR"),
                ("camera_id", "VARCHAR"),
                ("global_id", "VARCHAR"),
                ("visit_id", "VARCHAR"),
                ("ts", "DOUBLE"),
                ("x", "DOUBLE"),
                ("y", "DOUBLE"),
                ("zone", "VARCHAR"),
                ("corrected_at", "DOUBLE"),
                ("merged_into", "VARCHAR"),
            ),
            key=("camera_id", "global_id", "ts"),
            latest="merged_into IS NULL, corrected_at DESC NULLS LAST, visit_id, x, y, zone, day",
            optional=("corrected_at", "merged_into"),
        ),
        _Table(
            "activities",
            (
                ("interval_id", "VARCHAR"),
                ("site_id", "VARCHAR"),
                ("global_id", "VARCHAR"),
                ("visit_id", "VARCHAR"),
                ("activity", "VARCHAR"),
                ("zone", "VARCHAR"),
                ("camera_id", "VARCHAR"),
                ("start_ts", "DOUBLE"),
                ("end_ts", "DOUBLE"),
                ("closed", "BOOLEAN"),
                ("corrected_at", "DOUBLE"),
            ),
            key=("interval_id",),
            latest="closed DESC, end_ts DESC, corrected_at DESC NULLS LAST, start_ts, day",
            extra="end_ts - start_ts AS dwell_s",
            optional=("corrected_at",),
        ),
    )
}

_CAMERAS_VIEW = """
CREATE VIEW cameras AS
SELECT camera_id, kind = 'camera_online' AS online, ts, day, payload
FROM events
WHERE kind IN ('camera_online', 'camera_offline') AND camera_id IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY camera_id ORDER BY ts DESC, kind) = 1
"""


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _finite(value: float, what: str) -> float:
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return v


def _opt_finite(value: float | None, what: str) -> float | None:
    return None if value is None else _finite(value, what)


def _json_default(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"{type(v).__name__} is not JSON-serialisable")


class EventStore:
    """Append-only store of events, visits, zone visits and track points of one site.

    Args:
        root: folder of the store (created on first flush).
        site_id: the site; records of another site are refused.

    Example:
        >>> import tempfile
        >>> from mcvision.types import Records, Visit
        >>> store = EventStore(tempfile.mkdtemp(), "demo")
        >>> v = Visit("v1", "demo", "2026-01-05", "G1", in_ts=0.0, out_ts=30.0)
        >>> store.write(Records(visits=[v]))
        >>> store.write(Records(visits=[Visit("v1", "demo", "2026-01-05", "G1", 0.0, 90.0,
        ...                                   closed=True)]))
        >>> _ = store.flush()
        >>> store.sql("SELECT visit_id, dwell_s, closed FROM visits")
        [{'visit_id': 'v1', 'dwell_s': 90.0, 'closed': True}]
        >>> store.days()
        ['2026-01-05']
    """

    def __init__(self, root: str | Path, site_id: str) -> None:
        if not site_id:
            raise ValueError("site_id must not be empty")
        self.root = Path(root)
        self.site_id = site_id
        self._pending: dict[str, list[dict[str, Any]]] = defaultdict(list)

    @classmethod
    def from_config(cls, cfg: SiteConfig) -> EventStore:
        """The store of a :class:`~mcvision.config.SiteConfig` (``storage.root``/events)."""
        return cls(cfg.storage.events_dir(), cfg.site_id)

    def __repr__(self) -> str:
        return f"EventStore(root={str(self.root)!r}, site_id={self.site_id!r})"

    # ---- writing ---------------------------------------------------------
    @property
    def pending(self) -> int:
        """Rows buffered by :meth:`write` and not yet flushed."""
        return sum(len(rows) for rows in self._pending.values())

    def write(self, records: Records) -> None:
        """Buffer a batch. Every record is checked first; a bad one rejects the whole batch.

        Raises:
            ValueError: a record of another site, a bad day, a non-finite time or a
                payload that is not JSON-serialisable (the message names the record).
        """
        if not isinstance(records, Records):
            raise TypeError(f"write() takes Records, got {type(records).__name__}")
        rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for e in records.events:
            rows["events"].append(self._event_row(e))
        for v in records.visits:
            rows["visits"].append(self._visit_row(v))
        for z in records.zone_visits:
            rows["zone_visits"].append(self._zone_visit_row(z))
        for p in records.track_points:
            rows["track_points"].append(self._track_point_row(p))
        for a in records.activities:
            rows["activities"].append(self._activity_row(a))
        for table, batch in rows.items():
            self._pending[table].extend(batch)

    def flush(self) -> list[Path]:
        """Make the buffered rows durable. Returns the files written (none if all existed).

        One Parquet file per table and day, named by a hash of its sorted rows. Each is
        written to a temporary file, synced and renamed into place. On failure the
        buffer is kept (a retry writes the same files) and existing files are untouched.

        Raises:
            StoreError: the files cannot be written.
        """
        plan: list[tuple[Path, pa.Table]] = []
        for table, rows in self._pending.items():
            by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for row in rows:
                by_day[row["day"]].append(row)
            for day, day_rows in sorted(by_day.items()):
                plan.append(self._encode(TABLES[table], day, day_rows))
        written: list[Path] = []
        for path, arrow in plan:
            if path.exists():
                continue
            try:
                _atomic_write(path, arrow)
            except OSError as err:
                raise StoreError(f"cannot write {path}: {err}") from err
            written.append(path)
        self._pending.clear()
        return written

    def _encode(
        self, spec: _Table, day: str, rows: Iterable[dict[str, Any]]
    ) -> tuple[Path, pa.Table]:
        """Distinct rows, sorted, as an Arrow table and the file name from their hash."""
        body = [
            {c: r[c] if c not in spec.optional else r.get(c) for c, _ in spec.columns} for r in rows
        ]
        canon = sorted({json.dumps(r, sort_keys=True): r for r in body}.items())
        digest = hashlib.blake2b(digest_size=12)
        for text, _ in canon:
            digest.update(text.encode())
            digest.update(b"\n")
        path = self.root / spec.name / f"day={day}" / f"part-{digest.hexdigest()}.parquet"
        try:
            arrow = pa.Table.from_pylist([r for _, r in canon], schema=spec.arrow_schema)
        except (pa.ArrowException, TypeError, ValueError) as err:
            raise StoreError(f"cannot encode {spec.name} rows of day {day}: {err}") from err
        return path, arrow

    def rewrite_file(self, table: str, path: Path, rows: Iterable[dict[str, Any]]) -> Path:
        """Replace one Parquet file of ``table`` by ``rows`` (edited in place, e.g. erased).

        The new file (named by its content, like every file) is written atomically
        before the old one is removed. Returns the new file's path.

        Raises:
            StoreError: ``table`` is unknown, ``path`` is not one of its day files, or
                the rows cannot be encoded or written.
        """
        if table not in TABLES:
            raise StoreError(f"unknown table {table!r}; tables are {sorted(TABLES)}")
        path = Path(path)
        day = path.parent.name.removeprefix("day=")
        if path.parent.parent != self.root / table or path.parent.name == day:
            raise StoreError(f"{path} is not a day file of table {table!r} under {self.root}")
        new, arrow = self._encode(TABLES[table], check_day(day), rows)
        if new != path:
            try:
                _atomic_write(new, arrow)
            except OSError as err:
                raise StoreError(f"cannot write {new}: {err}") from err
            path.unlink(missing_ok=True)
        return new

    def compact(self, day: str | None = None) -> int:
        """Merge each table's files of a day (or of every day) into one file.

        The merged file holds the rows the views would show (the latest snapshot per
        visit, one row per event ...), so every query answers the same before and
        after. It is written atomically before the files it replaces are removed; a
        reader that listed a removed file retries with a fresh listing. Run it from
        the writing process (e.g. after the daily reset), not from two at once.

        Returns:
            The number of files removed.

        Raises:
            StoreError: a file to merge is damaged (nothing is removed then).
        """
        days = [check_day(day)] if day is not None else self.days()
        removed = 0
        for d in days:
            for spec in TABLES.values():
                files = self.files(spec.name, d)
                if len(files) < 2:
                    continue
                con = duckdb.connect()
                try:
                    self._create_views(con, spec, files)
                    cur = con.execute(f"SELECT * FROM {spec.name}")
                    cols = [c[0] for c in cur.description or []]
                    rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
                except duckdb.Error as err:
                    raise self._diagnose(err, files) from err
                finally:
                    con.close()
                path, arrow = self._encode(spec, d, rows)
                if not path.exists():
                    try:
                        _atomic_write(path, arrow)
                    except OSError as err:
                        raise StoreError(f"cannot write {path}: {err}") from err
                for f in files:
                    if f != path:
                        f.unlink(missing_ok=True)
                        removed += 1
        return removed

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.flush()

    def _check_common(self, what: str, site_id: str, day: str) -> None:
        if site_id != self.site_id:
            raise ValueError(f"{what}: site_id {site_id!r} is not this store's {self.site_id!r}")
        try:
            check_day(day)
        except ValueError as err:
            raise ValueError(f"{what}: {err}") from None

    def _event_row(self, e: Event) -> dict[str, Any]:
        if not isinstance(e, Event):
            raise TypeError(f"events must hold Event, got {type(e).__name__}")
        what = f"event {e.event_id} ({e.kind})"
        self._check_common(what, e.site_id, e.day)
        try:
            payload = json.dumps(e.payload, sort_keys=True, default=_json_default)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{what}: payload is not JSON-serialisable: {err}") from None
        return {
            "event_id": e.event_id,
            "kind": str(e.kind),
            "ts": _finite(e.ts, f"{what}: ts"),
            "site_id": e.site_id,
            "global_id": e.global_id,
            "camera_id": e.camera_id,
            "visit_id": e.visit_id,
            "zone": e.zone,
            "payload": payload,
            "day": e.day,
        }

    def _visit_row(self, v: Visit) -> dict[str, Any]:
        if not isinstance(v, Visit):
            raise TypeError(f"visits must hold Visit, got {type(v).__name__}")
        what = f"visit {v.visit_id}"
        if not v.visit_id:
            raise ValueError("visit: visit_id must not be empty")
        self._check_common(what, v.site_id, v.day)
        in_ts = _finite(v.in_ts, f"{what}: in_ts")
        out_ts = _finite(v.out_ts, f"{what}: out_ts")
        if out_ts < in_ts:
            raise ValueError(f"{what}: out_ts {out_ts} is before in_ts {in_ts}")
        return {
            "visit_id": v.visit_id,
            "site_id": v.site_id,
            "global_id": v.global_id,
            "in_ts": in_ts,
            "out_ts": out_ts,
            "cameras": list(v.cameras),
            "zones": list(v.zones),
            "in_source": v.in_source,
            "out_source": v.out_source,
            "returning": bool(v.returning),
            "is_staff": bool(v.is_staff),
            "closed": bool(v.closed),
            "day": v.day,
            "corrected_at": _opt_finite(v.corrected_at, f"{what}: corrected_at"),
            "merged_into": v.merged_into,
        }

    def _zone_visit_row(self, z: ZoneVisit) -> dict[str, Any]:
        if not isinstance(z, ZoneVisit):
            raise TypeError(f"zone_visits must hold ZoneVisit, got {type(z).__name__}")
        what = f"zone visit {z.zone_visit_id}"
        if not z.zone_visit_id:
            raise ValueError("zone visit: zone_visit_id must not be empty")
        self._check_common(what, z.site_id, z.day)
        enter = _finite(z.enter_ts, f"{what}: enter_ts")
        exit_ = _finite(z.exit_ts, f"{what}: exit_ts")
        if exit_ < enter:
            raise ValueError(f"{what}: exit_ts {exit_} is before enter_ts {enter}")
        return {
            "zone_visit_id": z.zone_visit_id,
            "site_id": z.site_id,
            "global_id": z.global_id,
            "visit_id": z.visit_id,
            "zone": z.zone,
            "enter_ts": enter,
            "exit_ts": exit_,
            "cameras": list(z.cameras),
            "closed": bool(z.closed),
            "day": z.day,
            "corrected_at": _opt_finite(z.corrected_at, f"{what}: corrected_at"),
            "merged_into": z.merged_into,
        }

    def _track_point_row(self, p: TrackPoint) -> dict[str, Any]:
        if not isinstance(p, TrackPoint):
            raise TypeError(f"track_points must hold TrackPoint, got {type(p).__name__}")
        what = f"track point {p.camera_id}/{p.global_id}@{p.ts}"
        self._check_common(what, p.site_id, p.day)
        return {
            "site_id": p.site_id,
            "camera_id": p.camera_id,
            "global_id": p.global_id,
            "visit_id": p.visit_id,
            "ts": _finite(p.ts, f"{what}: ts"),
            "x": _finite(p.x, f"{what}: x"),
            "y": _finite(p.y, f"{what}: y"),
            "zone": p.zone,
            "day": p.day,
            "corrected_at": _opt_finite(p.corrected_at, f"{what}: corrected_at"),
            "merged_into": p.merged_into,
        }

    def _activity_row(self, a: ActivityInterval) -> dict[str, Any]:
        if not isinstance(a, ActivityInterval):
            raise TypeError(f"activities must hold ActivityInterval, got {type(a).__name__}")
        what = f"activity interval {a.interval_id}"
        if not a.interval_id:
            raise ValueError("activity interval: interval_id must not be empty")
        self._check_common(what, a.site_id, a.day)
        start = _finite(a.start_ts, f"{what}: start_ts")
        end = _finite(a.end_ts, f"{what}: end_ts")
        if end < start:
            raise ValueError(f"{what}: end_ts {end} is before start_ts {start}")
        return {
            "interval_id": a.interval_id,
            "site_id": a.site_id,
            "global_id": a.global_id,
            "visit_id": a.visit_id,
            "activity": a.activity,
            "zone": a.zone,
            "camera_id": a.camera_id,
            "start_ts": start,
            "end_ts": end,
            "closed": bool(a.closed),
            "day": a.day,
            "corrected_at": _opt_finite(a.corrected_at, f"{what}: corrected_at"),
        }

    # ---- reading ---------------------------------------------------------
    def files(self, table: str | None = None, day: str | None = None) -> list[Path]:
        """The Parquet files of one table (or all) and one day (or all), sorted."""
        if day is not None:
            check_day(day)
        names = [self._table(table).name] if table else list(TABLES)
        folder = f"day={day}" if day else "day=*"
        out: list[Path] = []
        for name in names:
            out.extend(sorted((self.root / name).glob(f"{folder}/part-*.parquet")))
        return out

    def days(self) -> list[str]:
        """The business days that have data in any table, sorted."""
        found = {p.parent.name.removeprefix("day=") for p in self.files()}
        return sorted(d for d in found if _DAY.match(d))

    def connect(self, day: str | Sequence[str] | None = None) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with the deduplicated views over the files.

        Args:
            day: one day, several days, or None for every day. Only those partitions
                are read.

        Raises:
            StoreError: a file in scope is damaged (named in the message).
        """
        return self._read(self._scope(day), lambda con: con)

    def sql(
        self,
        query: str,
        params: Sequence[Any] | dict[str, Any] | None = None,
        *,
        day: str | Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Run a query over the views (see module doc) and return rows as dicts.

        Args:
            query: DuckDB SQL over ``events``, ``visits``, ``zone_visits``,
                ``track_points`` and ``cameras``.
            params: ``?`` or ``$name`` parameters.
            day: restrict the views to one day or several (None: all days).

        Raises:
            StoreError: a file in scope is damaged (named in the message).
        """

        def run(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
            try:
                cur = con.execute(query, params) if params is not None else con.execute(query)
                cols = [d[0] for d in cur.description or []]
                return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
            finally:
                con.close()

        return self._read(self._scope(day), run)

    def _read(self, days: list[str] | None, fn: Callable[[duckdb.DuckDBPyConnection], _T]) -> _T:
        """Build the views over the files in scope and apply ``fn``; diagnose failures.

        A file that vanished between listing and reading (merged by :meth:`compact`)
        makes it list again and retry.
        """
        attempts = 5
        for attempt in range(attempts):
            files = {t: self._files_in(t, days) for t in TABLES}
            flat = [f for fs in files.values() for f in fs]
            con = duckdb.connect()
            try:
                for name, spec in TABLES.items():
                    self._create_views(con, spec, files[name])
                con.execute(_CAMERAS_VIEW)
                return fn(con)
            except duckdb.Error as err:
                con.close()
                if attempt < attempts - 1 and not all(f.exists() for f in flat):
                    continue
                raise self._diagnose(err, flat) from err
        raise AssertionError("unreachable")

    def count(self, table: str, day: str | None = None) -> int:
        """Rows of a deduplicated view (``visits`` counts visits, not snapshots)."""
        self._table(table)
        return int(self.sql(f"SELECT count(*) AS n FROM {table}", day=day)[0]["n"])

    # ---- internals -------------------------------------------------------
    @staticmethod
    def _table(name: str) -> _Table:
        try:
            return TABLES[name]
        except KeyError:
            raise ValueError(f"unknown table {name!r} (tables: {sorted(TABLES)})") from None

    @staticmethod
    def _scope(day: str | Sequence[str] | None) -> list[str] | None:
        if day is None:
            return None
        days = [day] if isinstance(day, str) else list(day)
        return [check_day(d) for d in days]

    def _files_in(self, table: str, days: list[str] | None) -> list[Path]:
        if days is None:
            return self.files(table)
        return [f for d in days for f in self.files(table, d)]

    @staticmethod
    def _create_views(con: duckdb.DuckDBPyConnection, spec: _Table, files: list[Path]) -> None:
        raw = f"_raw_{spec.name}"
        present = _columns_in(files) if spec.optional and files else set()
        cols = ", ".join(
            f'"{c}"' if c not in spec.optional or c in present else f'CAST(NULL AS {t}) AS "{c}"'
            for c, t in spec.columns
        )
        if files:
            paths = ", ".join(_sql_str(str(f)) for f in files)
            con.execute(
                f"CREATE VIEW {raw} AS SELECT {cols}, day FROM read_parquet([{paths}],"
                " hive_partitioning = true, hive_types = {'day': 'VARCHAR'},"
                " union_by_name = true)"
            )
        else:
            ddl = ", ".join(f'"{c}" {t}' for c, t in spec.columns)
            con.execute(f"CREATE TABLE {raw} ({ddl}, day VARCHAR)")
        extra = f", {spec.extra}" if spec.extra else ""
        key = ", ".join(spec.key)
        tomb = any(c == "merged_into" for c, _ in spec.columns)
        latest = (
            f"SELECT *{extra} FROM {raw}"
            f" QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {spec.latest}) = 1"
        )
        if tomb:  # a tombstone wins its key and hides it
            latest = f"SELECT * FROM ({latest}) WHERE merged_into IS NULL"
        con.execute(f"CREATE VIEW {spec.name} AS {latest}")

    @staticmethod
    def _diagnose(err: duckdb.Error, files: Iterable[Path]) -> Exception:
        """Find the damaged file behind a DuckDB error by reading the files one by one."""
        if isinstance(
            err, duckdb.ParserException | duckdb.BinderException | duckdb.CatalogException
        ):
            return err  # the query, not the data
        for f in files:
            try:
                pq.read_table(f)
            except FileNotFoundError:
                continue
            except Exception as probe:
                return StoreError(f"corrupt or unreadable Parquet file {f}: {probe}")
        return err


_SCHEMA_CACHE: dict[Path, frozenset[str]] = {}


def _columns_in(files: Iterable[Path]) -> set[str]:
    """Column names found in any of ``files`` (footers only; cached, files never change)."""
    out: set[str] = set()
    for f in files:
        names = _SCHEMA_CACHE.get(f)
        if names is None:
            try:
                names = frozenset(pq.read_schema(f).names)
            except FileNotFoundError:
                continue
            except Exception:  # damaged: reading it fails and is diagnosed there
                continue
            if len(_SCHEMA_CACHE) > 100_000:
                _SCHEMA_CACHE.clear()
            _SCHEMA_CACHE[f] = names
        out |= names
    return out


def _atomic_write(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            pq.write_table(table, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
