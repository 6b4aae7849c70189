"""EventStore: idempotent writes, visit snapshots, atomic flushes, damaged files."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mcvision.analytics.store import EventStore, StoreError
from mcvision.types import Event, Records, TrackPoint, Visit, ZoneVisit

SITE = "s1"
DAY = "2026-01-05"
DAY2 = "2026-01-06"


def batch(day: str = DAY, n: int = 3, start: int = 0) -> Records:
    """n events, n visit snapshots, n zone visits, 2n track points of one day."""
    recs = Records()
    for i in range(start, start + n):
        gid, vid = f"G{i}", f"V{day}-{i}"
        recs.events.append(
            Event(
                kind="visit_open",
                ts=100.0 + i,
                day=day,
                site_id=SITE,
                global_id=gid,
                visit_id=vid,
                payload={"i": i},
            )
        )
        recs.visits.append(
            Visit(vid, SITE, day, gid, in_ts=100.0 + i, out_ts=160.0 + i, cameras=("c1",))
        )
        recs.zone_visits.append(
            ZoneVisit(
                f"Z{vid}",
                SITE,
                day,
                gid,
                vid,
                "till",
                enter_ts=110.0 + i,
                exit_ts=120.0 + i,
                closed=True,
            )
        )
        for t in (0.0, 1.0):
            recs.track_points.append(
                TrackPoint(SITE, day, "c1", gid, vid, ts=100.0 + i + t, x=0.5, y=0.5)
            )
    return recs


def counts(store: EventStore, day: str | None = None) -> dict[str, int]:
    return {t: store.count(t, day) for t in ("events", "visits", "zone_visits", "track_points")}


def test_empty_store_reads_empty(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "nothing", SITE)
    assert store.days() == []
    assert counts(store) == {"events": 0, "visits": 0, "zone_visits": 0, "track_points": 0}
    assert counts(store, DAY) == {"events": 0, "visits": 0, "zone_visits": 0, "track_points": 0}
    assert store.sql("SELECT * FROM cameras") == []


@pytest.mark.parametrize("how", ["same_flush", "two_flushes", "two_instances"])
def test_same_batch_twice_is_stored_once(tmp_path: Path, how: str) -> None:
    store = EventStore(tmp_path, SITE)
    store.write(batch(n=4))
    if how == "same_flush":
        store.write(batch(n=4))
        store.flush()
    elif how == "two_flushes":
        store.flush()
        store.write(batch(n=4))
        assert store.flush() == []  # the same rows map to the same existing file
    else:
        store.flush()
        other = EventStore(tmp_path, SITE)
        other.write(batch(n=4))
        other.flush()
    assert counts(store, DAY) == {"events": 4, "visits": 4, "zone_visits": 4, "track_points": 8}
    assert len(store.files("events", DAY)) == 1


def test_overlapping_batches_dedupe_at_read(tmp_path: Path) -> None:
    store = EventStore(tmp_path, SITE)
    store.write(batch(n=3))
    store.flush()
    store.write(batch(n=3, start=1))  # G1, G2 again, G3 new
    store.flush()
    assert len(store.files("events", DAY)) == 2
    assert counts(store, DAY) == {"events": 4, "visits": 4, "zone_visits": 4, "track_points": 8}


def test_partitions_by_day_on_disk(tmp_path: Path) -> None:
    store = EventStore(tmp_path, SITE)
    store.write(batch(DAY, n=2).extend(batch(DAY2, n=5)))
    written = store.flush()
    assert len(written) == 8  # 4 tables x 2 days
    assert {p.parent.name for p in written} == {f"day={DAY}", f"day={DAY2}"}
    assert all(p.name.startswith("part-") and p.suffix == ".parquet" for p in written)
    assert not list(tmp_path.rglob("*.tmp"))
    assert store.days() == [DAY, DAY2]
    assert counts(store, DAY)["visits"] == 2
    assert counts(store, DAY2)["visits"] == 5
    assert counts(store)["visits"] == 7
    assert store.sql("SELECT DISTINCT day FROM events ORDER BY day") == [
        {"day": DAY},
        {"day": DAY2},
    ]


def test_lists_and_payload_round_trip(tmp_path: Path) -> None:
    store = EventStore(tmp_path, SITE)
    v = Visit("v1", SITE, DAY, "G1", 0.0, 5.0, cameras=("c1", "c2"), zones=("a", "b"))
    e = Event(kind="alert", ts=3.0, day=DAY, site_id=SITE, payload={"k": [1, 2], "s": "x"})
    store.write(Records(events=[e], visits=[v]))
    store.flush()
    (row,) = store.sql("SELECT cameras, zones, dwell_s FROM visits")
    assert row == {"cameras": ["c1", "c2"], "zones": ["a", "b"], "dwell_s": 5.0}
    (ev,) = store.sql("SELECT payload, event_id FROM events")
    assert ev == {"payload": '{"k": [1, 2], "s": "x"}', "event_id": e.event_id}


@pytest.mark.parametrize(
    ("snapshots", "expected"),
    [
        # (out_ts, closed) in write order → (out_ts, closed) kept
        ([(30.0, False), (90.0, True)], (90.0, True)),
        ([(90.0, True), (30.0, False)], (90.0, True)),  # late open snapshot loses
        ([(30.0, False), (60.0, False), (45.0, False)], (60.0, False)),
        ([(200.0, False), (90.0, True)], (90.0, True)),  # closed beats a larger open
        ([(80.0, True), (95.0, True)], (95.0, True)),
    ],
)
def test_visit_snapshots_keep_latest(
    tmp_path: Path, snapshots: list[tuple[float, bool]], expected: tuple[float, bool]
) -> None:
    store = EventStore(tmp_path, SITE)
    for out_ts, closed in snapshots:  # one flush per snapshot: separate files
        store.write(Records(visits=[Visit("v1", SITE, DAY, "G1", 0.0, out_ts, closed=closed)]))
        store.write(
            Records(
                zone_visits=[
                    ZoneVisit("z1", SITE, DAY, "G1", "v1", "till", 0.0, out_ts, closed=closed)
                ]
            )
        )
        store.flush()
    assert store.sql("SELECT out_ts, closed, dwell_s FROM visits") == [
        {"out_ts": expected[0], "closed": expected[1], "dwell_s": expected[0]}
    ]
    assert store.sql("SELECT exit_ts, closed FROM zone_visits") == [
        {"exit_ts": expected[0], "closed": expected[1]}
    ]


def test_cameras_view_keeps_latest_status(tmp_path: Path) -> None:
    store = EventStore(tmp_path, SITE)
    evs = [
        Event(kind="camera_offline", ts=10.0, day=DAY, site_id=SITE, camera_id="c1"),
        Event(kind="camera_online", ts=20.0, day=DAY, site_id=SITE, camera_id="c1"),
        Event(kind="camera_offline", ts=15.0, day=DAY, site_id=SITE, camera_id="c2"),
    ]
    store.write(Records(events=evs))
    store.flush()
    rows = store.sql("SELECT camera_id, online, ts FROM cameras ORDER BY camera_id", day=DAY)
    assert rows == [
        {"camera_id": "c1", "online": True, "ts": 20.0},
        {"camera_id": "c2", "online": False, "ts": 15.0},
    ]


@pytest.mark.parametrize(
    ("records", "message"),
    [
        (Records(visits=[Visit("v9", "other", DAY, "G", 0.0, 1.0)]), "site_id 'other'"),
        (Records(visits=[Visit("v9", SITE, "2026-13-01", "G", 0.0, 1.0)]), "v9: day must"),
        (Records(visits=[Visit("v9", SITE, DAY, "G", 5.0, 1.0)]), "out_ts 1.0 is before"),
        (
            Records(
                events=[Event(kind="x", ts=float("nan"), day=DAY, site_id=SITE, event_id="e9")]
            ),
            "e9 (x): ts must be a finite",
        ),
        (
            Records(
                events=[
                    Event(
                        kind="x",
                        ts=1.0,
                        day=DAY,
                        site_id=SITE,
                        event_id="e9",
                        payload={"o": object()},
                    )
                ]
            ),
            "payload is not JSON",
        ),
        (
            Records(track_points=[TrackPoint(SITE, "05-01-2026", "c1", "G", "v", 1.0, 0.1, 0.1)]),
            "track point c1/G@1.0: day must",
        ),
    ],
)
def test_bad_record_rejected_and_existing_data_kept(
    tmp_path: Path, records: Records, message: str
) -> None:
    store = EventStore(tmp_path, SITE)
    store.write(batch(n=2))
    store.flush()
    before = sorted(p.read_bytes() for p in store.files())
    store.write(batch(n=3, start=10))  # good rows buffered before the bad batch
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        store.write(records)
    assert store.pending == 3 * 5  # the bad batch added nothing
    assert sorted(p.read_bytes() for p in store.files()) == before
    store.flush()
    assert counts(store, DAY)["events"] == 5


def _corrupt(store: EventStore, table: str, day: str, data: bytes) -> Path:
    (path,) = store.files(table, day)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_file_named_and_other_day_reads(tmp_path: Path, damage: str) -> None:
    store = EventStore(tmp_path, SITE)
    store.write(batch(DAY, n=2).extend(batch(DAY2, n=3)))
    store.flush()
    (good,) = store.files("visits", DAY)
    data = b"not parquet at all" * 20 if damage == "garbage" else good.read_bytes()[:-30]
    bad = _corrupt(store, "visits", DAY, data)
    with pytest.raises(StoreError, match=str(bad)):
        store.count("visits", DAY)
    with pytest.raises(StoreError, match=str(bad)):
        store.count("events")  # all days: the damaged day is in scope
    assert counts(store, DAY2) == {"events": 3, "visits": 3, "zone_visits": 3, "track_points": 6}
    with pytest.raises(StoreError, match=str(bad)):
        store.count("events", DAY)  # a damaged file breaks its whole day, every table


def test_compact_merges_files_and_keeps_answers(tmp_path: Path) -> None:
    store = EventStore(tmp_path, SITE)
    for k, (out_ts, closed) in enumerate([(30.0, False), (90.0, True), (40.0, False)]):
        store.write(batch(n=3, start=k))
        store.write(Records(visits=[Visit("v1", SITE, DAY, "G1", 0.0, out_ts, closed=closed)]))
        store.flush()
    store.write(batch(DAY2, n=2))
    store.flush()
    q = "SELECT visit_id, out_ts, closed FROM visits ORDER BY visit_id"
    before, before_counts = store.sql(q), counts(store)
    assert len(store.files("visits", DAY)) == 3
    assert store.compact(DAY) == 4 * 3  # three files per table replaced by one
    assert [len(store.files(t, DAY)) for t in ("events", "visits", "zone_visits")] == [1, 1, 1]
    assert len(store.files("visits", DAY2)) == 1
    assert store.sql(q) == before
    assert counts(store) == before_counts
    assert store.sql("SELECT out_ts FROM visits WHERE visit_id = 'v1'") == [{"out_ts": 90.0}]
    assert store.compact() == 0  # already compact


def test_sql_error_is_not_blamed_on_files(tmp_path: Path) -> None:
    store = EventStore(tmp_path, SITE)
    store.write(batch(n=1))
    store.flush()
    import duckdb

    with pytest.raises(duckdb.Error, match="no_such_column"):
        store.sql("SELECT no_such_column FROM visits")


@pytest.mark.parametrize("day", ["2026-1-5", "yesterday", "2026-02-30"])
def test_bad_day_scope(tmp_path: Path, day: str) -> None:
    with pytest.raises(ValueError, match="day must be"):
        EventStore(tmp_path, SITE).count("events", day)


READER = textwrap.dedent(
    """
    import sys, pathlib
    from mcvision.analytics.store import EventStore
    root, day, stop = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
    store = EventStore(root, "s1")
    print("ready", flush=True)
    while True:
        done = stop.exists()
        n = store.count("events", day)
        v = store.count("visits", day)
        print(n, v, flush=True)
        if done:
            break
    """
)


def test_reader_process_sees_whole_flushes_only(tmp_path: Path) -> None:
    root, stop = tmp_path / "store", tmp_path / "stop"
    proc = subprocess.Popen(
        [sys.executable, "-c", READER, str(root), DAY, str(stop)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        store = EventStore(root, SITE)
        flushes, per = 25, 8
        for k in range(flushes):
            store.write(batch(n=per, start=k * per))
            store.flush()
            if k in (8, 16):
                store.compact(DAY)  # removes files the reader may have listed
        stop.touch()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    pairs = [tuple(map(int, line.split())) for line in out.strip().splitlines()]
    assert len(pairs) >= 2
    assert pairs[-1] == (flushes * per, flushes * per)
    for n, v in pairs:
        assert n % per == 0 and v % per == 0, (n, v)
    events = [n for n, _ in pairs]
    assert events == sorted(events)


def test_rewrite_file_replaces_rows_atomically(tmp_path: Path) -> None:
    store = EventStore(tmp_path, SITE)
    store.write(batch(n=3))
    store.flush()
    [f] = store.files("events", DAY)
    rows = pq.ParquetFile(f).read().to_pylist()
    for r in rows:
        r["global_id"] = "erased"
    new = store.rewrite_file("events", f, rows)
    assert new != f and not f.exists() and store.files("events", DAY) == [new]
    assert store.sql("SELECT DISTINCT global_id FROM events") == [{"global_id": "erased"}]
    assert store.count("events") == 3


@pytest.mark.parametrize(
    ("table", "where", "message"),
    [
        ("nope", "events/day=2026-01-05/x.parquet", "unknown table"),
        ("events", "visits/day=2026-01-05/x.parquet", "not a day file"),
        ("events", "events/x.parquet", "not a day file"),
    ],
)
def test_rewrite_file_rejects_foreign_paths(
    tmp_path: Path, table: str, where: str, message: str
) -> None:
    store = EventStore(tmp_path, SITE)
    with pytest.raises(StoreError, match=message):
        store.rewrite_file(table, store.root / where, [])
