"""VisitBook: visits, entrance lines, zone hysteresis, track points, daily reset."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import pytest

from mcvision.config import SiteConfig, parse_config
from mcvision.identity.visits import VisitBook
from mcvision.types import (
    Direction,
    EventKind,
    LineCrossing,
    Records,
    TrackletUpdate,
    Visit,
    ZoneVisit,
)

# 2025-11-25 00:00 Asia/Kolkata. Scenario times are seconds after T0, 22:00 the evening before.
MIDNIGHT = 1_764_009_000.0
NOON = MIDNIGHT + 12 * 3600  # 2025-11-25 12:00 Asia/Kolkata
T0 = MIDNIGHT - 2 * 3600
TRI = [[0, 0], [100, 0], [0, 100]]


def make_cfg(reset_time: str = "00:00", **visits: float) -> SiteConfig:
    return parse_config(
        {
            "site_id": "shop",
            "cameras": [
                {
                    "id": "cam1",
                    "source": "entrance.mp4",
                    "zones": [{"name": "shelf", "polygon": TRI}],
                    "lines": [{"name": "door", "points": [[0, 400], [640, 400]]}],
                },
                {
                    "id": "cam2",
                    "source": "aisle.mp4",
                    "zones": [{"name": "shelf", "polygon": TRI}, {"name": "till", "polygon": TRI}],
                },
            ],
            "visits": {
                "absence_timeout_s": 60,
                "zone_enter_s": 2,
                "zone_exit_s": 3,
                "track_point_every_s": 1,
                **visits,
            },
            "reset": {"time": reset_time, "timezone": "Asia/Kolkata"},
        }
    )


def upd(
    t: float,
    cam: str = "cam1",
    zones: Sequence[str] = (),
    crossing: str | None = None,
    foot: tuple[float, float] = (320.0, 240.0),
    frame_size: tuple[int, int] | None = (640, 480),
    ended: bool = False,
    base: float = T0,
) -> TrackletUpdate:
    """A sighting at ``base + t``; ``crossing`` is "in" or "out" through the door line."""
    crossings = () if crossing is None else (LineCrossing("door", Direction(crossing)),)
    x, y = foot
    return TrackletUpdate(
        camera_id=cam,
        local_id=1,
        ts=base + t,
        box=np.array([x - 20, y - 100, x + 20, y], dtype=np.float32),
        foot=np.array(foot, dtype=np.float32),
        zones=tuple(zones),
        crossings=crossings,
        frame_size=frame_size,
        ended=ended,
    )


def feed(book: VisitBook, gid: str, updates: Iterable[TrackletUpdate], out: Records) -> Records:
    for u in updates:
        out.extend(book.observe(gid, u))
    return out


def latest_visits(rec: Records) -> list[Visit]:
    """The store's view: the last snapshot per visit_id, by in_ts."""
    last: dict[str, Visit] = {}
    for v in rec.visits:
        last[v.visit_id] = v
    return sorted(last.values(), key=lambda v: v.in_ts)


def latest_zone_visits(rec: Records) -> list[ZoneVisit]:
    last: dict[str, ZoneVisit] = {}
    for z in rec.zone_visits:
        last[z.zone_visit_id] = z
    return sorted(last.values(), key=lambda z: z.enter_ts)


def kinds(rec: Records, kind: EventKind) -> list:
    return [e for e in rec.events if e.kind == kind]


def span(a: float, b: float, step: float = 0.5) -> list[float]:
    return [float(x) for x in np.arange(a, b + step / 2, step)]


# ---- visits ------------------------------------------------------------------------------


