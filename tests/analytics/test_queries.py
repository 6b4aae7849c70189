"""Queries over a hand-built store: expected numbers are computed from the same fixture rows."""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import pendulum
import pytest

from mcvision.analytics import queries as q
from mcvision.analytics.store import EventStore
from mcvision.business_day import BusinessCalendar
from mcvision.types import Event, Records, TrackPoint, Visit, ZoneVisit

SITE = "shop"
DAY = "2026-03-10"
CAL = BusinessCalendar("00:00", "Asia/Kolkata")
T0 = CAL.day_start(DAY)
H = 3600.0

# visit_id, global_id, in (h after day start), out (h), closed, returning, staff
VISITS = [
    ("V1", "G1", 9.10, 9.60, True, False, False),
    ("V2", "G2", 9.50, 11.25, True, True, False),
    ("V3", "G3", 10.00, 10.40, False, False, False),
    ("V4", "G1", 14.00, 14.30, True, False, False),
    ("V5", "S1", 8.00, 18.00, True, False, True),
    ("V6", "G4", 17.75, 18.10, True, False, False),
]
# visit_id, zone, enter (s after the visit's in_ts), exit (s), closed
ZONES = [
    ("V1", "A", 10, 40, True),
    ("V1", "B", 45, 55, True),
    ("V1", "A", 56, 58, True),
    ("V2", "A", 10, 100, True),
    ("V2", "A", 120, 150, True),
    ("V2", "B", 200, 260, True),
    ("V3", "A", 5, 30, False),
    ("V4", "A", 0, 20, True),
    ("V4", "B", 30, 90, True),
    ("V5", "B", 0, 1000, True),
    ("V6", "C", 0, 7, True),
]
# visit_id, camera, t (s after in_ts), x, y
POINTS = [
    ("V1", "c1", 0, 0.0, 0.0),
    ("V1", "c1", 1, 0.99, 0.5),
    ("V1", "c1", 2, 1.0, 1.0),
    ("V1", "c2", 5, 0.2, 0.2),
    ("V1", "c2", 6, 0.2, 0.25),
    ("V1", "c1", 30, 0.5, 0.5),
    ("V2", "c1", 0, 0.5, 0.5),
    ("V2", "c2", 3, 0.7, 0.1),
    ("V4", "c1", 0, 0.03, 0.97),
    ("V4", "c1", 1, 0.04, 0.96),
    ("V4", "c2", 9, 0.6, 0.6),
    ("V5", "c1", 0, 0.5, 0.5),
    ("V5", "c2", 4, 0.5, 0.5),
]

BY_ID = {v[0]: v for v in VISITS}


def in_ts(vid: str) -> float:
    return T0 + BY_ID[vid][2] * H


def build() -> Records:
    recs = Records()
    for vid, gid, i, o, closed, ret, staff in VISITS:
        if closed:  # an earlier open snapshot too: the closed one must win
            recs.visits.append(
                Visit(
                    vid,
                    SITE,
                    DAY,
                    gid,
                    T0 + i * H,
                    T0 + (i + o) / 2 * H,
                    returning=ret,
                    is_staff=staff,
                )
            )
        recs.visits.append(
            Visit(
                vid,
                SITE,
                DAY,
                gid,
                T0 + i * H,
                T0 + o * H,
                cameras=("c1",),
                zones=(),
                returning=ret,
                is_staff=staff,
                closed=closed,
            )
        )
        recs.events.append(
            Event(
                kind="visit_open", ts=T0 + i * H, day=DAY, site_id=SITE, global_id=gid, visit_id=vid
            )
        )
        if closed:
            recs.events.append(
                Event(
                    kind="visit_close",
                    ts=T0 + o * H,
                    day=DAY,
                    site_id=SITE,
                    global_id=gid,
                    visit_id=vid,
                )
            )
    for n, (vid, zone, a, b, closed) in enumerate(ZONES):
        gid = BY_ID[vid][1]
        recs.zone_visits.append(
            ZoneVisit(
                f"Z{n}",
                SITE,
                DAY,
                gid,
                vid,
                zone,
                in_ts(vid) + a,
                in_ts(vid) + b,
                cameras=("c1",),
                closed=closed,
            )
        )
        recs.events.append(
            Event(
                kind="zone_enter",
                ts=in_ts(vid) + a,
                day=DAY,
                site_id=SITE,
                global_id=gid,
                visit_id=vid,
                zone=zone,
            )
        )
    for vid, cam, t, x, y in POINTS:
        recs.track_points.append(
            TrackPoint(SITE, DAY, cam, BY_ID[vid][1], vid, in_ts(vid) + t, x, y)
        )
    return recs


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> EventStore:
    s = EventStore(tmp_path_factory.mktemp("store"), SITE)
    recs = build()
    half = len(recs.visits) // 2  # two flushes, one snapshot overlap
    s.write(Records(visits=recs.visits[: half + 1]))
    s.flush()
    s.write(recs)
    s.flush()
    return s


