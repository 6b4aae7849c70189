"""A realistic two-day event store for API, dashboard and MCP tests.

:func:`seed_store` scripts a small shop (three cameras, four zones, Asia/Kolkata
business days) and a handful of people walking through it, feeds their
sightings through the real :class:`~mcvision.identity.visits.VisitBook` and
writes the resulting records into an :class:`~mcvision.analytics.store.EventStore`.

The expected numbers are computed from the script itself (first and last
sighting of each person and each zone stay), not from the store, so a test can
compare what the queries answer with what happened.

Script (every person is seen every ``STEP_S`` seconds while in view):

- 2026-03-09: a staff member at the till all morning, four customers; the
  last one comes back after lunch (a re-entry: a second visit of the same
  global ID). Everything is closed by the end of the day; then the daily reset.
- 2026-03-10: five customers, one of them marked returning (as the long-term
  gallery would), the last one still in the shop when the data ends (an open
  visit, so "in store now" is 1).

Example:
    >>> from pathlib import Path                               # doctest: +SKIP
    >>> seeded = seed_store(Path(tmp))                          # doctest: +SKIP
    >>> seeded["expected"]["2026-03-10"]["open_visits"]         # doctest: +SKIP
    1
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pendulum

from mcvision.analytics.store import EventStore
from mcvision.business_day import BusinessCalendar
from mcvision.config import SiteConfig, parse_config
from mcvision.identity.visits import VisitBook
from mcvision.types import Records, TrackletUpdate

TIMEZONE = "Asia/Kolkata"
DAYS = ("2026-03-09", "2026-03-10")
STEP_S = 2.0
FRAME = (1280, 720)

# Zone rectangles (x1, y1, x2, y2) in pixels of a 1280x720 frame, per camera.
ZONES: dict[str, dict[str, tuple[int, int, int, int]]] = {
    "entrance": {"door": (440, 420, 840, 700)},
    "aisle": {"shelves": (80, 300, 620, 700), "promo": (760, 320, 1200, 680)},
    "till": {"checkout": (300, 260, 980, 640)},
}
# Where people stand on a camera outside every zone.
FLOOR: dict[str, tuple[int, int, int, int]] = {
    "entrance": (60, 150, 400, 400),
    "aisle": (640, 100, 740, 300),
    "till": (1000, 80, 1240, 250),
}


@dataclass(frozen=True)
class Leg:
    """A stretch of a walk: ``seconds`` on ``camera``, foot inside ``zone`` (or on the floor)."""

    camera: str
    zone: str | None
    seconds: float


@dataclass(frozen=True)
class Walk:
    """One visit of one person: starts at local ``HH:MM[:SS]``, legs with 4 s gaps between them."""

    global_id: str
    start: str
    legs: tuple[Leg, ...]
    staff: bool = False
    returning: bool = False


GAP_S = 4.0  # unseen between two legs (walking between cameras): < zone_exit_s + reorder


# Leg shorthands.
def _door(s: float = 8) -> Leg:
    return Leg("entrance", "door", s)


def _shelves(s: float) -> Leg:
    return Leg("aisle", "shelves", s)


def _promo(s: float) -> Leg:
    return Leg("aisle", "promo", s)


def _till(s: float) -> Leg:
    return Leg("till", "checkout", s)


def _walk(camera: str, s: float = 10) -> Leg:
    return Leg(camera, None, s)


SCRIPT: dict[str, tuple[Walk, ...]] = {
    DAYS[0]: (
        Walk("S1", "09:30", (_walk("till", 20), _till(70 * 60), _walk("till", 20)), staff=True),
        Walk("G1", "10:05", (_door(), _shelves(6 * 60), _promo(2 * 60), _till(3 * 60), _door(6))),
        Walk("G2", "10:20", (_door(), _walk("aisle"), _shelves(4 * 60), _door(6))),
        Walk("G3", "11:10", (_door(), _promo(5 * 60), _till(2 * 60), _door(6))),
        Walk("G4", "11:40", (_door(), _shelves(8 * 60), _till(4 * 60), _door(6))),
        Walk("G4", "13:30", (_door(), _till(3 * 60), _door(6))),
    ),
    DAYS[1]: (
        Walk("G1", "09:55", (_door(), _promo(3 * 60), _door(6)), returning=True),
        Walk("G2", "10:15", (_door(), _shelves(10 * 60), _till(5 * 60), _door(6))),
        Walk("G3", "10:40", (_door(), _shelves(2 * 60), _promo(4 * 60), _door(6))),
        Walk(
            "G4", "12:10", (_door(), _walk("aisle", 20), _shelves(7 * 60), _till(2 * 60), _door(6))
        ),
        Walk("G5", "17:45", (_door(), _shelves(5 * 60), _walk("aisle", 30))),  # still inside
    ),
}


def site_config(root: Path, site_id: str = "demo") -> SiteConfig:
    """The seeded shop's config, storing under ``root/data``."""
    cameras = []
    for cam, zones in ZONES.items():
        cameras.append(
            {
                "id": cam,
                "source": f"{cam}.mp4",
                "resolution": list(FRAME),
                "zones": [
                    {"name": name, "polygon": [[x1, y1], [x2, y1], [x2, y2], [x1, y2]]}
                    for name, (x1, y1, x2, y2) in zones.items()
                ],
            }
        )
    return parse_config(
        {
            "site_id": site_id,
            "cameras": cameras,
            "topology": {
                "transits": [
                    {"a": "entrance", "b": "aisle", "max_s": 60},
                    {"a": "aisle", "b": "till", "max_s": 60},
                ]
            },
            "reset": {"time": "00:00", "timezone": TIMEZONE},
            "storage": {"root": str(root / "data")},
        }
    )