@pytest.mark.parametrize("tick_between", [False, True])
@pytest.mark.parametrize(
    ("gap", "expected"),
    [
        (30.0, [(0, 45)]),  # back well within the 60 s timeout: one visit
        (59.5, [(0, 74.5)]),  # just within
        (60.0, [(0, 10), (70, 75)]),  # unseen for exactly the timeout: closed, re-entry
        (200.0, [(0, 10), (210, 215)]),
    ],
)
def test_absence_timeout_decides_same_visit_or_reentry(
    gap: float, expected: list[tuple[float, float]], tick_between: bool
) -> None:
    book = VisitBook(make_cfg())
    rec = feed(book, "G1", [upd(0), upd(5), upd(10)], Records())
    if tick_between:
        rec.extend(book.tick(T0 + 10 + gap - 0.25))
    feed(book, "G1", [upd(10 + gap), upd(15 + gap)], rec)
    rec.extend(book.close_all(T0 + 1000))

    visits = latest_visits(rec)
    assert [(v.in_ts - T0, v.out_ts - T0) for v in visits] == expected
    assert all(v.closed and v.global_id == "G1" for v in visits)
    assert len({v.visit_id for v in visits}) == len(expected)
    assert len(kinds(rec, EventKind.VISIT_OPEN)) == len(expected)
    assert len(kinds(rec, EventKind.VISIT_CLOSE)) == len(expected)
    if len(expected) == 2:  # the first visit closed on absence, at its last sighting
        assert visits[0].out_source == "sighting"
        assert visits[0].dwell_s == 10


def test_in_and_out_are_first_and_last_sighting_across_cameras() -> None:
    book = VisitBook(make_cfg())
    rec = feed(book, "G1", [upd(t, "cam1") for t in span(0, 20, 1)], Records())
    feed(book, "G1", [upd(t, "cam2") for t in span(18, 50, 1)], rec)
    rec.extend(book.tick(T0 + 109))  # 59 s after the last sighting: still open
    assert book.occupancy() == 1
    rec.extend(book.tick(T0 + 110))

    (v,) = latest_visits(rec)
    assert (v.in_ts - T0, v.out_ts - T0, v.dwell_s) == (0, 50, 50)
    assert v.cameras == ("cam1", "cam2")
    assert (v.closed, v.in_source, v.out_source) == (True, "sighting", "sighting")
    assert v.day == "2025-11-24"
    (opened,) = kinds(rec, EventKind.VISIT_OPEN)
    (closed,) = kinds(rec, EventKind.VISIT_CLOSE)
    assert (opened.ts - T0, opened.camera_id, opened.visit_id) == (0, "cam1", v.visit_id)
    assert (closed.ts - T0, closed.camera_id, closed.payload["dwell_s"]) == (50, "cam2", 50)
    assert book.occupancy() == 0


def test_out_of_order_sighting_never_moves_out_ts_back() -> None:
    book = VisitBook(make_cfg())
    rec = feed(book, "G1", [upd(0), upd(10), upd(20)], Records())
    feed(book, "G1", [upd(17, "cam2")], rec)  # a buffered update, 3 s late
    (live,) = book.open_visits()
    assert (live.in_ts - T0, live.out_ts - T0, live.cameras) == (0, 20, ("cam1", "cam2"))

    rec.extend(book.tick(T0 + 80))  # closes at the last sighting, 20
    feed(book, "G1", [upd(19, "cam2")], rec)  # later than the close, older than out_ts
    assert book.occupancy() == 0  # dropped: it belonged to the closed visit
    (v,) = latest_visits(rec)
    assert (v.out_ts - T0, v.closed) == (20, True)


def test_observe_many_sorts_its_batch_and_late_first_sighting_moves_in() -> None:
    book = VisitBook(make_cfg())
    rec = book.observe_many([("G1", upd(5)), ("G1", upd(1, "cam2")), ("G1", upd(3))])
    (v,) = book.open_visits()
    assert (v.in_ts - T0, v.out_ts - T0) == (1, 5)
    assert kinds(rec, EventKind.VISIT_OPEN)[0].camera_id == "cam2"
    # across calls, a late sighting before in_ts moves in_ts (it was the first sighting)
    rec.extend(book.observe("G1", upd(0.5)))
    assert [(s.in_ts - T0, s.out_ts - T0) for s in rec.visits] == [(1, 1), (0.5, 5)]
    assert rec.visits[0].visit_id == rec.visits[1].visit_id