def customers(include_staff: bool = False) -> list[tuple[Any, ...]]:
    return [v for v in VISITS if include_staff or not v[6]]


@pytest.mark.parametrize("include_staff", [False, True])
def test_day_summary(store: EventStore, include_staff: bool) -> None:
    vs = customers(include_staff)
    closed = [(o - i) * H for _, _, i, o, c, _, _ in vs if c]
    s = q.day_summary(store, DAY, include_staff=include_staff)
    assert s.visits == s.in_count == len(vs)
    assert s.unique_visitors == len({v[1] for v in vs})
    assert s.open_visits == sum(not v[4] for v in vs)
    assert s.closed_visits == s.out_count == len(closed)
    assert s.dwell_mean_s == pytest.approx(statistics.mean(closed))
    assert s.dwell_median_s == pytest.approx(statistics.median(closed))
    assert s.dwell_p90_s == pytest.approx(float(np.percentile(closed, 90)))
    assert s.returning_visitors == len({v[1] for v in vs if v[5]})
    assert s.new_visitors == s.unique_visitors - s.returning_visitors
    assert s.staff_visits == 1
    assert s.dwell_basis == "closed visits"


def test_day_summary_of_day_without_data(store: EventStore) -> None:
    s = q.day_summary(store, "2026-03-11")
    assert (s.visits, s.unique_visitors, s.dwell_mean_s, s.dwell_p90_s) == (0, 0, None, None)


def _ids(page: q.VisitPage) -> list[str]:
    return [v.visit_id for v in page.items]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, ["V1", "V2", "V3", "V4", "V6"]),
        ({"include_staff": True}, ["V5", "V1", "V2", "V3", "V4", "V6"]),
        ({"min_dwell_s": 0.4 * H}, [v[0] for v in customers() if v[3] - v[2] >= 0.4 - 1e-9]),
        ({"zone": "B"}, ["V1", "V2", "V4"]),
        ({"zone": "C"}, ["V6"]),
        ({"camera": "c2"}, ["V1", "V2", "V4"]),
        ({"zone": "B", "min_dwell_s": 1.0 * H}, ["V2"]),
        ({"limit": 2, "offset": 1}, ["V2", "V3"]),
        ({"limit": 2, "offset": 10}, []),
    ],
)
def test_list_visits(store: EventStore, kwargs: dict[str, Any], expected: list[str]) -> None:
    page = q.list_visits(store, DAY, **kwargs)
    assert _ids(page) == expected
    if "limit" not in kwargs:
        assert page.total == len(expected)
    else:
        assert page.total == len(customers())


def test_list_visits_rows_are_latest_snapshots(store: EventStore) -> None:
    by_id = {v.visit_id: v for v in q.list_visits(store, DAY, include_staff=True).items}
    for vid, gid, i, o, closed, ret, staff in VISITS:
        v = by_id[vid]
        assert (v.global_id, v.closed, v.returning, v.is_staff) == (gid, closed, ret, staff)
        assert v.dwell_s == pytest.approx((o - i) * H)


