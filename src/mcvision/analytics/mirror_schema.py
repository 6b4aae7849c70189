"""The relational mirror's tables (SQLAlchemy Core) and their versioned migrations.

The mirror copies the Parquet event store (:mod:`mcvision.analytics.store`) into
MySQL/MariaDB or PostgreSQL for BI tools. Every table carries ``site_id``, so
several sites can share one database. Times come three ways so that BI tools
need no date maths: UTC epoch seconds (``*_ts``, DOUBLE), the business day
(``day``, DATE, the site's reset time and time zone) and the local wall time
(``*_local``, ``YYYY-MM-DD HH:MM:SS`` in the site time zone; in the repeated
hour of a DST change two instants share a string, the epoch tells them apart).

Tables (primary key first):

- ``visits`` (visit_id): one row per visit, its latest snapshot (an open
  visit's row is replaced as it grows; closed beats open); ``merged_into`` set:
  a tombstone, not a visit (leave it out). ``dwell_s`` =
  ``out_ts - in_ts``; ``cameras``/``zones`` are JSON arrays; ``in_hour`` is
  the local hour of arrival (0-23).
- ``zone_visits`` (zone_visit_id): one stay of a visit in a zone, latest snapshot;
  ``enter_hour`` local hour of entry.
- ``activity_intervals`` (interval_id): one stretch of one activity (walking,
  browsing ...) of a visit, latest snapshot.
- ``events`` (event_id): the event log (visit opened/closed, zone entered ...),
  ``payload`` JSON text.
- ``traffic`` (site_id, day, bucket_start_ts): customers (staff excluded) entering,
  leaving and inside per one-hour bucket of the business day, as ``/api/v1/traffic``.
- ``daily_summary`` (site_id, day): the day's headline numbers (customers), as
  ``mcvision report``.
- ``cameras`` (site_id, camera_id): each camera's latest online/offline event.
- ``mirror_watermarks`` (site_id, source): how far each source table of the store
  has been copied (the newest file modification time), so a restart resumes.
- ``schema_version`` (version): the migrations applied, newest = current schema.

``snapshot_rank`` orders snapshots exactly like the store's views do (their
``latest=`` orderings: closed first, then the later end, ..., then the later
``corrected_at``, then the earlier start): an upsert replaces a row only by one
that ranks at least as high, so replaying an old batch never takes a row back and
the mirror keeps the snapshot the store shows.

Late identity correction (:mod:`mcvision.identity.correction`): a rewritten row
carries ``corrected_at`` (``corrected_local``); a superseded visit or zone visit
is kept as a *tombstone* row with ``merged_into`` set (the ``visit_id`` /
``zone_visit_id`` that absorbed it). The store's views hide tombstones; in the
mirror every reader filters ``merged_into IS NULL``, as the derived tables,
:mod:`mcvision.analytics.mirror_read` and the README's queries do.

Migrations are numbered; :func:`migrate` applies the missing ones in order, each
in its own transaction where the database allows, and records it in
``schema_version``. Version 1 creates the tables; version 2 adds the local hour
columns (``visits.in_hour``, ``zone_visits.enter_hour``) and fills them from the
local time strings already there, so an existing database upgrades in place;
version 3 adds the correction columns (see :func:`_v3`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "TABLES",
    "current_version",
    "metadata",
    "migrate",
]

ID = sa.String(64)
NAME = sa.String(200)
LOCAL = sa.String(19)
RANK = sa.String(64)
RANK_V3 = sa.String(128)  # the snapshot tables' ranks since version 3 (corrected_at in them)

metadata = sa.MetaData()


visits = sa.Table(
    "visits",
    metadata,
    sa.Column("visit_id", ID, primary_key=True, comment="stable visit ID (same as the store)"),
    sa.Column("site_id", ID, nullable=False, index=True),
    sa.Column("day", sa.Date, nullable=False, index=True, comment="business day"),
    sa.Column("global_id", ID, nullable=False, index=True, comment="the person's ID that day"),
    sa.Column("in_ts", sa.Double, nullable=False, comment="arrival, epoch seconds UTC"),
    sa.Column("out_ts", sa.Double, nullable=False, comment="departure (open: last seen)"),
    sa.Column("in_local", LOCAL, nullable=False, comment="arrival, local time"),
    sa.Column("out_local", LOCAL, nullable=False, comment="departure, local time"),
    sa.Column("in_hour", sa.SmallInteger, nullable=True, comment="local hour of arrival 0-23"),
    sa.Column("dwell_s", sa.Double, nullable=False, comment="out_ts - in_ts"),
    sa.Column("cameras", sa.Text, nullable=False, comment="JSON array of camera IDs"),
    sa.Column("zones", sa.Text, nullable=False, comment="JSON array of zone names"),
    sa.Column("in_source", sa.String(32), nullable=False),
    sa.Column("out_source", sa.String(32), nullable=False),
    sa.Column("is_returning", sa.Boolean, nullable=False, comment="a returning customer"),
    sa.Column("is_staff", sa.Boolean, nullable=False),
    sa.Column("closed", sa.Boolean, nullable=False, comment="false while the visit is open"),
    sa.Column(
        "corrected_at",
        sa.Double,
        nullable=True,
        comment="set: rewritten by a late identity correction at this time",
    ),
    sa.Column("corrected_local", LOCAL, nullable=True, comment="corrected_at, local time"),
    sa.Column(
        "merged_into",
        ID,
        nullable=True,
        comment="set: a tombstone, absorbed into this visit_id (count only NULL rows)",
    ),
    sa.Column("snapshot_rank", RANK_V3, nullable=False),
    sa.Column("synced_ts", sa.Double, nullable=False, comment="when the mirror wrote the row"),
)

zone_visits = sa.Table(
    "zone_visits",
    metadata,
    sa.Column("zone_visit_id", ID, primary_key=True),
    sa.Column("site_id", ID, nullable=False, index=True),
    sa.Column("day", sa.Date, nullable=False, index=True),
    sa.Column("visit_id", ID, nullable=False, index=True),
    sa.Column("global_id", ID, nullable=False),
    sa.Column("zone", NAME, nullable=False),
    sa.Column("enter_ts", sa.Double, nullable=False),
    sa.Column("exit_ts", sa.Double, nullable=False),
    sa.Column("enter_local", LOCAL, nullable=False),
    sa.Column("exit_local", LOCAL, nullable=False),
    sa.Column("enter_hour", sa.SmallInteger, nullable=True, comment="local hour of entry 0-23"),
    sa.Column("dwell_s", sa.Double, nullable=False, comment="exit_ts - enter_ts"),
    sa.Column("cameras", sa.Text, nullable=False, comment="JSON array of camera IDs"),
    sa.Column("closed", sa.Boolean, nullable=False),
    sa.Column("corrected_at", sa.Double, nullable=True),
    sa.Column("corrected_local", LOCAL, nullable=True),
    sa.Column(
        "merged_into",
        ID,
        nullable=True,
        comment="set: a tombstone, absorbed into this zone_visit_id",
    ),
    sa.Column("snapshot_rank", RANK_V3, nullable=False),
    sa.Column("synced_ts", sa.Double, nullable=False),
)

activity_intervals = sa.Table(
    "activity_intervals",
    metadata,
    sa.Column("interval_id", ID, primary_key=True),
    sa.Column("site_id", ID, nullable=False, index=True),
    sa.Column("day", sa.Date, nullable=False, index=True),
    sa.Column("visit_id", ID, nullable=True, index=True),
    sa.Column("global_id", ID, nullable=False),
    sa.Column("activity", sa.String(32), nullable=False),
    sa.Column("zone", NAME, nullable=True, comment="NULL: outside every zone"),
    sa.Column("camera_id", ID, nullable=True),
    sa.Column("start_ts", sa.Double, nullable=False),
    sa.Column("end_ts", sa.Double, nullable=False),
    sa.Column("start_local", LOCAL, nullable=False),
    sa.Column("end_local", LOCAL, nullable=False),
    sa.Column("dwell_s", sa.Double, nullable=False, comment="end_ts - start_ts"),
    sa.Column("closed", sa.Boolean, nullable=False),
    sa.Column(
        "corrected_at",
        sa.Double,
        nullable=True,
        comment="set: relabelled (global_id, visit_id) by a late identity correction",
    ),
    sa.Column("corrected_local", LOCAL, nullable=True),
    sa.Column("snapshot_rank", RANK_V3, nullable=False),
    sa.Column("synced_ts", sa.Double, nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("event_id", ID, primary_key=True),
    sa.Column("site_id", ID, nullable=False, index=True),
    sa.Column("day", sa.Date, nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("ts", sa.Double, nullable=False),
    sa.Column("ts_local", LOCAL, nullable=False),
    sa.Column("global_id", ID, nullable=True),
    sa.Column("camera_id", ID, nullable=True),
    sa.Column("visit_id", ID, nullable=True, index=True),
    sa.Column("zone", NAME, nullable=True),
    sa.Column("payload", sa.Text, nullable=False, comment="JSON object"),
    sa.Column("snapshot_rank", RANK, nullable=False),
    sa.Column("synced_ts", sa.Double, nullable=False),
)

traffic = sa.Table(
    "traffic",
    metadata,
    sa.Column("site_id", ID, primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("bucket_start_ts", sa.Double, primary_key=True),
    sa.Column("bucket_end_ts", sa.Double, nullable=False),
    sa.Column("start_local", sa.String(32), nullable=False, comment="ISO 8601 with offset"),
    sa.Column("label", sa.String(5), nullable=False, comment="local HH:MM of the bucket start"),
    sa.Column("entries", sa.Integer, nullable=False),
    sa.Column("exits", sa.Integer, nullable=False),
    sa.Column("occupancy", sa.Integer, nullable=False, comment="inside at the bucket end"),
    sa.Column("synced_ts", sa.Double, nullable=False),
)

daily_summary = sa.Table(
    "daily_summary",
    metadata,
    sa.Column("site_id", ID, primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("unique_visitors", sa.Integer, nullable=False),
    sa.Column("visits", sa.Integer, nullable=False),
    sa.Column("open_visits", sa.Integer, nullable=False),
    sa.Column("closed_visits", sa.Integer, nullable=False),
    sa.Column("dwell_mean_s", sa.Double, nullable=True, comment="closed visits"),
    sa.Column("dwell_median_s", sa.Double, nullable=True),
    sa.Column("dwell_p90_s", sa.Double, nullable=True),
    sa.Column("returning_visitors", sa.Integer, nullable=False),
    sa.Column("new_visitors", sa.Integer, nullable=False),
    sa.Column("staff_visits", sa.Integer, nullable=False),
    sa.Column("synced_ts", sa.Double, nullable=False),
)

cameras = sa.Table(
    "cameras",
    metadata,
    sa.Column("site_id", ID, primary_key=True),
    sa.Column("camera_id", ID, primary_key=True),
    sa.Column("online", sa.Boolean, nullable=False),
    sa.Column("ts", sa.Double, nullable=False, comment="of the latest online/offline event"),
    sa.Column("ts_local", LOCAL, nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("snapshot_rank", RANK, nullable=False),
    sa.Column("synced_ts", sa.Double, nullable=False),
)

mirror_watermarks = sa.Table(
    "mirror_watermarks",
    metadata,
    sa.Column("site_id", ID, primary_key=True),
    sa.Column("source", sa.String(32), primary_key=True, comment="store table"),
    sa.Column("mtime_ns", sa.BigInteger, nullable=False, comment="newest file copied"),
    sa.Column("files_copied", sa.BigInteger, nullable=False),
    sa.Column("rows_copied", sa.BigInteger, nullable=False),
    sa.Column("updated_ts", sa.Double, nullable=False),
)

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.String(200), nullable=False),
    sa.Column("applied_ts", sa.Double, nullable=False),
)

TABLES: dict[str, sa.Table] = {
    t.name: t
    for t in (visits, zone_visits, activity_intervals, events, traffic, daily_summary, cameras)
}

# Columns added after version 1 (left out when version 1 is created).
_V2_COLUMNS = {("visits", "in_hour"), ("zone_visits", "enter_hour")}
_V3_COLUMNS = {
    ("visits", "corrected_at"),
    ("visits", "corrected_local"),
    ("visits", "merged_into"),
    ("zone_visits", "corrected_at"),
    ("zone_visits", "corrected_local"),
    ("zone_visits", "merged_into"),
    ("activity_intervals", "corrected_at"),
    ("activity_intervals", "corrected_local"),
}
_LATER_COLUMNS = _V2_COLUMNS | _V3_COLUMNS
# The store tables whose snapshots version 3 ranks anew (their mirror tables, in order).
_V3_SOURCES = {"visits": "visits", "zone_visits": "zone_visits", "activities": "activity_intervals"}


def _v1(conn: Connection) -> None:
    """Create every table as it was in version 1 (no local hour or correction columns)."""
    md = sa.MetaData()
    for t in [*TABLES.values(), mirror_watermarks]:
        cols = []
        for c in t.columns:
            if (t.name, c.name) in _LATER_COLUMNS:
                continue
            c = c._copy()
            if c.name == "snapshot_rank":
                c.type = RANK
            cols.append(c)
        indexed = [sa.Index(f"ix_{t.name}_{c.name}", c.name) for c in cols if c.index]
        for c in cols:
            c.index = None
        sa.Table(t.name, md, *cols, *indexed)
    md.create_all(conn)


def _hour_from(column: str, dialect: str) -> str:
    cast = "SIGNED" if dialect == "mysql" else "INTEGER"
    return f"CAST(SUBSTRING({column}, 12, 2) AS {cast})"


def _v2(conn: Connection) -> None:
    """Add the local hour columns and fill them from the local time strings."""
    d = conn.dialect.name
    for table, col, source in (
        ("visits", "in_hour", "in_local"),
        ("zone_visits", "enter_hour", "enter_local"),
    ):
        conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {col} SMALLINT NULL"))
        conn.execute(sa.text(f"UPDATE {table} SET {col} = {_hour_from(source, d)}"))


def _v3(conn: Connection) -> None:
    """Add the late-correction columns, widen the ranks, copy those tables' snapshots again.

    Rows stay. The correction columns start NULL and the ranks grow a suffix
    (``corrected_at``, then the earlier start): an old rank is a prefix of the new
    rank of the same snapshot, so every snapshot copied again replaces its own row
    and fills the new columns. Dropping the watermarks of ``visits``,
    ``zone_visits`` and ``activities`` makes the next sync copy them again (a
    tombstone a version-2 mirror took for a visit then gets its ``merged_into``).
    Columns already there (a MySQL run that stopped half way) are skipped.
    """
    d = conn.dialect
    have = {t: {c["name"] for c in sa.inspect(conn).get_columns(t)} for t in _V3_SOURCES.values()}
    for table in _V3_SOURCES.values():
        for col in TABLES[table].columns:
            if (table, col.name) in _V3_COLUMNS and col.name not in have[table]:
                ddl = col.type.compile(dialect=d)
                conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {col.name} {ddl} NULL"))
        wide = RANK_V3.compile(dialect=d)
        if d.name == "postgresql":
            conn.execute(sa.text(f"ALTER TABLE {table} ALTER COLUMN snapshot_rank TYPE {wide}"))
        else:
            conn.execute(
                sa.text(f"ALTER TABLE {table} MODIFY COLUMN snapshot_rank {wide} NOT NULL")
            )
    wm = mirror_watermarks
    conn.execute(wm.delete().where(wm.c.source.in_(list(_V3_SOURCES))))


MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (
        1,
        "tables visits, zone_visits, activity_intervals, events, traffic, daily_summary,"
        " cameras, mirror_watermarks",
        _v1,
    ),
    (2, "local hour columns visits.in_hour, zone_visits.enter_hour", _v2),
    (
        3,
        "late identity correction: corrected_at/corrected_local (visits, zone_visits,"
        " activity_intervals), merged_into (visits, zone_visits), wider snapshot_rank",
        _v3,
    ),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


def current_version(conn: Connection) -> int:
    """The schema version of the database (0: no mirror tables yet)."""
    if not sa.inspect(conn).has_table("schema_version"):
        return 0
    v = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar()
    return int(v or 0)


def migrate(engine: Engine, to: int | None = None) -> int:
    """Bring the database to version ``to`` (default: the newest). Returns the version.

    Each migration runs in a transaction with its ``schema_version`` row (PostgreSQL
    rolls a failed one back whole; MySQL commits DDL as it goes, so a migration is
    written to be re-runnable up to its last statement).

    Raises:
        RuntimeError: the database has a newer schema than this code knows.
    """
    target = SCHEMA_VERSION if to is None else to
    with engine.begin() as conn:
        schema_version.create(conn, checkfirst=True)
        have = current_version(conn)
    if have > SCHEMA_VERSION:
        raise RuntimeError(
            f"the mirror database has schema version {have}, newer than this mcvision's"
            f" {SCHEMA_VERSION}: upgrade mcvision"
        )
    for version, description, step in MIGRATIONS:
        if have < version <= target:
            with engine.begin() as conn:
                step(conn)
                conn.execute(
                    schema_version.insert().values(
                        version=version, description=description, applied_ts=time.time()
                    )
                )
            have = version
    return have