def test_ended_update_is_not_a_sighting() -> None:
    book = VisitBook(make_cfg())
    rec = feed(book, "G1", [upd(0), upd(5), upd(8, ended=True)], Records())
    rec.extend(book.close_all(T0 + 100))
    (v,) = latest_visits(rec)
    assert (v.in_ts - T0, v.out_ts - T0, v.out_source) == (0, 5, "shutdown")


@pytest.mark.parametrize(
    ("arrivals", "expected"),
    [
        # (global_id, t) in order, then tick times with the occupancy expected after each
        ([("G1", 0), ("G2", 30), ("G3", 50)], [(10, 3), (65, 2), (95, 1), (110, 0)]),
        ([("G1", 0), ("G1", 40), ("G2", 45)], [(50, 2), (100, 1), (105, 0)]),
    ],
)
def test_occupancy_counts_open_visits(
    arrivals: list[tuple[str, float]], expected: list[tuple[float, int]]
) -> None:
    book = VisitBook(make_cfg())
    for gid, t in arrivals:
        book.observe(gid, upd(t))
    assert book.occupancy() == len({g for g, _ in arrivals})
    for now, n in expected:
        book.tick(T0 + now)
        assert book.occupancy() == n
        assert len(book.open_visits()) == n


def test_open_visits_are_live_snapshots_oldest_first() -> None:
    book = VisitBook(make_cfg())
    book.observe("G2", upd(5, "cam2"))
    book.observe("G1", upd(7))
    book.observe("G2", upd(9, "cam1"))
    snaps = book.open_visits()
    assert [(s.global_id, s.in_ts - T0, s.out_ts - T0) for s in snaps] == [
        ("G2", 5, 9),
        ("G1", 7, 7),
    ]
    assert snaps[0].cameras == ("cam1", "cam2")
    assert not any(s.closed for s in snaps)


def test_close_all_closes_everything_at_last_sighting() -> None:
    book = VisitBook(make_cfg())
    rec = feed(book, "G1", [upd(t, "cam2", zones=["till"]) for t in span(0, 10)], Records())
    feed(book, "G2", [upd(t) for t in span(4, 8)], rec)
    rec.extend(book.close_all(T0 + 12, reason="shutdown"))

    visits = latest_visits(rec)
    assert [(v.global_id, v.in_ts - T0, v.out_ts - T0, v.out_source) for v in visits] == [
        ("G1", 0, 10, "shutdown"),
        ("G2", 4, 8, "shutdown"),
    ]
    assert all(v.closed for v in visits)
    assert visits[0].zones == ("till",)
    (z,) = latest_zone_visits(rec)
    assert (z.zone, z.enter_ts - T0, z.exit_ts - T0, z.closed) == ("till", 0, 10, True)
    assert len(kinds(rec, EventKind.VISIT_CLOSE)) == 2
    assert len(kinds(rec, EventKind.ZONE_EXIT)) == 1
    assert book.occupancy() == 0
    assert book.close_all(T0 + 13).visits == []
    # after a shutdown the next sighting is a new visit
    rec2 = book.observe("G1", upd(20))
    assert [(v.in_ts - T0, v.closed) for v in rec2.visits] == [(20, False)]


# ---- entrance lines --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seen_before", "in_ts", "in_source"),
    [
        (None, 30, "line"),  # first seen as it crosses in
        (4, 30, "line"),  # seen outside the door 4 s before crossing: moved to the crossing
        (10, 30, "line"),  # exactly the 10 s window
        (25, 5, "sighting"),  # inside long before the crossing: the crossing changes nothing
    ],
)
def test_inward_crossing_sets_in_ts(
    seen_before: float | None, in_ts: float, in_source: str
) -> None:
    book = VisitBook(make_cfg())
    rec = Records()
    if seen_before is not None:
        feed(book, "G1", [upd(30 - seen_before)], rec)
    feed(book, "G1", [upd(30, crossing="in"), upd(40, "cam2")], rec)
    (live,) = book.open_visits()
    assert (live.in_ts - T0, live.in_source, live.out_ts - T0) == (in_ts, in_source, 40)
    (cross,) = kinds(rec, EventKind.LINE_CROSS)
    assert (cross.ts - T0, cross.payload, cross.visit_id) == (
        30,
        {"line": "door", "direction": "in"},
        live.visit_id,
    )
    assert len(kinds(rec, EventKind.VISIT_OPEN)) == 1