def test_visit_timeline(store: EventStore) -> None:
    tl = q.visit_timeline(store, "V1")
    t = in_ts("V1")
    assert tl.visit.visit_id == "V1" and tl.visit.closed
    assert [(z.zone, z.enter_ts - t, z.dwell_s) for z in tl.zone_visits] == [
        (z, a, b - a) for vid, z, a, b, _ in ZONES if vid == "V1"
    ]
    # c1 at 0,1,2 then again at 30 (gap 28 s > 10 s): two sightings; c2 at 5,6
    assert [(s.camera_id, s.start_ts - t, s.end_ts - t, s.points) for s in tl.sightings] == [
        ("c1", 0, 2, 3),
        ("c2", 5, 6, 2),
        ("c1", 30, 30, 1),
    ]
    assert [e.kind for e in tl.events] == ["visit_open"] + ["zone_enter"] * 3 + ["visit_close"]
    starts = [i.start_ts for i in tl.items]
    assert starts == sorted(starts)
    assert len(tl.items) == len(tl.zone_visits) + len(tl.sightings) + len(tl.events)
    assert tl.items[0].type == "event" and tl.items[0].label == "visit_open"
    assert q.visit_timeline(store, "V1", day=DAY, max_gap_s=60).sightings[0].points == 4


def test_visit_timeline_unknown(store: EventStore) -> None:
    with pytest.raises(q.NotFound, match="'V404' not found"):
        q.visit_timeline(store, "V404")
    with pytest.raises(q.NotFound, match="on day 2026-03-11"):
        q.visit_timeline(store, "V1", day="2026-03-11")


@pytest.mark.parametrize("include_staff", [False, True])
def test_zone_stats(store: EventStore, include_staff: bool) -> None:
    keep = {v[0] for v in customers(include_staff)}
    stats = {z.zone: z for z in q.zone_stats(store, DAY, include_staff=include_staff)}
    assert sorted(stats) == sorted({z for vid, z, *_ in ZONES if vid in keep})
    for name, st in stats.items():
        rows = [r for r in ZONES if r[1] == name and r[0] in keep]
        dwell = [b - a for _, _, a, b, c in rows if c]
        assert st.visits == len(rows)
        assert st.open_visits == sum(not r[4] for r in rows)
        assert st.unique_visitors == len({BY_ID[r[0]][1] for r in rows})
        assert st.total_dwell_s == pytest.approx(sum(dwell))
        assert st.mean_dwell_s == pytest.approx(statistics.mean(dwell))
        assert st.median_dwell_s == pytest.approx(statistics.median(dwell))


@pytest.mark.parametrize("bucket", ["1h", "15m", "30min", "2h"])
def test_traffic_buckets(store: EventStore, bucket: str) -> None:
    width = q.parse_bucket(bucket)
    tr = q.traffic(store, CAL, DAY, bucket)
    assert len(tr.buckets) == math.ceil(24 * H / width)
    assert tr.buckets[0].start_ts == T0 and tr.buckets[-1].end_ts == T0 + 24 * H
    vs = customers()
    for b in tr.buckets:
        ins = [T0 + v[2] * H for v in vs]
        outs = [T0 + v[3] * H for v in vs if v[4]]
        assert b.entries == sum(b.start_ts <= t < b.end_ts for t in ins)
        assert b.exits == sum(b.start_ts <= t < b.end_ts for t in outs)
        assert b.occupancy == sum(t < b.end_ts for t in ins) - sum(t < b.end_ts for t in outs)
        assert b.label == CAL.local(b.start_ts).format("HH:mm")
    assert sum(b.entries for b in tr.buckets) == len(vs)
    assert tr.buckets[-1].occupancy == 1  # V3 never closed
    assert tr.buckets[0].label == "00:00" and tr.buckets[0].start_local.endswith("+05:30")