def _epoch(day: str, hhmm: str) -> float:
    d = pendulum.parse(day)
    parts = [int(p) for p in hhmm.split(":")]
    h, m, s = ([*parts, 0])[:3]
    return pendulum.datetime(d.year, d.month, d.day, h, m, s, tz=TIMEZONE).timestamp()


def _updates(walk: Walk, day: str, rng: np.random.Generator) -> tuple[list[TrackletUpdate], dict]:
    """The walk's sightings and what they should produce (visit and zone stays)."""
    ts = _epoch(day, walk.start)
    local_id = int(rng.integers(1, 10_000))
    out: list[TrackletUpdate] = []
    stays: list[dict[str, Any]] = []  # zone stays as scripted (consecutive legs never share a zone)
    points: Counter[str] = Counter()
    for i, leg in enumerate(walk.legs):
        if i:
            ts += GAP_S
        x1, y1, x2, y2 = ZONES[leg.camera][leg.zone] if leg.zone else FLOOR[leg.camera]
        n = int(leg.seconds // STEP_S) + 1
        first = ts
        for k in range(n):
            t = first + k * STEP_S
            fx, fy = rng.uniform(x1 + 10, x2 - 10), rng.uniform(y1 + 10, y2 - 10)
            out.append(
                TrackletUpdate(
                    camera_id=leg.camera,
                    local_id=local_id + i,
                    ts=t,
                    box=np.array([fx - 40, fy - 200, fx + 40, fy], dtype=np.float32),
                    foot=np.array([fx, fy], dtype=np.float32),
                    zones=(leg.zone,) if leg.zone else (),
                    frame_size=FRAME,
                )
            )
            points[leg.camera] += 1
        ts = first + (n - 1) * STEP_S
        if leg.zone:
            stays.append({"zone": leg.zone, "enter_ts": first, "exit_ts": ts})
    cameras = sorted({leg.camera for leg in walk.legs})
    return out, {
        "global_id": walk.global_id,
        "in_ts": out[0].ts,
        "out_ts": out[-1].ts,
        "cameras": cameras,
        "zones": sorted({s["zone"] for s in stays}),
        "zone_stays": stays,
        "points": points,
        "staff": walk.staff,
        "returning": walk.returning,
    }


def _mark(records: Records, flags: dict[str, tuple[bool, bool]]) -> Records:
    """Set ``is_staff``/``returning`` on visit snapshots (what the galleries would decide)."""
    records.visits = [
        dataclasses.replace(v, is_staff=flags[v.visit_id][0], returning=flags[v.visit_id][1])
        if v.visit_id in flags
        else v
        for v in records.visits
    ]
    return records


def _expected(visits: list[dict[str, Any]], open_gid: str | None) -> dict[str, Any]:
    customers = [v for v in visits if not v["staff"]]
    closed = [v for v in customers if v["global_id"] != open_gid]
    dwell = sorted(v["out_ts"] - v["in_ts"] for v in closed)
    zone_dwell: defaultdict[str, float] = defaultdict(float)
    zone_visits: Counter[str] = Counter()
    for v in customers:
        for s in v["zone_stays"]:
            zone_visits[s["zone"]] += 1
            zone_dwell[s["zone"]] += s["exit_ts"] - s["enter_ts"]
    points: Counter[str] = Counter()
    for v in customers:
        points.update(v["points"])
    paths = Counter(tuple(s["zone"] for s in v["zone_stays"]) for v in customers)
    return {
        "visits": len(customers),
        "unique_visitors": len({v["global_id"] for v in customers}),
        "open_visits": int(open_gid is not None),
        "closed_visits": len(closed),
        "staff_visits": sum(v["staff"] for v in visits),
        "returning_visitors": len({v["global_id"] for v in customers if v["returning"]}),
        "dwell_s": dwell,
        "dwell_mean_s": float(np.mean(dwell)),
        "dwell_median_s": float(np.median(dwell)),
        "in_ts": sorted(v["in_ts"] for v in customers),
        "zone_visits": dict(zone_visits),
        "zone_dwell_s": dict(zone_dwell),
        "track_points": dict(points),
        "zone_paths": dict(paths),
        "in_store_now": int(open_gid is not None),
    }


def seed_store(root: Path, site_id: str = "demo") -> dict[str, Any]:
    """Build the two-day store under ``root`` and return what a test needs.

    Returns:
        ``{"cfg": SiteConfig, "store": EventStore, "days": [day1, day2],
        "expected": {day: {...}}}``; per day: ``visits``, ``unique_visitors``,
        ``open_visits``, ``closed_visits``, ``staff_visits``, ``returning_visitors``,
        ``dwell_s`` (closed customer visits, sorted), ``dwell_mean_s``,
        ``dwell_median_s``, ``in_ts`` (sorted), ``zone_visits`` and ``zone_dwell_s``
        per zone, ``track_points`` per camera, ``zone_paths`` (path tuple → visits)
        and ``in_store_now``. All customer-only (staff excluded).
    """
    cfg = site_config(Path(root), site_id)
    store = EventStore.from_config(cfg)
    calendar = BusinessCalendar.from_config(cfg.reset)
    book = VisitBook(cfg, calendar)
    rng = np.random.default_rng(7)
    expected: dict[str, Any] = {}
    for di, day in enumerate(DAYS):
        walks = SCRIPT[day]
        sightings: list[tuple[str, TrackletUpdate]] = []
        scripted: list[dict[str, Any]] = []
        for walk in walks:
            ups, exp = _updates(walk, day, rng)
            sightings += [(walk.global_id, u) for u in ups]
            scripted.append(exp)
        sightings.sort(key=lambda s: s[1].ts)
        last_day = di == len(DAYS) - 1
        records = Records()
        next_tick = sightings[0][1].ts + 30.0
        for gid, u in sightings:
            while u.ts >= next_tick:
                records.extend(book.tick(next_tick))
                next_tick += 30.0
            records.extend(book.observe(gid, u))
        end = sightings[-1][1].ts
        open_gid = None
        if last_day:
            records.extend(book.tick(end + 10.0))  # the last person is still inside
            open_gid = walks[-1].global_id
        else:
            records.extend(book.tick(end + cfg.visits.absence_timeout_s + 1.0))
            records.extend(book.close_all(end + cfg.visits.absence_timeout_s + 1.0))
            records.extend(book.reset(calendar.day_bounds(day)[1]))
        flags = {}
        by_start = {
            (e["global_id"], e["in_ts"]): (w, e) for w, e in zip(walks, scripted, strict=True)
        }
        for v in records.visits:
            w, _ = by_start[(v.global_id, v.in_ts)]
            flags[v.visit_id] = (w.staff, w.returning)
        store.write(_mark(records, flags))
        store.flush()
        expected[day] = _expected(scripted, open_gid)
    return {"cfg": cfg, "store": store, "days": list(DAYS), "expected": expected}


# ---- a real HTTP server over the store ----------------------------------------------
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def api_server(
    cfg: SiteConfig,
    store: EventStore | None = None,
    headers: dict[str, str] | None = None,
    live: Any = None,
) -> Iterator[str]:
    """Serve ``create_app(cfg)`` with uvicorn in a background thread; yields its base URL.

    ``headers`` go with the readiness probe (e.g. the read key, when one is set).
    """
    import httpx
    import uvicorn

    from mcvision.serve.api import create_app

    port = free_port()
    config = uvicorn.Config(
        create_app(cfg, live=live, store=store),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"api-{port}", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20.0
    while True:
        try:
            if httpx.get(f"{url}/api/v1/health", headers=headers, timeout=1.0).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError(f"the API did not start on {url}")
        time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10.0)