def test_outward_crossing_closes_at_once_and_guards_reentry() -> None:
    book = VisitBook(make_cfg())
    rec = feed(book, "G1", [upd(0, crossing="in"), upd(20, "cam2"), upd(50)], Records())
    rec.extend(book.observe("G1", upd(55, crossing="out")))
    assert book.occupancy() == 0  # closed without waiting for the timeout
    (v,) = latest_visits(rec)
    assert (v.in_ts - T0, v.out_ts - T0, v.dwell_s) == (0, 55, 55)
    assert (v.in_source, v.out_source, v.closed) == ("line", "line", True)
    assert [(e.payload["direction"], e.ts - T0) for e in kinds(rec, EventKind.LINE_CROSS)] == [
        ("in", 0),
        ("out", 55),
    ]

    feed(book, "G1", [upd(57), upd(64)], rec)  # still in view outside the door
    assert book.occupancy() == 0
    feed(book, "G1", [upd(66)], rec)  # 11 s after: a sighting opens a visit again
    feed(book, "G1", [upd(70, crossing="out"), upd(80, crossing="in")], rec)
    visits = latest_visits(rec)
    assert [(v.in_ts - T0, v.out_ts - T0, v.in_source) for v in visits] == [
        (0, 55, "line"),
        (66, 70, "sighting"),
        (80, 80, "line"),  # an inward crossing opens a visit even inside the guard window
    ]


def test_outward_crossing_without_open_visit_only_logs() -> None:
    book = VisitBook(make_cfg())
    rec = book.observe("G1", upd(3, crossing="out"))
    assert book.occupancy() == 0
    assert [e.kind for e in rec.events] == [EventKind.LINE_CROSS]
    assert rec.events[0].visit_id is None


# ---- zones -----------------------------------------------------------------------------


def zone_run(
    inside: list[tuple[float, float]], end: float = 25.0, step: float = 0.5
) -> list[TrackletUpdate]:
    """Sightings on cam1 every ``step`` s from 0 to ``end``, in the shelf during ``inside``."""
    return [
        upd(t, zones=["shelf"] if any(a <= t <= b for a, b in inside) else [])
        for t in span(0, end, step)
    ]


@pytest.mark.parametrize(
    ("inside", "expected"),
    [
        ([(0, 5), (7.5, 10)], [(0, 10)]),  # out for 2.5 s < zone_exit_s: one zone visit
        ([(0, 5), (9, 12)], [(0, 5), (9, 12)]),  # out for 4 s: two
        ([(0, 5), (8, 12)], [(0, 12)]),  # out for exactly zone_exit_s: still one
        ([(0, 5), (8.5, 12)], [(0, 5), (8.5, 12)]),  # out for 3.5 s: two
        ([(0, 1.5)], []),  # pass-through shorter than zone_enter_s: none
        ([(3, 4.5), (6, 6.5)], [(3, 6.5)]),  # two short streaks joined by a short gap
        ([(4, 6)], [(4, 6)]),  # exactly zone_enter_s
        ([(1, 2), (6, 7)], []),  # two pass-throughs too far apart
    ],
)
def test_zone_hysteresis(
    inside: list[tuple[float, float]], expected: list[tuple[float, float]]
) -> None:
    book = VisitBook(make_cfg())
    rec = feed(book, "G1", zone_run(inside), Records())
    # every zone visit ended during the stream, before its visit closed
    assert all(z.closed for z in latest_zone_visits(rec))
    rec.extend(book.tick(T0 + 100))

    zvs = latest_zone_visits(rec)
    assert [(z.enter_ts - T0, z.exit_ts - T0) for z in zvs] == expected
    assert all(z.zone == "shelf" and z.closed and z.cameras == ("cam1",) for z in zvs)
    assert [e.ts - T0 for e in kinds(rec, EventKind.ZONE_ENTER)] == [a for a, _ in expected]
    assert [e.ts - T0 for e in kinds(rec, EventKind.ZONE_EXIT)] == [b for _, b in expected]
    (v,) = latest_visits(rec)
    assert v.zones == (("shelf",) if expected else ())
    assert all(z.visit_id == v.visit_id and z.day == v.day for z in zvs)