@pytest.mark.parametrize(
    ("day", "hours", "missing", "twice", "late_h"),
    [
        ("2026-03-08", 23, "02:00", None, 1.5),  # 01:30 EST, before the jump to 03:00 EDT
        ("2026-11-01", 25, None, "01:00", 2.5),  # the second 01:30, EST after falling back
    ],
)
def test_traffic_dst_days(
    tmp_path: Path, day: str, hours: int, missing: str | None, twice: str | None, late_h: float
) -> None:
    cal = BusinessCalendar("00:00", "America/New_York")
    start = cal.day_start(day)
    d = pendulum.parse(day)
    in_ = pendulum.datetime(d.year, d.month, d.day, 3, 30, tz="America/New_York").timestamp()
    out = pendulum.datetime(d.year, d.month, d.day, 5, 10, tz="America/New_York").timestamp()
    late = start + late_h * H
    store = EventStore(tmp_path, "ny")
    store.write(
        Records(
            visits=[
                Visit("a", "ny", day, "G1", in_, out, closed=True),
                Visit("b", "ny", day, "G2", late, late + 60, closed=False),
            ]
        )
    )
    store.flush()
    tr = q.traffic(store, cal, day, "1h")
    labels = [b.label for b in tr.buckets]
    assert len(labels) == hours
    assert len(q.traffic(store, cal, day, "15m").buckets) == hours * 4
    if missing:
        assert missing not in labels
    if twice:
        assert labels.count(twice) == 2
        first, second = (b for b in tr.buckets if b.label == twice)
        assert first.start_local.endswith("-04:00") and second.start_local.endswith("-05:00")
    by = {b.start_local: b for b in tr.buckets}
    at = {b.label: b for b in tr.buckets if b.start_ts <= in_ < b.end_ts}
    assert list(at) == ["03:00"] and at["03:00"].entries == 1
    (exit_bucket,) = [b for b in tr.buckets if b.exits]
    assert exit_bucket.label == "05:00"
    (late_bucket,) = [b for b in by.values() if b.start_ts <= late < b.end_ts]
    assert late_bucket.entries == 1
    assert late_bucket.label == "01:00" and late_bucket.start_local.endswith("-05:00")
    assert tr.buckets[-1].occupancy == 1
    assert sum(b.entries for b in tr.buckets) == 2


def test_traffic_noon_reset(store: EventStore) -> None:
    cal = BusinessCalendar("12:00", "Asia/Kolkata")
    tr = q.traffic(store, cal, DAY, "1h")
    assert [b.label for b in tr.buckets[:2]] == ["12:00", "13:00"]
    assert tr.buckets[0].start_local.startswith(f"{DAY}T12:00")


@pytest.mark.parametrize(("grid", "include_staff"), [((32, 18), False), ((4, 2), True)])
def test_heatmap(store: EventStore, grid: tuple[int, int], include_staff: bool) -> None:
    w, h = grid
    keep = {v[0] for v in customers(include_staff)}
    expected = np.zeros((h, w), dtype=int)
    for vid, cam, _, x, y in POINTS:
        if cam == "c1" and vid in keep:
            expected[min(int(y * h), h - 1), min(int(x * w), w - 1)] += 1
    hm = q.heatmap(store, DAY, "c1", grid=grid, include_staff=include_staff)
    assert (hm.width, hm.height) == grid
    assert np.array_equal(np.array(hm.counts), expected)
    assert (
        hm.total == int(expected.sum()) == sum(1 for p in POINTS if p[1] == "c1" and p[0] in keep)
    )
    assert hm.counts[h - 1][w - 1] >= 1  # (1.0, 1.0) lands in the corner cell


def test_camera_path_is_one_persons_points_on_one_camera_in_time_order(store: EventStore) -> None:
    expected = sorted(
        (in_ts(vid) + t, x, y)
        for vid, cam, t, x, y in POINTS
        if cam == "c1" and BY_ID[vid][1] == "G1"  # both of G1's visits (V1 and V4)
    )
    path = q.camera_path(store, DAY, "c1", "G1")
    assert path.total == len(expected) == 6
    assert [(p.ts, p.x, p.y) for p in path.points] == expected
    thin = q.camera_path(store, DAY, "c1", "G1", max_points=3)
    assert thin.total == 6 and len(thin.points) == 3
    assert (thin.points[0].ts, thin.points[-1].ts) == (expected[0][0], expected[-1][0])
    assert q.camera_path(store, DAY, "c2", "G3").points == []  # never on c2
    assert q.camera_path(store, "2026-03-11", "c1", "G1").total == 0


def test_heatmap_unknown_camera_is_empty(store: EventStore) -> None:
    assert q.heatmap(store, DAY, "nope", grid=(3, 2)).counts == [[0, 0, 0], [0, 0, 0]]


