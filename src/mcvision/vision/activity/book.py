"""Per person: activity intervals per visit, zone and label run, and ``fallen`` alerts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mcvision.types import ActivityInterval, Event, EventKind, TrackletUpdate, stable_id
from mcvision.vision.activity.features import Activity


@dataclass
class _Run:
    interval_id: str
    visit_id: str
    day: str
    activity: str
    zone: str | None
    camera_id: str
    start_ts: float
    end_ts: float


@dataclass
class ActivityBook:
    """Activity intervals per person, visit and zone from labelled sightings.

    A run of the same label in the same zone (first zone of the update, or none)
    is one interval; a different label or zone, a gap over ``gap_s``, or the
    visit's end closes it. While one camera reports a person, another camera's
    labels for them are ignored for ``handover_s`` (overlapping views are not
    counted twice). A ``fallen`` interval emits an ``alert`` event when it opens.

    Onsets: a label change reaches the book when the smoother lets it through, up to
    ``min_label_s`` after it started; the sighting's ``activity_since`` says when. The
    new interval is back-dated to it (not before the previous interval's start) and
    the previous interval of the same visit and zone ends there, so each interval
    covers the time its label was true, not that time shifted by the smoothing. The
    alert still goes out when the ``fallen`` label arrives (its ``ts``); its payload
    carries the onset.

    Snapshots go out on open and on close (``closed=True``); the store keeps the
    latest per ``interval_id``.
    """

    site_id: str
    gap_s: float = 3.0
    handover_s: float = 1.5
    _runs: dict[str, _Run] = field(default_factory=dict)

    def observe(
        self,
        global_id: str,
        visit_id: str,
        day: str,
        u: TrackletUpdate,
        event_day: Callable[[float], str],
    ) -> tuple[list[ActivityInterval], list[Event]]:
        """Take one sighting (ignored unless it carries an activity)."""
        intervals: list[ActivityInterval] = []
        events: list[Event] = []
        if u.activity is None or u.ended:
            return intervals, events
        ts = float(u.ts)
        zone = u.zones[0] if u.zones else None
        run = self._runs.get(global_id)
        if run is not None and run.visit_id == visit_id:
            if ts < run.end_ts:
                return intervals, events  # late: the run has moved on
            if u.camera_id != run.camera_id and ts - run.end_ts <= self.handover_s:
                return intervals, events
            if run.activity == u.activity and run.zone == zone and ts - run.end_ts <= self.gap_s:
                run.end_ts = ts
                run.camera_id = u.camera_id
                return intervals, events
        start = ts
        if run is not None:
            same = run.visit_id == visit_id and run.zone == zone and run.activity != u.activity
            since = u.activity_since
            if same and since is not None and since < ts and ts - run.end_ts <= self.gap_s:
                start = max(float(since), run.start_ts)
                run.end_ts = min(run.end_ts, start)
            intervals.append(self._snapshot(global_id, run, closed=True))
        run = _Run(
            interval_id=stable_id(visit_id, u.activity, zone, start),
            visit_id=visit_id,
            day=day,
            activity=u.activity,
            zone=zone,
            camera_id=u.camera_id,
            start_ts=start,
            end_ts=ts,
        )
        self._runs[global_id] = run
        intervals.append(self._snapshot(global_id, run, closed=False))
        if u.activity == Activity.FALLEN.value:
            events.append(
                Event(
                    kind=EventKind.ALERT.value,
                    ts=ts,
                    day=event_day(ts),
                    site_id=self.site_id,
                    global_id=global_id,
                    camera_id=u.camera_id,
                    visit_id=visit_id,
                    zone=zone,
                    payload={
                        "alert": "fallen",
                        "interval_id": run.interval_id,
                        "onset_ts": run.start_ts,
                    },
                )
            )
        return intervals, events

    def close(self, global_id: str) -> list[ActivityInterval]:
        """Close the person's open interval (their visit ended)."""
        run = self._runs.pop(global_id, None)
        return [] if run is None else [self._snapshot(global_id, run, closed=True)]

    def open_intervals(self) -> list[ActivityInterval]:
        """Snapshots of the open intervals."""
        return [self._snapshot(g, r, closed=False) for g, r in sorted(self._runs.items())]

    def clear(self) -> None:
        self._runs.clear()

    def _snapshot(self, gid: str, r: _Run, *, closed: bool) -> ActivityInterval:
        return ActivityInterval(
            interval_id=r.interval_id,
            site_id=self.site_id,
            day=r.day,
            global_id=gid,
            visit_id=r.visit_id,
            activity=r.activity,
            zone=r.zone,
            camera_id=r.camera_id,
            start_ts=r.start_ts,
            end_ts=r.end_ts,
            closed=closed,
        )