@pytest.mark.parametrize(
    ("handoff_gap", "expected"),
    [
        (0.0, [(0, 12, ("cam1", "cam2"))]),
        (2.0, [(0, 12, ("cam1", "cam2"))]),  # 2 s unseen between cameras < zone_exit_s
        (4.0, [(0, 6, ("cam1",)), (10, 12, ("cam2",))]),
    ],
)
def test_same_name_zone_on_two_cameras_is_one_zone(
    handoff_gap: float, expected: list[tuple[float, float, tuple[str, ...]]]
) -> None:
    book = VisitBook(make_cfg())
    start2 = 6 + handoff_gap
    ups = [upd(t, "cam1", zones=["shelf"]) for t in span(0, 6)]
    for t in span(start2, 12):
        # cam1 still sees the person but outside its shelf polygon; cam2 sees the foot inside
        ups += [upd(t, "cam1"), upd(t, "cam2", zones=["shelf"])]
    rec = feed(book, "G1", ups, Records())
    rec.extend(book.close_all(T0 + 30))
    zvs = latest_zone_visits(rec)
    assert [(z.enter_ts - T0, z.exit_ts - T0, z.cameras) for z in zvs] == expected
    assert len(kinds(rec, EventKind.ZONE_ENTER)) == len(expected)


def test_two_zones_at_once_are_independent() -> None:
    book = VisitBook(make_cfg())
    ups = [upd(t, "cam2", zones=["shelf", "till"] if t <= 5 else ["till"]) for t in span(0, 10)]
    rec = feed(book, "G1", ups, Records())
    rec.extend(book.close_all(T0 + 11))
    zvs = latest_zone_visits(rec)
    assert sorted((z.zone, z.enter_ts - T0, z.exit_ts - T0) for z in zvs) == [
        ("shelf", 0, 5),
        ("till", 0, 10),
    ]
    assert len({z.zone_visit_id for z in zvs}) == 2


@pytest.mark.parametrize(
    ("reorder_s", "expected"),
    [
        (2.0, [(0, 6.5, ("cam1", "cam2"))]),  # the late inside observation still counts
        (0.0, [(0, 4, ("cam1",))]),  # the exit was decided before it arrived
    ],
)
def test_zone_exit_waits_for_late_observations(
    reorder_s: float, expected: list[tuple[float, float, tuple[str, ...]]]
) -> None:
    book = VisitBook(make_cfg(), reorder_s=reorder_s)
    rec = feed(book, "G1", zone_run([(0, 4)], end=8), Records())
    feed(book, "G1", [upd(6.5, "cam2", zones=["shelf"])], rec)  # arrives 1.5 s late
    feed(book, "G1", [upd(t) for t in span(8.5, 20)], rec)
    rec.extend(book.close_all(T0 + 30))
    zvs = latest_zone_visits(rec)
    assert [(z.enter_ts - T0, z.exit_ts - T0, z.cameras) for z in zvs] == expected