def _collapse(seq: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for s in seq:
        if not out or out[-1] != s:
            out.append(s)
    return tuple(out)


@pytest.mark.parametrize("by", ["zone", "camera"])
@pytest.mark.parametrize("include_staff", [False, True])
def test_top_journeys(store: EventStore, by: str, include_staff: bool) -> None:
    keep = {v[0] for v in customers(include_staff)}
    steps: dict[str, list[tuple[float, str]]] = {}
    if by == "zone":
        for vid, z, a, _, _ in ZONES:
            steps.setdefault(vid, []).append((a, z))
    else:
        for vid, cam, t, _, _ in POINTS:
            steps.setdefault(vid, []).append((t, cam))
    paths = [_collapse([s for _, s in sorted(v)]) for vid, v in steps.items() if vid in keep]
    counts: dict[tuple[str, ...], int] = {}
    for p in paths:
        counts[p] = counts.get(p, 0) + 1
    expected = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    got = q.top_journeys(store, DAY, k=10, by=by, include_staff=include_staff)
    assert [(tuple(j.path), j.count) for j in got] == expected
    assert sum(j.share for j in got) == pytest.approx(1.0)
    top1 = q.top_journeys(store, DAY, k=1, by=by, include_staff=include_staff)
    assert [(tuple(j.path), j.count) for j in top1] == expected[:1]


def test_journeys_collapse_repeats(store: EventStore) -> None:
    paths = {tuple(j.path): j.count for j in q.top_journeys(store, DAY, by="zone")}
    assert paths[("A", "B")] == 2  # V2: A, A, B and V4: A, B
    assert paths[("A", "B", "A")] == 1  # V1: the return to A is kept
    cams = {tuple(j.path): j.count for j in q.top_journeys(store, DAY, by="camera")}
    assert cams[("c1", "c2", "c1")] == 1 and cams[("c1", "c2")] == 2


@pytest.mark.parametrize("include_staff", [False, True])
def test_new_vs_returning(store: EventStore, include_staff: bool) -> None:
    vs = customers(include_staff)
    people = {v[1] for v in vs}
    ret = {v[1] for v in vs if v[5]}
    r = q.new_vs_returning(store, DAY, include_staff=include_staff)
    assert (r.visitors, r.returning_visitors, r.new_visitors) == (
        len(people),
        len(ret),
        len(people - ret),
    )
    assert r.returning_share == pytest.approx(len(ret) / len(people))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: q.day_summary(s, "2026-3-10"), "day must be a date YYYY-MM-DD"),
        (lambda s: q.day_summary(s, "2026-02-30"), "real calendar date"),
        (lambda s: q.list_visits(s, DAY, min_dwell_s=-1), "min_dwell_s must be >= 0"),
        (lambda s: q.list_visits(s, DAY, min_dwell_s=float("nan")), "min_dwell_s"),
        (lambda s: q.list_visits(s, DAY, limit=0), "limit must be in 1..10000"),
        (lambda s: q.list_visits(s, DAY, offset=-5), "offset must be >= 0"),
        (lambda s: q.list_visits(s, DAY, zone=""), "zone must be a non-empty"),
        (lambda s: q.traffic(s, CAL, DAY, "7x"), "bucket must be a length like"),
        (lambda s: q.traffic(s, CAL, DAY, "0m"), "between 1m and 24h"),
        (lambda s: q.traffic(s, CAL, DAY, "25h"), "between 1m and 24h"),
        (lambda s: q.heatmap(s, DAY, "c1", grid=(0, 5)), "grid columns must be in 1..1024"),
        (lambda s: q.heatmap(s, DAY, "c1", grid=(5,)), r"grid must be \(columns, rows\)"),
        (lambda s: q.heatmap(s, DAY, ""), "camera_id must be a non-empty"),
        (lambda s: q.camera_path(s, DAY, "c1", ""), "global_id must be a non-empty"),
        (lambda s: q.camera_path(s, DAY, "c1", "G1", max_points=1), "max_points must be in"),
        (lambda s: q.top_journeys(s, DAY, k=0), "k must be in 1..1000"),
        (lambda s: q.top_journeys(s, DAY, by="floor"), "by must be 'zone' or 'camera'"),
        (lambda s: q.visit_timeline(s, "V1", max_gap_s=0), "max_gap_s must be > 0"),
    ],
)
def test_bad_parameters(store: EventStore, call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(store)
