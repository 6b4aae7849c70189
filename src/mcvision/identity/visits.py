"""Visits and zone dwell: the state machines behind ``visits`` and ``zone_visits``.

:class:`VisitBook` consumes the IdentityManager's output, a stream of resolved
sightings ``(global_id, TrackletUpdate)``, and turns it into :class:`Records`
(events, visit and zone-visit snapshots, sampled track points) for the event
store. It is plain Python: time comes only from the updates and from the
``now``/``ts`` arguments of :meth:`VisitBook.tick`, :meth:`VisitBook.reset` and
:meth:`VisitBook.close_all`.

Visits (DESIGN.md §3):

- A sighting of a ``global_id`` with no open visit opens one: ``in_ts`` = that
  sighting, ``in_source="sighting"``. ``visit_id = stable_id(site_id, global_id,
  in_ts)`` is fixed when the visit opens, even if ``in_ts`` later moves.
- Every further sighting extends it: ``out_ts = max(out_ts, ts)`` (a late,
  out-of-order sighting never moves ``out_ts`` backwards). A late sighting
  earlier than ``in_ts`` of a sighting-opened visit moves ``in_ts`` back to it.
- The visit closes once the person is unseen everywhere for
  ``visits.absence_timeout_s``: by :meth:`~VisitBook.tick` (``now - out_ts >=
  timeout``) or by the person's next sighting (``ts - out_ts >= timeout``, which
  then opens a new visit: a re-entry). ``out_ts`` is the last sighting.
- ``Visit.day`` is the business day of ``in_ts``; ``cameras`` the cameras that saw
  the person during the visit; ``zones`` the zones *entered* (that have a zone
  visit), not those merely crossed.
- Snapshots in ``Records.visits``: on open, whenever ``in_ts`` moves, and on close
  (``closed=True``). Events: ``VISIT_OPEN`` (ts = in_ts) and ``VISIT_CLOSE``
  (ts = out_ts, payload ``out_source``, ``in_ts``, ``dwell_s``).

Entrance lines (an update's crossings happened at the update's ``ts``; each one
emits a ``LINE_CROSS`` event with payload ``line`` and ``direction``):

- Inward: with no open visit, opens one at the crossing (``in_source="line"``).
  If a visit was opened by a sighting at most ``line_window_s`` (default 10 s)
  before the crossing, its ``in_ts`` moves to the crossing and ``in_source``
  becomes ``"line"`` (the person was seen just outside the door first). An
  inward crossing during an older visit changes nothing but the event.
- Outward: closes the open visit at once, ``out_source="line"``,
  ``out_ts = max(last sighting, crossing)``. For ``line_window_s`` after an
  outward crossing, sightings of that person open no new visit (they are still
  in view outside the door); an inward crossing does.

Zones, per ``global_id`` and zone *name* (the same name on several cameras is one
zone; the foot is inside if it is inside on any camera):

- Inside observations close together form a streak; a gap longer than
  ``visits.zone_exit_s`` between two inside observations breaks it. Seeing the
  person outside the zone, or not at all, is just time without an inside
  observation.
- Enter when a streak has lasted ``zone_enter_s`` (``enter_ts`` = the streak's
  first inside observation): ``ZONE_ENTER`` at ``enter_ts`` and a ZoneVisit
  snapshot. A shorter pass-through makes no zone visit.
- Exit when no inside observation came for more than ``zone_exit_s``:
  ``exit_ts`` = last inside observation; ``ZONE_EXIT`` at ``exit_ts`` and a
  closed snapshot. Flicker shorter than ``zone_exit_s`` stays one zone visit. The
  decision waits a further ``reorder_s`` (default 2 s) of the person's own
  stream time, or of ``tick``'s ``now``, so an inside observation arriving a
  little late still counts; the values do not depend on it, only when the exit
  is emitted. A zone visit also ends when its visit closes.
- ``zone_visit_id = stable_id(visit_id, zone, enter_ts)``; ``ZoneVisit.day`` is
  its visit's day; ``ZoneVisit.cameras`` the cameras that saw the foot inside.

Track points: per (global_id, camera) at most one every
``visits.track_point_every_s``, the foot point divided by ``frame_size`` and
clipped to 0..1 (none when ``frame_size`` is None), ``zone`` = first of the
update's zones. Their ``day`` is the business day of their ``ts``, as for events.

Activity: sightings that carry an ``activity`` label are turned into
:class:`~mcvision.types.ActivityInterval` records (``Records.activities``) by
:class:`~mcvision.vision.activity.ActivityBook`: one interval per run of the same
label in the same zone within a visit, closed with the visit; a ``fallen``
interval emits an ``alert`` event when it opens.

Out-of-order input: ``observe_many`` sorts its batch by ``ts``. Across calls a
late sighting is used as described above, except that a sighting (or crossing)
no later than the ``out_ts`` of the person's last *closed* visit is dropped (it
belongs to that visit), and anything earlier than the last :meth:`reset` is
dropped (it belongs to a finished business day).

Updates with ``ended=True`` are not sightings: the tracker gave up on the track
then, it did not see the person. Their crossings still count.

Daily reset: :meth:`VisitBook.reset` closes every open visit and zone visit at its
last sighting (``out_source="reset"``), emits a ``RESET`` event and forgets all
state. :class:`~mcvision.business_day.BusinessCalendar` says when; call it
before feeding sightings at or after the reset time.

Event IDs depend only on the data, never on when ``tick`` ran, so replaying the
same stream gives the same events.

Example:
    >>> import numpy as np
    >>> from mcvision.config import parse_config
    >>> from mcvision.types import TrackletUpdate
    >>> cfg = parse_config({"site_id": "shop", "cameras": [{"id": "cam1", "source": "a.mp4"}],
    ...                     "visits": {"absence_timeout_s": 60}})
    >>> book = VisitBook(cfg)
    >>> def seen(ts):
    ...     return TrackletUpdate("cam1", 1, ts, np.zeros(4), np.zeros(2))
    >>> book.observe("G1", seen(1000.0)).events[0].kind
    'visit_open'
    >>> _ = book.observe("G1", seen(1030.0))
    >>> book.occupancy()
    1
    >>> closed = book.tick(1100.0).visits[0]
    >>> closed.closed, closed.in_ts, closed.out_ts
    (True, 1000.0, 1030.0)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mcvision.business_day import BusinessCalendar
from mcvision.config import SiteConfig
from mcvision.types import (
    ActivityInterval,
    Direction,
    Event,
    EventKind,
    Records,
    TrackletUpdate,
    TrackPoint,
    Visit,
    ZoneVisit,
    stable_id,
)
from mcvision.vision.activity import ActivityBook


@dataclass
class _ZoneState:
    """One streak of inside observations of one zone; a zone visit once entered."""

    zone: str
    start_ts: float
    last_inside: float
    first_camera: str
    last_camera: str
    cameras: set[str] = field(default_factory=set)
    entered: bool = False
    zone_visit_id: str = ""


@dataclass
class _OpenVisit:
    visit_id: str
    global_id: str
    day: str
    in_ts: float
    out_ts: float
    in_source: str
    first_camera: str
    last_camera: str
    cameras: set[str] = field(default_factory=set)
    zones: set[str] = field(default_factory=set)
    zone_states: dict[str, _ZoneState] = field(default_factory=dict)
    zone_floor: dict[str, float] = field(default_factory=dict)  # exit_ts of the last zone visit
    track_point_ts: dict[str, float] = field(default_factory=dict)  # camera -> last point ts
    corrected_at: float | None = None  # when a late identity merge last rewrote it


class VisitBook:
    """Visit and zone state machines of one site.

    Args:
        cfg: the site config (``visits`` thresholds, cameras, zones and lines).
        calendar: business days; by default the one of ``cfg.reset``.
        line_window_s: how long before an inward crossing a sighting-opened visit
            is moved to the crossing, and how long after an outward crossing
            sightings open no new visit.
        reorder_s: tolerated lateness of sightings; zone exits wait this much
            longer than ``zone_exit_s`` before they are decided.

    Example:
        >>> import numpy as np
        >>> from mcvision.config import parse_config
        >>> from mcvision.types import TrackletUpdate
        >>> cfg = parse_config({"site_id": "shop", "cameras": [{"id": "cam1", "source": "a.mp4"}]})
        >>> book = VisitBook(cfg)
        >>> recs = book.observe_many(
        ...     ("G1", TrackletUpdate("cam1", 1, ts, np.zeros(4), np.zeros(2)))
        ...     for ts in (10.0, 11.0, 12.5))
        >>> [v.in_ts for v in book.open_visits()], book.open_visits()[0].out_ts
        ([10.0], 12.5)
        >>> book.close_all(20.0).visits[0].out_source
        'shutdown'
    """

    def __init__(
        self,
        cfg: SiteConfig,
        calendar: BusinessCalendar | None = None,
        *,
        line_window_s: float = 10.0,
        reorder_s: float = 2.0,
    ) -> None:
        if not (math.isfinite(line_window_s) and line_window_s >= 0):
            raise ValueError(f"line_window_s must be a number >= 0, got {line_window_s!r}")
        if not (math.isfinite(reorder_s) and reorder_s >= 0):
            raise ValueError(f"reorder_s must be a number >= 0, got {reorder_s!r}")
        self.cfg = cfg
        self.site_id = cfg.site_id
        self.calendar = calendar or BusinessCalendar.from_config(cfg.reset)
        self.line_window_s = float(line_window_s)
        self.reorder_s = float(reorder_s)
        v = cfg.visits
        self._timeout = v.absence_timeout_s
        self._enter_s = v.zone_enter_s
        self._exit_s = v.zone_exit_s
        self._tp_every = v.track_point_every_s
        self._zones = {c.id: {z.name for z in c.zones} for c in cfg.cameras}
        self._lines = {c.id: {ln.name for ln in c.lines} for c in cfg.cameras}
        self._open: dict[str, _OpenVisit] = {}
        self._closed_until: dict[str, float] = {}  # out_ts of the person's last closed visit
        self._guard_until: dict[str, float] = {}  # after an outward crossing
        self._reset_ts = -math.inf
        self._day_cache: tuple[float, float, str] = (math.inf, -math.inf, "")
        self._returning: set[str] = set()  # global IDs marked returning (this day)
        self._staff: set[str] = set()  # global IDs marked staff (this day)
        self._activity = ActivityBook(self.site_id)  # activity intervals (labelled sightings)

    # ---- public API ----------------------------------------------------
    def observe(self, global_id: str, u: TrackletUpdate) -> Records:
        """Take one resolved sighting; return what it opened, closed or sampled.

        Raises:
            ValueError: empty ``global_id``, a non-finite ``ts``, or a camera,
                zone or line that the site config does not have.
        """
        self._check(global_id, u)
        out = Records()
        ts = float(u.ts)
        if ts < self._reset_ts or ts <= self._closed_until.get(global_id, -math.inf):
            return out  # belongs to a finished day or an already closed visit
        visit = self._open.get(global_id)
        if visit is not None and ts - visit.out_ts >= self._timeout:
            self._close(visit, "sighting", out)  # unseen too long: this is a re-entry
            visit = None
        for crossing in u.crossings:
            visit = self._cross(global_id, u, crossing.line, Direction(crossing.direction), out)
        if u.ended:
            return out
        if visit is None:
            if ts <= self._guard_until.get(global_id, -math.inf):
                return out  # just went out through the door, still in view
            visit = self._open_visit(global_id, ts, u.camera_id, "sighting", out)
        self._sighting(visit, u, out)
        return out

    def observe_many(self, sightings: Iterable[tuple[str, TrackletUpdate]]) -> Records:
        """:meth:`observe` a batch, in time order (a stable sort by ``ts``)."""
        out = Records()
        for gid, u in sorted(sightings, key=lambda s: s[1].ts):
            out.extend(self.observe(gid, u))
        return out

    def tick(self, now: float) -> Records:
        """Close visits unseen for ``absence_timeout_s`` and zones left ``zone_exit_s`` ago.

        ``now`` is stream time (the clock of the latest frames), not wall time.
        """
        now = _finite(now, "now")
        out = Records()
        for visit in sorted(self._open.values(), key=lambda v: (v.out_ts, v.global_id)):
            if now - visit.out_ts >= self._timeout:
                self._close(visit, "sighting", out)
            else:
                self._expire_zones(visit, now, out)
        return out

    def reset(self, ts: float) -> Records:
        """Daily reset: close everything at its last sighting, emit ``RESET``, forget all.

        Sightings earlier than ``ts`` are dropped afterwards.
        """
        ts = _finite(ts, "ts")
        out = self._close_everything("reset")
        closed = len(out.visits)
        out.events.append(
            self._event(
                EventKind.RESET,
                ts,
                payload={
                    "closed_visits": closed,
                    "time": self.calendar.time,
                    "timezone": self.calendar.timezone,
                },
            )
        )
        self._open.clear()
        self._closed_until.clear()
        self._guard_until.clear()
        self._returning.clear()
        self._staff.clear()
        self._reset_ts = max(self._reset_ts, ts)
        return out

    def close_all(self, ts: float, reason: str = "shutdown") -> Records:
        """Clean shutdown: close every open visit and zone visit at its last sighting.

        ``reason`` becomes each visit's ``out_source``. ``ts`` is the time of the
        shutdown; it does not change any ``out_ts``.
        """
        _finite(ts, "ts")
        if not reason:
            raise ValueError("close_all: reason must be a non-empty string")
        return self._close_everything(reason)

    def mark(
        self, global_id: str, *, returning: bool | None = None, is_staff: bool | None = None
    ) -> Records:
        """Flag a person as returning and/or staff for the rest of the business day.

        The open visit (if any) is re-snapshotted with the flags, and every later
        visit of ``global_id`` carries them until the reset. Returns the snapshot.
        """
        if not isinstance(global_id, str) or not global_id:
            raise ValueError(f"global_id must be a non-empty string, got {global_id!r}")
        for flag, bucket in ((returning, self._returning), (is_staff, self._staff)):
            if flag is True:
                bucket.add(global_id)
            elif flag is False:
                bucket.discard(global_id)
        visit = self._open.get(global_id)
        if visit is None:
            return Records()
        return Records(visits=[self._snapshot(visit, closed=False)])

    def open_visits(self) -> list[Visit]:
        """Snapshots of the open visits, oldest first (live occupancy)."""
        return [
            self._snapshot(v, closed=False)
            for v in sorted(self._open.values(), key=lambda v: (v.in_ts, v.global_id))
        ]

    def occupancy(self) -> int:
        """How many people are on the premises now (open visits)."""
        return len(self._open)

    def restore(self, visits: Iterable[Visit], zone_visits: Iterable[ZoneVisit] = ()) -> int:
        """Reopen visits (and their entered zone visits) from stored open snapshots.

        Used when the IdentityActor restarts: the store's latest snapshots of the
        visits that were open carry on as if nothing happened (same ``visit_id``,
        ``in_ts``; ``out_ts`` grows with the next sightings). Closed snapshots and
        visits already open here are skipped. Returns how many visits were reopened.
        """
        restored = 0
        for v in visits:
            if v.closed or v.global_id in self._open:
                continue
            self._open[v.global_id] = _OpenVisit(
                visit_id=v.visit_id,
                global_id=v.global_id,
                day=v.day,
                in_ts=float(v.in_ts),
                out_ts=float(v.out_ts),
                in_source=v.in_source,
                first_camera=v.cameras[0] if v.cameras else "",
                last_camera=v.cameras[-1] if v.cameras else "",
                cameras=set(v.cameras),
                zones=set(v.zones),
                corrected_at=v.corrected_at,
            )
            restored += 1
        for z in zone_visits:
            visit = self._open.get(z.global_id)
            if z.closed or visit is None or visit.visit_id != z.visit_id:
                continue
            cams = tuple(z.cameras) or (visit.last_camera,)
            visit.zone_states[z.zone] = _ZoneState(
                z.zone,
                float(z.enter_ts),
                float(z.exit_ts),
                cams[0],
                cams[-1],
                set(cams),
                entered=True,
                zone_visit_id=z.zone_visit_id,
            )
        return restored

    def open_activities(self) -> list[ActivityInterval]:
        """Snapshots of the open activity intervals (they grow until closed)."""
        return self._activity.open_intervals()

    def open_zone_visits(self) -> list[ZoneVisit]:
        """Snapshots of the entered, still open zone visits (a restart carries them on)."""
        return [
            self._zone_snapshot(v, st, closed=False)
            for v in sorted(self._open.values(), key=lambda v: (v.in_ts, v.global_id))
            for st in sorted(v.zone_states.values(), key=lambda z: (z.start_ts, z.zone))
            if st.entered
        ]

    def last_sighting(self, global_id: str) -> float | None:
        """``out_ts`` of the person's open visit (None without one)."""
        v = self._open.get(global_id)
        return None if v is None else v.out_ts

    # ---- late correction -----------------------------------------------
    def merge_identity(
        self,
        src: str,
        dst: str,
        ts: float,
        stored_visits: Iterable[Visit] = (),
        stored_zones: Iterable[ZoneVisit] = (),
    ) -> tuple[Records, dict[str, str]]:
        """Late correction: ``src`` was ``dst``; rewrite their visits as one person's.

        Visits of both (the open ones here, the ``stored_visits`` snapshots of the rest)
        are sorted by ``in_ts``; those that overlap or follow each other closer than
        ``absence_timeout_s`` (as one person's sightings would have stayed one visit;
        not across an outward line crossing) become one visit that keeps the earliest
        one's ``visit_id``. Every rewritten visit belongs to ``dst`` and carries
        ``corrected_at = ts``; each absorbed one gets a tombstone (``merged_into``). Zone
        visits follow their visit; two of the same zone within ``zone_exit_s`` become
        one. Open state (zones, track-point pacing, activity runs, flags) moves to
        ``dst``. Doing it again, with the same stored records, writes the same rows.

        Returns:
            The records to store, and ``old visit_id → new visit_id`` for every visit
            of ``src`` or absorbed into another (track points and activities follow it).
        """
        out = Records()
        mapping: dict[str, str] = {}
        if src == dst:
            return out, mapping
        ts = float(ts)
        opens = {o.visit_id: o for g in (src, dst) if (o := self._open.get(g)) is not None}
        items: dict[str, tuple[Visit, _OpenVisit | None]] = {}
        for sv in stored_visits:
            if sv.global_id in (src, dst) and sv.merged_into is None and sv.visit_id not in opens:
                items[sv.visit_id] = (sv, None)
        for vid, ov in opens.items():
            items[vid] = (self._snapshot(ov, closed=False), ov)
        order = sorted(
            items.values(), key=lambda it: (it[0].in_ts, it[0].global_id != dst, it[0].visit_id)
        )
        groups: list[list[tuple[Visit, _OpenVisit | None]]] = []
        for it in order:
            if groups:
                last = groups[-1]
                end = max(x[0].out_ts for x in last)
                line_out = any(x[0].closed and x[0].out_source == "line" for x in last)
                both_open = it[1] is not None and any(x[1] is not None for x in last)
                if (
                    it[0].in_ts <= end
                    or both_open
                    or (it[0].in_ts - end < self._timeout and not line_out)
                ):
                    last.append(it)
                    continue
            groups.append([it])
        zone_map: dict[str, str] = {}
        for group in groups:
            if not any(v.global_id == src for v, _ in group):
                continue
            first = group[0][0]
            live = [v for v, ov in group if ov is not None]
            # An open visit stays open under its own ID (a closed snapshot of the same ID
            # would win over its open ones); else the earliest visit survives.
            survivor = live[0] if live else first
            for v, _ in group:
                mapping[v.visit_id] = survivor.visit_id
                if v.visit_id != survivor.visit_id:
                    out.visits.append(
                        dataclasses.replace(
                            v, closed=True, corrected_at=ts, merged_into=survivor.visit_id
                        )
                    )
            if live:
                merged = self._combine_open(survivor, first, group, dst, ts, zone_map, out)
                out.visits.append(self._snapshot(merged, closed=False))
                out.zone_visits.extend(
                    self._zone_snapshot(merged, st, closed=False)
                    for st in merged.zone_states.values()
                    if st.entered
                )
            else:
                latest = max((v for v, _ in group), key=lambda v: v.out_ts)
                out.visits.append(
                    dataclasses.replace(
                        first,
                        global_id=dst,
                        out_ts=latest.out_ts,
                        out_source=latest.out_source,
                        cameras=tuple(sorted({c for v, _ in group for c in v.cameras})),
                        zones=tuple(sorted({z for v, _ in group for z in v.zones})),
                        returning=any(v.returning for v, _ in group),
                        is_staff=any(v.is_staff for v, _ in group),
                        closed=True,
                        corrected_at=ts,
                    )
                )
        out.zone_visits.extend(
            self._merge_stored_zones(src, dst, ts, stored_zones, mapping, zone_map)
        )
        for bucket in (self._returning, self._staff):
            if src in bucket:
                bucket.discard(src)
                bucket.add(dst)
        for book in (self._closed_until, self._guard_until):
            if src in book:
                book[dst] = max(book.pop(src), book.get(dst, -math.inf))
        out.activities.extend(self._move_activity(src, dst, ts, mapping))
        return out, mapping

    def _combine_open(
        self,
        survivor: Visit,
        first: Visit,
        group: list[tuple[Visit, _OpenVisit | None]],
        dst: str,
        ts: float,
        zone_map: dict[str, str],
        out: Records,
    ) -> _OpenVisit:
        """One open visit of ``dst`` (ID of ``survivor``, start of ``first``) from a group."""
        live = [ov for _, ov in group if ov is not None]
        snaps = [v for v, _ in group]
        last = max(live, key=lambda ov: ov.out_ts)
        first_open = next((ov for v, ov in group if ov is not None and v is first), None)
        merged = _OpenVisit(
            visit_id=survivor.visit_id,
            global_id=dst,
            day=first.day,
            in_ts=first.in_ts,
            out_ts=max(v.out_ts for v in snaps),
            in_source=first.in_source,
            first_camera=first_open.first_camera
            if first_open
            else (first.cameras[0] if first.cameras else last.first_camera),
            last_camera=last.last_camera,
            cameras={c for v in snaps for c in v.cameras},
            zones={z for v in snaps for z in v.zones},
            corrected_at=ts,
        )
        for ov in live:
            for zone, floor in ov.zone_floor.items():
                merged.zone_floor[zone] = max(floor, merged.zone_floor.get(zone, -math.inf))
            for cam, tp in ov.track_point_ts.items():
                merged.track_point_ts[cam] = max(tp, merged.track_point_ts.get(cam, -math.inf))
            for zone, st in ov.zone_states.items():
                cur = merged.zone_states.get(zone)
                if cur is None:
                    merged.zone_states[zone] = dataclasses.replace(st, cameras=set(st.cameras))
                    continue
                keep, drop = sorted((cur, st), key=lambda z: (not z.entered, z.start_ts))
                if drop.entered:  # two zone visits of one zone at once: one stays
                    zone_map[drop.zone_visit_id] = keep.zone_visit_id
                    out.zone_visits.append(
                        ZoneVisit(
                            zone_visit_id=drop.zone_visit_id,
                            site_id=self.site_id,
                            day=merged.day,
                            global_id=dst,
                            visit_id=merged.visit_id,
                            zone=zone,
                            enter_ts=drop.start_ts,
                            exit_ts=drop.last_inside,
                            cameras=tuple(sorted(drop.cameras)),
                            closed=True,
                            corrected_at=ts,
                            merged_into=keep.zone_visit_id,
                        )
                    )
                early = min((cur, st), key=lambda z: z.start_ts)
                late = max((cur, st), key=lambda z: z.last_inside)
                merged.zone_states[zone] = _ZoneState(
                    zone,
                    early.start_ts,
                    late.last_inside,
                    early.first_camera,
                    late.last_camera,
                    cur.cameras | st.cameras,
                    entered=keep.entered,
                    zone_visit_id=keep.zone_visit_id,
                )
        for g in {v.global_id for v in snaps}:
            self._open.pop(g, None)
        self._open[dst] = merged
        return merged

    def _merge_stored_zones(
        self,
        src: str,
        dst: str,
        ts: float,
        stored: Iterable[ZoneVisit],
        mapping: dict[str, str],
        zone_map: dict[str, str],
    ) -> list[ZoneVisit]:
        """Stored zone visits of the merged visits, rewritten; same-zone neighbours joined."""
        live = {
            st.zone_visit_id
            for v in self._open.values()
            if v.global_id == dst
            for st in v.zone_states.values()
            if st.entered
        }
        todo = [
            z
            for z in stored
            if z.merged_into is None
            and z.zone_visit_id not in live
            and z.zone_visit_id not in zone_map
            and (z.global_id == src or (z.global_id == dst and z.visit_id in mapping))
        ]
        out: list[ZoneVisit] = []
        todo.sort(key=lambda z: (mapping.get(z.visit_id, z.visit_id), z.zone, z.enter_ts))
        cur: ZoneVisit | None = None
        for z in todo:
            z = dataclasses.replace(
                z, global_id=dst, visit_id=mapping.get(z.visit_id, z.visit_id), corrected_at=ts
            )
            if (
                cur is not None
                and cur.visit_id == z.visit_id
                and cur.zone == z.zone
                and z.enter_ts - cur.exit_ts <= self._exit_s
            ):
                out.append(dataclasses.replace(z, closed=True, merged_into=cur.zone_visit_id))
                cur = dataclasses.replace(
                    cur,
                    exit_ts=max(cur.exit_ts, z.exit_ts),
                    cameras=tuple(sorted(set(cur.cameras) | set(z.cameras))),
                )
                continue
            if cur is not None:
                out.append(cur)
            cur = z
        if cur is not None:
            out.append(cur)
        return out

    def _move_activity(
        self, src: str, dst: str, ts: float, mapping: dict[str, str]
    ) -> list[ActivityInterval]:
        """The open activity run of ``src`` becomes ``dst``'s (or closes if ``dst`` has one)."""
        runs = self._activity._runs
        out: list[ActivityInterval] = []
        for gid in (dst, src):
            run = runs.get(gid)
            if run is not None and run.visit_id in mapping:
                run.visit_id = mapping[run.visit_id]
        run = runs.pop(src, None)
        if run is None:
            return out
        snap = self._activity._snapshot(dst, run, closed=dst in runs)
        out.append(dataclasses.replace(snap, corrected_at=ts))
        if dst not in runs:
            runs[dst] = run
        return out

    # ---- visits --------------------------------------------------------
    def _open_visit(
        self, gid: str, ts: float, camera: str, source: str, out: Records
    ) -> _OpenVisit:
        visit = _OpenVisit(
            visit_id=stable_id(self.site_id, gid, ts),
            global_id=gid,
            day=self._day(ts),
            in_ts=ts,
            out_ts=ts,
            in_source=source,
            first_camera=camera,
            last_camera=camera,
            cameras={camera},
        )
        self._open[gid] = visit
        self._guard_until.pop(gid, None)
        out.visits.append(self._snapshot(visit, closed=False))
        out.events.append(
            self._event(
                EventKind.VISIT_OPEN,
                ts,
                gid,
                camera,
                visit.visit_id,
                payload={"in_source": source},
            )
        )
        return visit

    def _move_in(self, visit: _OpenVisit, ts: float, source: str, out: Records) -> None:
        visit.in_ts = ts
        visit.in_source = source
        visit.day = self._day(ts)
        visit.out_ts = max(visit.out_ts, ts)
        out.visits.append(self._snapshot(visit, closed=False))

    def _sighting(self, visit: _OpenVisit, u: TrackletUpdate, out: Records) -> None:
        ts = float(u.ts)
        if ts < visit.in_ts and visit.in_source == "sighting":
            self._move_in(visit, ts, "sighting", out)
        if ts >= visit.out_ts:
            visit.last_camera = u.camera_id
        visit.out_ts = max(visit.out_ts, ts)
        visit.cameras.add(u.camera_id)
        for zone in dict.fromkeys(u.zones):
            self._inside(visit, zone, ts, u.camera_id, out)
        self._expire_zones(visit, visit.out_ts, out)
        self._track_point(visit, u, out)
        if u.activity is not None:
            intervals, alerts = self._activity.observe(
                visit.global_id, visit.visit_id, visit.day, u, self._day
            )
            out.activities.extend(intervals)
            out.events.extend(alerts)

    def _cross(
        self, gid: str, u: TrackletUpdate, line: str, direction: Direction, out: Records
    ) -> _OpenVisit | None:
        ts = float(u.ts)
        visit = self._open.get(gid)
        if direction is Direction.IN:
            if visit is None:
                visit = self._open_visit(gid, ts, u.camera_id, "line", out)
            elif visit.in_source == "sighting" and ts - visit.in_ts <= self.line_window_s:
                self._move_in(visit, ts, "line", out)
        elif visit is not None:
            visit.out_ts = max(visit.out_ts, ts)
            visit.last_camera = u.camera_id
            visit.cameras.add(u.camera_id)
            self._close(visit, "line", out)
        out.events.append(
            self._event(
                EventKind.LINE_CROSS,
                ts,
                gid,
                u.camera_id,
                visit.visit_id if visit is not None else None,
                payload={"line": line, "direction": direction.value},
            )
        )
        if direction is Direction.OUT:
            self._guard_until[gid] = ts + self.line_window_s
            return None
        return visit

    def _close(self, visit: _OpenVisit, source: str, out: Records) -> None:
        for st in sorted(visit.zone_states.values(), key=lambda s: (s.start_ts, s.zone)):
            if st.entered:
                self._exit(visit, st, out)
        visit.zone_states.clear()
        out.activities.extend(self._activity.close(visit.global_id))
        out.visits.append(self._snapshot(visit, closed=True, out_source=source))
        out.events.append(
            self._event(
                EventKind.VISIT_CLOSE,
                visit.out_ts,
                visit.global_id,
                visit.last_camera,
                visit.visit_id,
                payload={
                    "out_source": source,
                    "in_ts": visit.in_ts,
                    "dwell_s": visit.out_ts - visit.in_ts,
                },
            )
        )
        del self._open[visit.global_id]
        self._closed_until[visit.global_id] = visit.out_ts

    def _close_everything(self, source: str) -> Records:
        out = Records()
        for visit in sorted(self._open.values(), key=lambda v: (v.in_ts, v.global_id)):
            self._close(visit, source, out)
        return out

    # ---- zones ---------------------------------------------------------
    def _inside(self, visit: _OpenVisit, zone: str, ts: float, camera: str, out: Records) -> None:
        st = visit.zone_states.get(zone)
        if st is None:
            if ts <= visit.zone_floor.get(zone, -math.inf):
                return  # late observation of a zone visit already closed
            st = visit.zone_states[zone] = _ZoneState(zone, ts, ts, camera, camera, {camera})
        elif ts > st.last_inside:
            if ts - st.last_inside > self._exit_s:  # out too long: a new streak
                if st.entered:
                    self._exit(visit, st, out)
                st = visit.zone_states[zone] = _ZoneState(zone, ts, ts, camera, camera, {camera})
            else:
                st.last_inside = ts
                st.last_camera = camera
                st.cameras.add(camera)
        elif ts >= st.start_ts:
            st.cameras.add(camera)
        elif not st.entered and st.start_ts - ts <= self._exit_s:
            st.start_ts = ts  # a late observation extends the streak backwards
            st.first_camera = camera
            st.cameras.add(camera)
        if not st.entered and st.last_inside - st.start_ts >= self._enter_s:
            self._enter(visit, st, out)

    def _enter(self, visit: _OpenVisit, st: _ZoneState, out: Records) -> None:
        st.entered = True
        st.zone_visit_id = stable_id(visit.visit_id, st.zone, st.start_ts)
        visit.zones.add(st.zone)
        out.zone_visits.append(self._zone_snapshot(visit, st, closed=False))
        out.events.append(
            self._event(
                EventKind.ZONE_ENTER,
                st.start_ts,
                visit.global_id,
                st.first_camera,
                visit.visit_id,
                st.zone,
                payload={"zone_visit_id": st.zone_visit_id},
            )
        )

    def _exit(self, visit: _OpenVisit, st: _ZoneState, out: Records) -> None:
        out.zone_visits.append(self._zone_snapshot(visit, st, closed=True))
        out.events.append(
            self._event(
                EventKind.ZONE_EXIT,
                st.last_inside,
                visit.global_id,
                st.last_camera,
                visit.visit_id,
                st.zone,
                payload={
                    "zone_visit_id": st.zone_visit_id,
                    "enter_ts": st.start_ts,
                    "dwell_s": st.last_inside - st.start_ts,
                },
            )
        )
        visit.zone_floor[st.zone] = st.last_inside
        visit.zone_states.pop(st.zone, None)

    def _expire_zones(self, visit: _OpenVisit, now: float, out: Records) -> None:
        limit = self._exit_s + self.reorder_s
        for st in sorted(visit.zone_states.values(), key=lambda s: (s.start_ts, s.zone)):
            if now - st.last_inside > limit:
                if st.entered:
                    self._exit(visit, st, out)
                else:
                    del visit.zone_states[st.zone]  # a pass-through: no zone visit

    # ---- track points --------------------------------------------------
    def _track_point(self, visit: _OpenVisit, u: TrackletUpdate, out: Records) -> None:
        if u.frame_size is None:
            return
        ts = float(u.ts)
        last = visit.track_point_ts.get(u.camera_id)
        if last is not None and ts - last < self._tp_every:
            return
        w, h = u.frame_size
        if w <= 0 or h <= 0:
            raise ValueError(
                f"camera {u.camera_id!r}: frame_size must be positive, got {u.frame_size}"
            )
        visit.track_point_ts[u.camera_id] = ts
        out.track_points.append(
            TrackPoint(
                site_id=self.site_id,
                day=self._day(ts),
                camera_id=u.camera_id,
                global_id=visit.global_id,
                visit_id=visit.visit_id,
                ts=ts,
                x=min(max(float(u.foot[0]) / w, 0.0), 1.0),
                y=min(max(float(u.foot[1]) / h, 0.0), 1.0),
                zone=u.zones[0] if u.zones else None,
            )
        )

    # ---- helpers -------------------------------------------------------
    def _check(self, global_id: str, u: TrackletUpdate) -> None:
        if not isinstance(global_id, str) or not global_id:
            raise ValueError(f"global_id must be a non-empty string, got {global_id!r}")
        if u.camera_id not in self._zones:
            raise ValueError(
                f"unknown camera {u.camera_id!r} (cameras of site {self.site_id!r}: "
                f"{sorted(self._zones)})"
            )
        _finite(u.ts, f"camera {u.camera_id!r} update ts")
        unknown = [z for z in u.zones if z not in self._zones[u.camera_id]]
        if unknown:
            raise ValueError(
                f"camera {u.camera_id!r}: unknown zones {unknown} "
                f"(its zones: {sorted(self._zones[u.camera_id])})"
            )
        for c in u.crossings:
            if c.line not in self._lines[u.camera_id]:
                raise ValueError(
                    f"camera {u.camera_id!r}: unknown line {c.line!r} "
                    f"(its lines: {sorted(self._lines[u.camera_id])})"
                )
            if c.direction not in (Direction.IN, Direction.OUT):
                raise ValueError(
                    f"line {c.line!r}: direction must be 'in' or 'out', got {c.direction!r}"
                )

    def _day(self, ts: float) -> str:
        lo, hi, day = self._day_cache
        if lo <= ts < hi:
            return day
        day = self.calendar.day_of(ts)
        lo, hi = self.calendar.day_bounds(day)
        self._day_cache = (lo, hi, day)
        return day

    def _event(
        self,
        kind: EventKind,
        ts: float,
        global_id: str | None = None,
        camera_id: str | None = None,
        visit_id: str | None = None,
        zone: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> Event:
        return Event(
            kind=kind.value,
            ts=ts,
            day=self._day(ts),
            site_id=self.site_id,
            global_id=global_id,
            camera_id=camera_id,
            visit_id=visit_id,
            zone=zone,
            payload=payload or {},
        )

    def _snapshot(self, v: _OpenVisit, *, closed: bool, out_source: str = "sighting") -> Visit:
        return Visit(
            visit_id=v.visit_id,
            site_id=self.site_id,
            day=v.day,
            global_id=v.global_id,
            in_ts=v.in_ts,
            out_ts=v.out_ts,
            cameras=tuple(sorted(v.cameras)),
            zones=tuple(sorted(v.zones)),
            in_source=v.in_source,
            out_source=out_source,
            returning=v.global_id in self._returning,
            is_staff=v.global_id in self._staff,
            closed=closed,
            corrected_at=v.corrected_at,
        )

    def _zone_snapshot(self, v: _OpenVisit, st: _ZoneState, *, closed: bool) -> ZoneVisit:
        return ZoneVisit(
            zone_visit_id=st.zone_visit_id,
            site_id=self.site_id,
            day=v.day,
            global_id=v.global_id,
            visit_id=v.visit_id,
            zone=st.zone,
            enter_ts=st.start_ts,
            exit_ts=st.last_inside,
            cameras=tuple(sorted(st.cameras)),
            closed=closed,
            corrected_at=v.corrected_at,
        )


def _finite(value: float, what: str) -> float:
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number of epoch seconds, got {value!r}") from None
    if not math.isfinite(f):
        raise ValueError(f"{what} must be finite epoch seconds, got {value!r}")
    return f