def test_late_inside_observation_extends_a_streak_backwards() -> None:
    book = VisitBook(make_cfg())
    rec = feed(book, "G1", [upd(t, "cam2", zones=["shelf"]) for t in (3, 3.5, 4)], Records())
    assert kinds(rec, EventKind.ZONE_ENTER) == []  # 1 s inside so far
    rec.extend(book.observe("G1", upd(2, "cam1", zones=["shelf"])))  # 2 s late
    (enter,) = kinds(rec, EventKind.ZONE_ENTER)
    assert (enter.ts - T0, enter.camera_id) == (2, "cam1")
    (z,) = latest_zone_visits(rec)
    assert (z.enter_ts - T0, z.exit_ts - T0, z.cameras) == (2, 4, ("cam1", "cam2"))


def test_zone_exit_by_tick_and_zone_closed_with_its_visit() -> None:
    book = VisitBook(make_cfg())
    rec = feed(book, "G1", [upd(t, zones=["shelf"]) for t in span(0, 4)], Records())
    rec.extend(book.tick(T0 + 9))  # 5 s after last inside = exit_s + reorder_s: not yet
    assert kinds(rec, EventKind.ZONE_EXIT) == []
    rec.extend(book.tick(T0 + 9.5))
    (exit_ev,) = kinds(rec, EventKind.ZONE_EXIT)
    assert (exit_ev.ts - T0, exit_ev.payload["dwell_s"]) == (4, 4)
    assert book.occupancy() == 1

    feed(book, "G2", [upd(t, "cam2", zones=["till"]) for t in span(0, 3)], rec)
    rec.extend(book.tick(T0 + 63))  # G2 unseen for 60 s: its visit and zone visit close
    till = [z for z in latest_zone_visits(rec) if z.zone == "till"]
    assert [(z.enter_ts - T0, z.exit_ts - T0, z.closed) for z in till] == [(0, 3, True)]
    closing = [e.kind for e in rec.events if e.global_id == "G2"][-2:]
    assert closing == [EventKind.ZONE_EXIT, EventKind.VISIT_CLOSE]


# ---- track points ----------------------------------------------------------------------


def test_track_points_are_sampled_per_camera_and_normalized() -> None:
    book = VisitBook(make_cfg())
    ups = [upd(t, "cam1", foot=(160, 120)) for t in span(0, 3, 0.25)]
    ups += [upd(t, "cam2", zones=["till"], foot=(640, 500)) for t in span(0.5, 2.5, 0.25)]
    ups.sort(key=lambda u: u.ts)
    rec = feed(book, "G1", ups, Records())
    ups2 = [upd(t, "cam1", frame_size=None) for t in span(5, 8)]
    rec.extend(book.observe_many(("G2", u) for u in ups2))

    pts = [(p.global_id, p.camera_id, p.ts - T0, p.x, p.y, p.zone) for p in rec.track_points]
    assert sorted(pts) == [
        ("G1", "cam1", 0, 0.25, 0.25, None),
        ("G1", "cam1", 1, 0.25, 0.25, None),
        ("G1", "cam1", 2, 0.25, 0.25, None),
        ("G1", "cam1", 3, 0.25, 0.25, None),
        ("G1", "cam2", 0.5, 1.0, 1.0, "till"),  # foot below the frame edge clips to 1
        ("G1", "cam2", 1.5, 1.0, 1.0, "till"),
        ("G1", "cam2", 2.5, 1.0, 1.0, "till"),
    ]
    (v,) = book.open_visits()[:1]
    assert {p.visit_id for p in rec.track_points} == {v.visit_id}
    assert {p.day for p in rec.track_points} == {"2025-11-24"}


