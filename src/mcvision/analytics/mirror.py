"""Mirror the Parquet event store into MySQL/MariaDB or PostgreSQL, incrementally.

The store (:mod:`mcvision.analytics.store`) stays the source of truth. A
:class:`Mirror` copies what its flushes wrote into the tables of
:mod:`mcvision.analytics.mirror_schema`:

1. For each store table (``events``, ``visits``, ``zone_visits``, ``activities``)
   it lists the Parquet files modified since that table's **watermark** (the
   newest file modification time copied so far, kept in ``mirror_watermarks`` in
   the target, so a restarted process resumes where it stopped). Day folders not
   modified since are not even listed. Files within a small margin before the
   watermark are read again (file times are coarse); that costs a re-read, never
   a duplicate.
2. It reads them in chunks (pyarrow), keeps the latest snapshot per key as the
   store's readers do, and **upserts** them (MySQL ``INSERT … ON DUPLICATE KEY
   UPDATE``, PostgreSQL ``INSERT … ON CONFLICT DO UPDATE``) keyed on
   ``visit_id`` / ``zone_visit_id`` / ``interval_id`` / ``event_id``; a row is
   replaced only by a snapshot that ranks at least as high, in the order of the
   store's views (closed beats open, then the later end, ..., then the later
   ``corrected_at``), so a replayed batch changes nothing, an open visit's newer
   snapshot replaces the older one and a late identity correction's rewrite or
   tombstone (``merged_into`` set, kept as a row that every reader leaves out)
   replaces what it corrects.
3. In the same transaction it recomputes the derived rows of the days touched
   (hourly ``traffic``, ``daily_summary``, ``cameras``) and moves the watermark.
   A process killed mid-sync loses the open transaction only: the next sync
   copies the same files again.

:class:`MirrorWorker` runs a mirror on a background thread, woken after each
flush and at least every ``storage.mirror.sync_period_s``. A database that is
down or refuses writes never blocks the caller: the worker logs, records the lag,
retries with exponential backoff and catches up when the database returns.

Rows deleted from the store (not done by the pipeline; erasure pseudonymizes in
place) reach the mirror by a rebuild: ``mcvision mirror --all``. So does a
compaction (:meth:`EventStore.compact`) of a day whose correction tombstones the
mirror had not copied yet (the compacted file holds neither the tombstone nor the
row it hides): ``mcvision mirror --day D`` then.

Example:
    >>> cfg = parse_config({"site_id": "s", "cameras": [{"id": "c", "source": 0}],  # doctest: +SKIP
    ...     "storage": {"mirror": {"enabled": True, "url": "postgresql+psycopg://bi@db/shop"}}})
    >>> Mirror(cfg).open().sync().rows                                            # doctest: +SKIP
    120
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from mcvision.analytics import mirror_schema as ms
from mcvision.analytics.store import TABLES as STORE_TABLES
from mcvision.analytics.store import EventStore
from mcvision.business_day import BusinessCalendar
from mcvision.config import MirrorConfig, SiteConfig

__all__ = [
    "SOURCES",
    "Mirror",
    "MirrorError",
    "MirrorUnavailable",
    "MirrorWorker",
    "SyncResult",
    "make_engine",
    "mirror_url",
    "start_mirror",
    "summarize_visits",
]

log = logging.getLogger(__name__)

# store table -> the mirror tables it feeds
SOURCES: dict[str, tuple[str, ...]] = {
    "events": ("events", "cameras"),
    "visits": ("visits", "traffic", "daily_summary"),
    "zone_visits": ("zone_visits",),
    "activities": ("activity_intervals",),
}
MARGIN_NS = 2_000_000_000  # files this much older than the watermark are listed again
CHUNK_FILES = 50  # files per transaction


class MirrorError(RuntimeError):
    """A mirror that cannot work until someone fixes it: bad URL, credentials, database, schema."""


class MirrorUnavailable(RuntimeError):
    """The database cannot be reached or refused a write right now (retried later)."""


# ---- connecting ----------------------------------------------------------------
def mirror_url(cfg: MirrorConfig, url: str | None = None) -> sa.URL:
    """The URL to connect to: ``url`` (default ``cfg.url``) with the password from the env.

    Raises:
        MirrorError: no URL, a URL SQLAlchemy cannot parse, or one with a password.
    """
    text = url or cfg.url
    if not text:
        raise MirrorError("storage.mirror.url is not set")
    try:
        u = sa.engine.make_url(text)
    except sa.exc.ArgumentError as err:
        raise MirrorError(f"mirror URL {text!r} is not a SQLAlchemy URL: {err}") from None
    if u.password:
        raise MirrorError(
            f"mirror URL {u.render_as_string(hide_password=True)} contains a password: put it in"
            f" the environment variable {cfg.password_env} instead"
        )
    if u.get_backend_name() not in ("mysql", "mariadb", "postgresql"):
        raise MirrorError(f"mirror URL {text!r}: only MySQL/MariaDB and PostgreSQL are supported")
    pw = os.environ.get(cfg.password_env)
    return u.set(password=pw) if pw else u


def make_engine(url: sa.URL, connect_timeout_s: float = 5.0) -> Engine:
    """A small pooled engine with connect (and, for MySQL, read/write) timeouts.

    Raises:
        MirrorError: the driver is not installed or the URL names an unknown dialect.
    """
    t = max(1, math.ceil(connect_timeout_s))
    backend = url.get_backend_name()
    args: dict[str, Any] = {"connect_timeout": t}
    if backend in ("mysql", "mariadb"):
        args.update(read_timeout=max(30, 6 * t), write_timeout=max(30, 6 * t), charset="utf8mb4")
    else:  # a statement that hangs fails (and is retried) instead of holding the thread
        args["options"] = f"-c statement_timeout={max(30, 6 * t) * 1000}"
    try:
        return sa.create_engine(
            url,
            connect_args=args,
            pool_size=2,
            max_overflow=2,
            pool_pre_ping=True,
            pool_recycle=1800,
        )
    except (sa.exc.NoSuchModuleError, ImportError) as err:
        raise MirrorError(
            f"mirror URL {url.render_as_string(hide_password=True)}: no such database driver"
            f" ({err}); use mysql+pymysql:// or postgresql+psycopg://"
        ) from None


_PERMANENT = (
    "access denied",
    "password authentication failed",
    "authentication failed",
    "unknown database",
    "does not exist",
    "no password supplied",
    "role ",
)


def _classify(err: Exception, where: str) -> Exception:
    """A driver error as :class:`MirrorError` (needs fixing) or :class:`MirrorUnavailable`."""
    msg = str(getattr(err, "orig", None) or err).strip().splitlines()[0] if str(err) else repr(err)
    if isinstance(err, sa.exc.DBAPIError) and any(p in msg.lower() for p in _PERMANENT):
        return MirrorError(f"{where}: {msg}")
    return MirrorUnavailable(f"{where}: {msg}")


# ---- the copy ----------------------------------------------------------------
@dataclass(frozen=True)
class SourceFile:
    """One Parquet file of the store and its modification time."""

    source: str
    path: Path
    day: str
    mtime_ns: int


@dataclass
class SyncResult:
    """What one :meth:`Mirror.sync` copied."""

    files: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    days: set[str] = field(default_factory=set)
    rows_read: int = 0  # snapshots in the files, before keeping the latest per key

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _local(cal: BusinessCalendar, ts: float) -> str:
    return cal.local(ts).format("YYYY-MM-DD HH:mm:ss")


def _ts_rank(ts: float) -> str:
    return f"{max(ts, 0.0):020.6f}"


def _corrected_rank(ts: float | None) -> str:
    """``corrected_at DESC NULLS LAST``: any correction beats none, a later one an earlier."""
    return "0" + "0" * 20 if ts is None else "1" + _ts_rank(ts)


_EARLY = 10**17  # microseconds; epoch seconds up to ~3e9 keep 17 digits


def _early_rank(ts: float) -> str:
    """An ascending time (``in_ts``, ``enter_ts``, ``start_ts``): the earlier ranks higher."""
    return f"{_EARLY - min(max(round(ts * 1e6), 0), _EARLY - 1):017d}"


# The ranks below spell the store's `latest=` orderings (store.TABLES) as strings that
# compare the same way; ties beyond them (sources, day) are the same snapshot in practice.
# A version-2 rank is a prefix of the version-3 rank of the same snapshot.
def _visit_rank(r: dict[str, Any]) -> str:
    return (
        f"{int(r['closed'])}{_ts_rank(r['out_ts'])}{len(r['cameras'] or []):04d}"
        f"{len(r['zones'] or []):04d}{int(r['is_staff'])}{int(r['returning'])}"
        f"{_corrected_rank(r.get('corrected_at'))}{_early_rank(r['in_ts'])}"
    )


def _zone_visit_rank(r: dict[str, Any]) -> str:
    return (
        f"{int(r['closed'])}{_ts_rank(r['exit_ts'])}{len(r['cameras'] or []):04d}"
        f"{_corrected_rank(r.get('corrected_at'))}{_early_rank(r['enter_ts'])}"
    )


def _activity_rank(r: dict[str, Any]) -> str:
    return (
        f"{int(r['closed'])}{_ts_rank(r['end_ts'])}"
        f"{_corrected_rank(r.get('corrected_at'))}{_early_rank(r['start_ts'])}"
    )


# "which snapshot wins", as the store's views order them
_RANKS: dict[str, Callable[[dict[str, Any]], str]] = {
    "visits": _visit_rank,
    "zone_visits": _zone_visit_rank,
    "activities": _activity_rank,
    "events": lambda r: "0",
}


def _opt_local(cal: BusinessCalendar, ts: float | None) -> str | None:
    return None if ts is None else _local(cal, ts)


class Mirror:
    """Copies one site's event store into a relational database.

    Args:
        cfg: the site (its ``storage.mirror`` block says where and which tables).
        engine: an engine to use instead of one built from the config.
        store: the store to read (default: the site's).
        clock: wall clock, epoch seconds (``synced_ts`` and lag).
        chunk_files: files per transaction.
    """

    def __init__(
        self,
        cfg: SiteConfig,
        engine: Engine | None = None,
        *,
        store: EventStore | None = None,
        url: str | None = None,
        clock: Callable[[], float] = time.time,
        chunk_files: int = CHUNK_FILES,
    ) -> None:
        self.cfg = cfg
        self.mcfg = cfg.storage.mirror
        self.site_id = cfg.site_id
        self.store = store or EventStore.from_config(cfg)
        self.calendar = BusinessCalendar.from_config(cfg.reset)
        self.clock = clock
        self.chunk_files = chunk_files
        self.tables = set(self.mcfg.tables)
        self.sources = [s for s, feeds in SOURCES.items() if self.tables & set(feeds)]
        if engine is None:
            engine = make_engine(mirror_url(self.mcfg, url), self.mcfg.connect_timeout_s)
        self.engine = engine
        self.where = f"mirror {engine.url.render_as_string(hide_password=True)}"
        self.watermarks: dict[str, int] = {}  # last known (also while the database is down)
        self._done: dict[str, set[tuple[str, int]]] = {s: set() for s in SOURCES}
        self.schema_version = 0

    # ---- set up ----------------------------------------------------------
    def open(self) -> Mirror:
        """Connect, create or upgrade the schema, read the watermarks.

        Raises:
            MirrorError: bad credentials, unknown database, a newer schema.
            MirrorUnavailable: the server cannot be reached now.
        """
        try:
            self.schema_version = ms.migrate(self.engine)
            self.read_watermarks()
        except sa.exc.DBAPIError as err:
            raise _classify(err, self.where) from None
        except RuntimeError as err:  # a newer schema
            raise MirrorError(f"{self.where}: {err}") from None
        return self

    def read_watermarks(self) -> dict[str, int]:
        wm = ms.mirror_watermarks
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(wm.c.source, wm.c.mtime_ns).where(wm.c.site_id == self.site_id)
            ).all()
        self.watermarks = {r.source: int(r.mtime_ns) for r in rows}
        return dict(self.watermarks)

    def close(self) -> None:
        self.engine.dispose()

    # ---- what is to copy ---------------------------------------------------
    def list_files(
        self, source: str, since_ns: int = 0, day: str | None = None
    ) -> list[SourceFile]:
        """Files of one store table modified at or after ``since_ns``, oldest first."""
        root = self.store.root / source
        out: list[SourceFile] = []
        try:
            days = list(os.scandir(root))
        except FileNotFoundError:
            return out
        for d in days:
            if not d.name.startswith("day=") or (day is not None and d.name != f"day={day}"):
                continue
            try:
                if not d.is_dir() or d.stat().st_mtime_ns < since_ns:
                    continue  # nothing written or removed in this day since
                entries = list(os.scandir(d.path))
            except FileNotFoundError:
                continue
            for f in entries:
                if f.name.startswith("part-") and f.name.endswith(".parquet"):
                    try:
                        m = f.stat().st_mtime_ns
                    except FileNotFoundError:
                        continue
                    if m >= since_ns:
                        out.append(SourceFile(source, Path(f.path), d.name[4:], m))
        out.sort(key=lambda s: (s.mtime_ns, str(s.path)))
        return out

    def pending(self) -> dict[str, list[SourceFile]]:
        """Per source, the files newer than its (last known) watermark."""
        out = {}
        for s in self.sources:
            wm = self.watermarks.get(s, 0)
            out[s] = [
                f
                for f in self.list_files(s, wm - MARGIN_NS if wm else 0)
                if f.mtime_ns > wm or (str(f.path), f.mtime_ns) not in self._done[s]
            ]
        return out

    def lag(self, now: float | None = None) -> dict[str, Any]:
        """Files not yet copied and the age of the oldest (0 when caught up)."""
        now = self.clock() if now is None else now
        pend = [
            f
            for fs in self.pending().values()
            for f in fs
            if f.mtime_ns > self.watermarks.get(f.source, 0)
        ]
        oldest = min((f.mtime_ns for f in pend), default=None)
        return {
            "pending_files": len(pend),
            "lag_s": 0.0 if oldest is None else max(0.0, now - oldest / 1e9),
        }

    # ---- copying -----------------------------------------------------------
    def sync(self, on_progress: Callable[[int], None] | None = None) -> SyncResult:
        """Copy every file newer than the watermarks.

        Args:
            on_progress: called with the number of files of each chunk copied.

        Raises:
            MirrorUnavailable: the database failed (what was committed stays; retry).
            MirrorError: a problem that retrying will not fix.
        """
        t0 = time.perf_counter()
        res = SyncResult()
        try:
            self.read_watermarks()
            for source, files in self.pending().items():
                self._copy(source, files, res, on_progress, move_watermark=True)
        except sa.exc.DBAPIError as err:
            raise _classify(err, self.where) from None
        res.seconds = time.perf_counter() - t0
        return res

    def rebuild(
        self, day: str | None = None, on_progress: Callable[[int], None] | None = None
    ) -> SyncResult:
        """Delete the site's rows (of one day, or all) and copy them again from the store.

        ``day=None`` also resets the watermarks, so everything is copied; a single day
        leaves them as they are.
        """
        t0 = time.perf_counter()
        res = SyncResult()
        try:
            with self.engine.begin() as conn:
                for t in ms.TABLES.values():
                    q = t.delete().where(t.c.site_id == self.site_id)
                    if day is not None:
                        q = q.where(t.c.day == date.fromisoformat(day))
                    conn.execute(q)
                if day is None:
                    wm = ms.mirror_watermarks
                    conn.execute(wm.delete().where(wm.c.site_id == self.site_id))
            self.watermarks = {}
            self._done = {s: set() for s in SOURCES}
            if day is None:
                return self.sync(on_progress)
            self.read_watermarks()
            for source in self.sources:
                self._copy(
                    source, self.list_files(source, 0, day), res, on_progress, move_watermark=False
                )
        except sa.exc.DBAPIError as err:
            raise _classify(err, self.where) from None
        res.seconds = time.perf_counter() - t0
        return res

    def files_to_copy(self, day: str | None = None) -> int:
        """How many files a sync (``day`` None) or a rebuild of ``day`` would read."""
        if day is None:
            return sum(len(v) for v in self.pending().values())
        return sum(len(self.list_files(s, 0, day)) for s in self.sources)

    def _copy(
        self,
        source: str,
        files: list[SourceFile],
        res: SyncResult,
        on_progress: Callable[[int], None] | None,
        *,
        move_watermark: bool,
    ) -> None:
        for i in range(0, len(files), self.chunk_files):
            chunk = files[i : i + self.chunk_files]
            rows, present, read = self._read(source, chunk)
            res.rows_read += read
            n = self._write(source, rows, chunk if move_watermark else [])
            res.rows[source] = res.rows.get(source, 0) + n
            res.files += len(chunk)
            res.days.update(f.day for f in present)
            if move_watermark:
                top = max(f.mtime_ns for f in chunk)
                self.watermarks[source] = max(self.watermarks.get(source, 0), top)
                done = self._done[source]
                done.update((str(f.path), f.mtime_ns) for f in chunk)
                floor = self.watermarks[source] - MARGIN_NS
                self._done[source] = {d for d in done if d[1] >= floor}
            if on_progress is not None:
                on_progress(len(chunk))

    def _read(
        self, source: str, files: list[SourceFile]
    ) -> tuple[list[dict[str, Any]], list[SourceFile], int]:
        """The highest-ranked snapshot per key in these files (the store readers' latest),
        the files read and the rows they held.

        Files removed meanwhile (merged by a compaction) are skipped: the file that
        replaced them is newer and is copied later.
        """
        spec = STORE_TABLES[source]
        rank = _RANKS[source]
        best: dict[tuple[Any, ...], tuple[str, dict[str, Any]]] = {}
        present = []
        read = 0
        for f in files:
            try:
                rows = pq.read_table(f.path).to_pylist()
            except FileNotFoundError:
                continue
            except (OSError, pa.ArrowException) as err:
                raise MirrorError(f"cannot read store file {f.path}: {err}") from None
            present.append(f)
            read += len(rows)
            for r in rows:
                r["day"] = f.day
                key = tuple(r[k] for k in spec.key)
                k_rank = rank(r)
                cur = best.get(key)
                if cur is None or k_rank >= cur[0]:
                    best[key] = (k_rank, r)
        return [r for _, r in best.values()], present, read

    def _write(self, source: str, rows: list[dict[str, Any]], chunk: list[SourceFile]) -> int:
        now = self.clock()
        with self.engine.begin() as conn:
            n = 0
            if source == "visits":
                if "visits" in self.tables:
                    n += _upsert(conn, ms.visits, [self._visit(r, now) for r in rows])
                days = sorted({r["day"] for r in rows})
                self._derive(conn, days, now)
            elif source == "zone_visits":
                n += _upsert(conn, ms.zone_visits, [self._zone_visit(r, now) for r in rows])
            elif source == "activities":
                n += _upsert(conn, ms.activity_intervals, [self._activity(r, now) for r in rows])
            elif source == "events":
                if "events" in self.tables:
                    n += _upsert(conn, ms.events, [self._event(r, now) for r in rows])
                if "cameras" in self.tables:
                    n += _upsert(conn, ms.cameras, self._cameras(rows, now))
            if chunk:
                self._move_watermark(conn, source, chunk, len(rows), now)
        return n

    def _move_watermark(
        self, conn: Connection, source: str, chunk: list[SourceFile], rows: int, now: float
    ) -> None:
        wm = ms.mirror_watermarks
        top = max(self.watermarks.get(source, 0), *(f.mtime_ns for f in chunk))
        key = (wm.c.site_id == self.site_id) & (wm.c.source == source)
        updated = conn.execute(
            wm.update()
            .where(key)
            .values(
                mtime_ns=sa.case((wm.c.mtime_ns > top, wm.c.mtime_ns), else_=top),
                files_copied=wm.c.files_copied + len(chunk),
                rows_copied=wm.c.rows_copied + rows,
                updated_ts=now,
            )
        ).rowcount
        if not updated:
            conn.execute(
                wm.insert().values(
                    site_id=self.site_id,
                    source=source,
                    mtime_ns=top,
                    files_copied=len(chunk),
                    rows_copied=rows,
                    updated_ts=now,
                )
            )

    # ---- row shapes -------------------------------------------------------
    def _visit(self, r: dict[str, Any], now: float) -> dict[str, Any]:
        cal = self.calendar
        cams, zones = list(r["cameras"] or []), list(r["zones"] or [])
        rank = _visit_rank(r)
        return {
            "visit_id": r["visit_id"],
            "site_id": r["site_id"],
            "day": date.fromisoformat(r["day"]),
            "global_id": r["global_id"],
            "in_ts": r["in_ts"],
            "out_ts": r["out_ts"],
            "in_local": _local(cal, r["in_ts"]),
            "out_local": _local(cal, r["out_ts"]),
            "in_hour": cal.local(r["in_ts"]).hour,
            "dwell_s": r["out_ts"] - r["in_ts"],
            "cameras": json.dumps(cams),
            "zones": json.dumps(zones),
            "in_source": r["in_source"],
            "out_source": r["out_source"],
            "is_returning": bool(r["returning"]),
            "is_staff": bool(r["is_staff"]),
            "closed": bool(r["closed"]),
            "corrected_at": r.get("corrected_at"),
            "corrected_local": _opt_local(cal, r.get("corrected_at")),
            "merged_into": r.get("merged_into"),
            "snapshot_rank": rank,
            "synced_ts": now,
        }

    def _zone_visit(self, r: dict[str, Any], now: float) -> dict[str, Any]:
        cal = self.calendar
        cams = list(r["cameras"] or [])
        return {
            "zone_visit_id": r["zone_visit_id"],
            "site_id": r["site_id"],
            "day": date.fromisoformat(r["day"]),
            "visit_id": r["visit_id"],
            "global_id": r["global_id"],
            "zone": r["zone"],
            "enter_ts": r["enter_ts"],
            "exit_ts": r["exit_ts"],
            "enter_local": _local(cal, r["enter_ts"]),
            "exit_local": _local(cal, r["exit_ts"]),
            "enter_hour": cal.local(r["enter_ts"]).hour,
            "dwell_s": r["exit_ts"] - r["enter_ts"],
            "cameras": json.dumps(cams),
            "closed": bool(r["closed"]),
            "corrected_at": r.get("corrected_at"),
            "corrected_local": _opt_local(cal, r.get("corrected_at")),
            "merged_into": r.get("merged_into"),
            "snapshot_rank": _zone_visit_rank(r),
            "synced_ts": now,
        }

    def _activity(self, r: dict[str, Any], now: float) -> dict[str, Any]:
        cal = self.calendar
        return {
            "interval_id": r["interval_id"],
            "site_id": r["site_id"],
            "day": date.fromisoformat(r["day"]),
            "visit_id": r["visit_id"],
            "global_id": r["global_id"],
            "activity": r["activity"],
            "zone": r["zone"],
            "camera_id": r["camera_id"],
            "start_ts": r["start_ts"],
            "end_ts": r["end_ts"],
            "start_local": _local(cal, r["start_ts"]),
            "end_local": _local(cal, r["end_ts"]),
            "dwell_s": r["end_ts"] - r["start_ts"],
            "closed": bool(r["closed"]),
            "corrected_at": r.get("corrected_at"),
            "corrected_local": _opt_local(cal, r.get("corrected_at")),
            "snapshot_rank": _activity_rank(r),
            "synced_ts": now,
        }

    def _event(self, r: dict[str, Any], now: float) -> dict[str, Any]:
        return {
            "event_id": r["event_id"],
            "site_id": r["site_id"],
            "day": date.fromisoformat(r["day"]),
            "kind": r["kind"],
            "ts": r["ts"],
            "ts_local": _local(self.calendar, r["ts"]),
            "global_id": r["global_id"],
            "camera_id": r["camera_id"],
            "visit_id": r["visit_id"],
            "zone": r["zone"],
            "payload": r["payload"] or "{}",
            "snapshot_rank": "0",
            "synced_ts": now,
        }

    def _cameras(self, rows: Iterable[dict[str, Any]], now: float) -> list[dict[str, Any]]:
        latest: dict[str, dict[str, Any]] = {}
        for r in rows:
            if r["kind"] not in ("camera_online", "camera_offline") or not r["camera_id"]:
                continue
            # the store's view: newest ts wins, offline before online on a tie
            rank = _ts_rank(r["ts"]) + ("1" if r["kind"] == "camera_offline" else "0")
            cur = latest.get(r["camera_id"])
            if cur is None or rank > cur["snapshot_rank"]:
                latest[r["camera_id"]] = {
                    "site_id": r["site_id"],
                    "camera_id": r["camera_id"],
                    "online": r["kind"] == "camera_online",
                    "ts": r["ts"],
                    "ts_local": _local(self.calendar, r["ts"]),
                    "day": date.fromisoformat(r["day"]),
                    "payload": r["payload"] or "{}",
                    "snapshot_rank": rank,
                    "synced_ts": now,
                }
        return list(latest.values())

    def _derive(self, conn: Connection, days: Sequence[str], now: float) -> None:
        """Recompute ``daily_summary`` and ``traffic`` of these days from the mirrored visits
        (tombstones, ``merged_into`` set, left out like the store's views do)."""
        want_summary = "daily_summary" in self.tables
        want_traffic = "traffic" in self.tables
        if not (want_summary or want_traffic):
            return
        v = ms.visits
        for day in days:
            rows = [
                r._asdict()
                for r in conn.execute(
                    sa.select(
                        v.c.global_id,
                        v.c.in_ts,
                        v.c.out_ts,
                        v.c.dwell_s,
                        v.c.closed,
                        v.c.is_staff,
                        v.c.is_returning,
                    ).where(
                        v.c.site_id == self.site_id,
                        v.c.day == date.fromisoformat(day),
                        v.c.merged_into.is_(None),
                    )
                )
            ]
            if want_summary:
                s = summarize_visits(rows)
                _upsert(
                    conn,
                    ms.daily_summary,
                    [
                        {
                            "site_id": self.site_id,
                            "day": date.fromisoformat(day),
                            **s,
                            "synced_ts": now,
                        }
                    ],
                )
            if want_traffic:
                _upsert(
                    conn,
                    ms.traffic,
                    [
                        {
                            "site_id": self.site_id,
                            "day": date.fromisoformat(day),
                            **b,
                            "synced_ts": now,
                        }
                        for b in hourly_traffic(rows, self.calendar, day)
                    ],
                )


def _upsert(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> int:
    """Insert or update ``rows`` by primary key; ranked tables keep the higher snapshot."""
    if not rows:
        return 0
    pk = [c.name for c in table.primary_key]
    cols = [c.name for c in table.columns if c.name not in pk]
    ranked = "snapshot_rank" in table.c
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        pstmt = pg_insert(table)
        ex = pstmt.excluded
        stmt: Any = pstmt.on_conflict_do_update(
            index_elements=pk,
            set_={c: ex[c] for c in cols},
            where=(ex.snapshot_rank >= table.c.snapshot_rank) if ranked else None,
        )
    else:
        from sqlalchemy.dialects.mysql import insert as my_insert

        mstmt = my_insert(table)
        new = mstmt.inserted
        if ranked:
            # MySQL assigns left to right: the rank goes last so every test sees the old one.
            wins = new.snapshot_rank >= table.c.snapshot_rank
            order = [c for c in cols if c != "snapshot_rank"] + ["snapshot_rank"]
            stmt = mstmt.on_duplicate_key_update(
                [(c, sa.case((wins, new[c]), else_=table.c[c])) for c in order]
            )
        else:
            stmt = mstmt.on_duplicate_key_update([(c, new[c]) for c in cols])
    conn.execute(stmt, rows)
    return len(rows)


# ---- derived numbers (shared with the read side) ----------------------------------
def summarize_visits(rows: Sequence[dict[str, Any]], include_staff: bool = False) -> dict[str, Any]:
    """A day's headline numbers from its visits, as :func:`~mcvision.analytics.queries.day_summary`.

    ``rows`` have ``global_id``, ``dwell_s``, ``closed``, ``is_staff``, ``is_returning``.
    Median and p90 interpolate linearly, like DuckDB's ``median``/``quantile_cont``.
    """
    counted = [r for r in rows if include_staff or not r["is_staff"]]
    closed = np.array([r["dwell_s"] for r in counted if r["closed"]], dtype=np.float64)
    visitors = {r["global_id"] for r in counted}
    ret = {r["global_id"] for r in counted if r["is_returning"]}
    has = closed.size > 0
    return {
        "unique_visitors": len(visitors),
        "visits": len(counted),
        "open_visits": sum(1 for r in counted if not r["closed"]),
        "closed_visits": int(closed.size),
        "dwell_mean_s": float(closed.mean()) if has else None,
        "dwell_median_s": float(np.quantile(closed, 0.5)) if has else None,
        "dwell_p90_s": float(np.quantile(closed, 0.9)) if has else None,
        "returning_visitors": len(ret),
        "new_visitors": len(visitors) - len(ret),
        "staff_visits": sum(1 for r in rows if r["is_staff"]),
    }


def hourly_traffic(
    rows: Sequence[dict[str, Any]], calendar: BusinessCalendar, day: str
) -> list[dict[str, Any]]:
    """Customers in, out and inside per hour of a business day, as ``queries.traffic(..., "1h")``."""
    width = 3600.0
    start, end = calendar.day_bounds(day)
    n = max(1, math.ceil((end - start) / width))
    entries = np.zeros(n, dtype=np.int64)
    exits = np.zeros(n, dtype=np.int64)

    def bucket(ts: float) -> int:
        return int(min(max(math.floor((ts - start) / width), 0), n - 1))

    for r in rows:
        if r["is_staff"]:
            continue
        entries[bucket(r["in_ts"])] += 1
        if r["closed"]:
            exits[bucket(r["out_ts"])] += 1
    occupancy = np.cumsum(entries) - np.cumsum(exits)
    out = []
    for i in range(n):
        b0 = start + i * width
        local = calendar.local(b0)
        out.append(
            {
                "bucket_start_ts": b0,
                "bucket_end_ts": min(b0 + width, end),
                "start_local": local.isoformat(),
                "label": local.format("HH:mm"),
                "entries": int(entries[i]),
                "exits": int(exits[i]),
                "occupancy": int(occupancy[i]),
            }
        )
    return out


# ---- the background worker ----------------------------------------------------
class MirrorWorker:
    """Runs :meth:`Mirror.sync` on a thread: after each :meth:`notify` and every period.

    Nothing here blocks the caller: :meth:`notify` sets an event; failures are
    logged, counted and retried with exponential backoff (``period`` doubling up to
    ``max_backoff_s``) until the database answers again.
    """

    def __init__(
        self,
        mirror: Mirror | None,
        period_s: float,
        *,
        max_backoff_s: float = 60.0,
        clock: Callable[[], float] = time.time,
        error: str | None = None,
        url: str = "",
    ) -> None:
        self.mirror = mirror
        self.period_s = period_s
        self.max_backoff_s = max(max_backoff_s, period_s)
        self.clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._status: dict[str, Any] = {
            "enabled": True,
            "state": "failed" if error else "starting",
            "url": url,
            "error": error,
            "last_sync_ts": None,
            "last_attempt_ts": None,
            "failures": 0,
            "rows_synced": 0,
            "files_synced": 0,
            "pending_files": None,
            "lag_s": None,
            "schema_version": None,
            "last_sync_s": None,
            "cpu_s": 0.0,
        }

    def start(self) -> MirrorWorker:
        """Open the mirror (schema, watermarks) and start the thread.

        A problem that needs fixing (bad credentials, unknown database) leaves the
        worker ``failed`` with the error; an unreachable server leaves it ``behind``,
        and the thread keeps trying.
        """
        if self.mirror is None:
            return self
        try:
            self.mirror.open()
            self._set(state="ok", schema_version=self.mirror.schema_version, error=None)
        except MirrorError as err:
            log.error("%s; the run continues without the mirror", err)
            self._set(state="failed", error=str(err))
            return self
        except MirrorUnavailable as err:
            log.warning("%s; will retry", err)
            self._set(state="behind", error=str(err), failures=1)
        self._thread = threading.Thread(target=self._loop, name="store-mirror", daemon=True)
        self._thread.start()
        self._wake.set()  # a first sync right away
        return self

    def notify(self) -> None:
        """Ask for a sync soon (after a flush); returns at once."""
        self._wake.set()

    def status(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._status)

    def _set(self, **kw: Any) -> None:
        with self._lock:
            self._status.update(kw)

    def sync_now(self) -> bool:
        """One sync on the calling thread (the worker loop's step). Returns True on success."""
        m = self.mirror
        if m is None:
            return False
        with self._sync_lock:
            cpu = time.thread_time()
            try:
                return self._sync(m)
            finally:
                with self._lock:
                    self._status["cpu_s"] += time.thread_time() - cpu

    def _sync(self, m: Mirror) -> bool:
        now = self.clock()
        self._set(last_attempt_ts=now)
        try:
            if not self.status()["schema_version"]:
                m.open()
                self._set(schema_version=m.schema_version)
            res = m.sync()
        except MirrorError as err:
            log.error("%s", err)
            self._record_failure(str(err), m)
            return False
        except (MirrorUnavailable, OSError, pa.ArrowException) as err:
            log.warning("mirror sync failed (will retry): %s", err)
            self._record_failure(str(err), m)
            return False
        with self._lock:
            s = self._status
            s.update(
                state="ok",
                error=None,
                last_sync_ts=self.clock(),
                failures=0,
                last_sync_s=res.seconds,
            )
            s["rows_synced"] += res.total_rows
            s["files_synced"] += res.files
        self._set(**self._lag(m))
        return True

    def _lag(self, m: Mirror) -> dict[str, Any]:
        try:
            return m.lag(self.clock())
        except OSError:
            return {}

    def _record_failure(self, error: str, m: Mirror) -> None:
        lag = self._lag(m)  # counted first: "behind" is never seen without its pending files
        with self._lock:
            self._status["failures"] += 1
            self._status.update(state="behind", error=error, **lag)

    def _delay(self) -> float:
        failures = self.status()["failures"]
        if not failures:
            return self.period_s
        return min(self.max_backoff_s, self.period_s * 2 ** min(failures - 1, 16))

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._delay())
            if self._stop.is_set():
                break
            last = self.status()["last_attempt_ts"]
            # failing: a flush's wake-up does not cut the backoff short
            if (
                self.status()["failures"]
                and last is not None
                and self._stop.wait(max(0.0, last + self._delay() - self.clock()))
            ):
                break
            self._wake.clear()
            try:
                self.sync_now()
            except Exception:  # never let the thread die: the next period retries
                log.exception("mirror sync crashed")

    def stop(self, drain_timeout_s: float = 30.0) -> None:
        """Stop the thread after one last sync (given at most ``drain_timeout_s``)."""
        if self._thread is None:
            return
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=drain_timeout_s)
        if not self._thread.is_alive() and self.status()["state"] != "failed":
            done = threading.Thread(target=self.sync_now, daemon=True)
            done.start()
            done.join(timeout=drain_timeout_s)
        self._thread = None
        if self.mirror is not None:
            self.mirror.close()


def start_mirror(cfg: SiteConfig, **kw: Any) -> MirrorWorker | None:
    """The site's mirror worker, started; None when ``storage.mirror.enabled`` is false.

    A bad URL, credentials or database give a worker in state ``failed`` whose
    status names the problem (also logged); the caller runs on without the mirror.
    """
    mcfg = cfg.storage.mirror
    if not mcfg.enabled:
        return None
    shown = mcfg.url or ""
    try:
        mirror = Mirror(cfg, **kw)
    except MirrorError as err:
        log.error("%s; the run continues without the mirror", err)
        return MirrorWorker(None, mcfg.sync_period_s, error=str(err), url=shown)
    return MirrorWorker(mirror, mcfg.sync_period_s, url=shown).start()