# ---- daily reset -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reset_time", "boundary"),
    [("00:00", MIDNIGHT), ("12:00", NOON)],
)
def test_reset_splits_a_visit_that_spans_the_reset_time(reset_time: str, boundary: float) -> None:
    book = VisitBook(make_cfg(reset_time))
    rec = Records()
    feed(book, "G1", [upd(t, base=boundary) for t in (-90, -45, -30)], rec)
    feed(book, "G2", [upd(t, "cam2", zones=["till"], base=boundary) for t in span(-20, -10)], rec)
    rec.extend(book.reset(boundary))
    assert book.occupancy() == 0
    feed(book, "G1", [upd(-5, base=boundary)], rec)  # a late straggler of the old day: dropped
    assert book.occupancy() == 0
    feed(book, "G1", [upd(t, base=boundary) for t in (30, 75)], rec)

    visits = latest_visits(rec)[:2] + book.open_visits()
    assert [(v.global_id, v.in_ts - boundary, v.out_ts - boundary, v.day) for v in visits] == [
        ("G1", -90, -30, "2025-11-24"),
        ("G2", -20, -10, "2025-11-24"),
        ("G1", 30, 75, "2025-11-25"),
    ]
    assert [(v.closed, v.out_source) for v in visits] == [
        (True, "reset"),
        (True, "reset"),
        (False, "sighting"),
    ]
    assert len(latest_visits(rec)) == 3
    (z,) = latest_zone_visits(rec)
    assert (z.exit_ts - boundary, z.closed, z.day) == (-10, True, "2025-11-24")
    (reset_ev,) = kinds(rec, EventKind.RESET)
    assert (reset_ev.ts, reset_ev.day, reset_ev.payload["closed_visits"]) == (
        boundary,
        "2025-11-25",
        2,
    )
    closes = kinds(rec, EventKind.VISIT_CLOSE)
    assert [(e.ts - boundary, e.day) for e in closes] == [(-30, "2025-11-24"), (-10, "2025-11-24")]
    (reopen,) = [e for e in kinds(rec, EventKind.VISIT_OPEN) if e.ts > boundary]
    assert reopen.day == "2025-11-25"


# ---- replay and bad input --------------------------------------------------------------


def test_replay_with_other_tick_cadence_gives_the_same_events() -> None:
    stream = [("G1", u) for u in zone_run([(2, 9)], end=12)]
    stream += [("G2", upd(t, "cam2", zones=["till"])) for t in span(5, 15)]
    stream += [("G1", upd(90)), ("G2", upd(200))]
    stream.sort(key=lambda s: s[1].ts)

    def run(tick_every: float) -> dict[str, str]:
        book = VisitBook(make_cfg())
        rec, next_tick = Records(), T0
        for gid, u in stream:
            while next_tick <= u.ts:
                rec.extend(book.tick(next_tick))
                next_tick += tick_every
            rec.extend(book.observe(gid, u))
        rec.extend(book.close_all(T0 + 1000))
        return {e.event_id: e.kind for e in rec.events}

    fine, coarse = run(0.5), run(45.0)
    assert fine == coarse
    # each person: a visit with one zone visit, then a re-entry visit (G1 at 90, G2 at 200)
    assert Counter(fine.values()) == {
        EventKind.VISIT_OPEN: 4,
        EventKind.VISIT_CLOSE: 4,
        EventKind.ZONE_ENTER: 2,
        EventKind.ZONE_EXIT: 2,
    }


@pytest.mark.parametrize(
    ("gid", "update", "message"),
    [
        ("", upd(0), "global_id must be a non-empty string"),
        ("G1", upd(0, "cam9"), "unknown camera 'cam9'"),
        ("G1", upd(0, "cam1", zones=["till"]), "camera 'cam1': unknown zones \\['till'\\]"),
        ("G1", upd(0, "cam2", crossing="in"), "camera 'cam2': unknown line 'door'"),
        ("G1", upd(float("nan")), "must be finite"),
        ("G1", upd(0, frame_size=(0, 480)), "frame_size must be positive"),
    ],
)
def test_bad_input_is_named(gid: str, update: TrackletUpdate, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        VisitBook(make_cfg()).observe(gid, update)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda b: b.tick(float("inf")), "now must be finite"),
        (lambda b: b.reset(float("nan")), "ts must be finite"),
        (lambda b: b.close_all(0.0, reason=""), "reason must be a non-empty"),
        (lambda b: VisitBook(make_cfg(), reorder_s=-1), "reorder_s must be"),
    ],
)
def test_bad_arguments_are_named(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(VisitBook(make_cfg()))
