"""The identity core of one site: tracklet updates in, durable visits out.

:class:`SiteIdentity` chains the three parts that the IdentityActor wraps:

``TrackletUpdate``s → :class:`~mcvision.identity.manager.IdentityManager`
(global IDs) → :class:`~mcvision.identity.visits.VisitBook` (visits, zones,
track points) → :class:`~mcvision.analytics.store.EventStore` (Parquet).

It also owns the daily reset: when data crosses the next reset time of the
:class:`~mcvision.identity.reset.BusinessCalendar`, the reset runs *at* the
boundary before the later updates are used, so a replayed file splits days
exactly where a live run would. Time is the data's: ``ingest`` follows the
frames' timestamps, and ``tick(now)`` takes the caller's clock.

Example:
    >>> core = SiteIdentity(cfg)                     # doctest: +SKIP
    >>> core.ingest(updates)                         # doctest: +SKIP
    >>> core.tick(now=updates[-1].ts)                # doctest: +SKIP
    >>> core.close()                                 # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from mcvision.analytics.store import EventStore
from mcvision.config import SiteConfig
from mcvision.identity.gallery import Gallery
from mcvision.identity.manager import IdentityManager
from mcvision.identity.reset import BusinessCalendar
from mcvision.identity.visits import VisitBook
from mcvision.types import Event, EventKind, Records, TrackletUpdate, Visit


class SiteIdentity:
    """Global IDs, visits and their storage for one site.

    Args:
        cfg: the site config (storage paths, thresholds, reset).
        store: the event store (default: ``storage.root``/events).
        gallery: the LanceDB gallery (default: ``storage.root``/gallery).
        flush_every_s: how often :meth:`tick` writes Parquet (by ``monotonic``); each
            flush also writes snapshots of the open visits, so readers see them grow.
        monotonic: the pacing clock (injected for tests).
    """

    def __init__(
        self,
        cfg: SiteConfig,
        store: EventStore | None = None,
        gallery: Gallery | None = None,
        flush_every_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cfg = cfg
        self.calendar = BusinessCalendar.from_config(cfg.reset)
        self.store = store or EventStore.from_config(cfg)
        self.gallery = gallery or Gallery(Path(cfg.storage.gallery_dir()))
        self.manager = IdentityManager(cfg, self.gallery, self.calendar)
        self.visits = VisitBook(cfg, self.calendar)
        self.latest_ts: float | None = None
        self._next_reset: float | None = None
        self.updates_in = 0
        self.flush_every_s = flush_every_s
        self.monotonic = monotonic
        self._last_flush = monotonic()

    # ---- input -----------------------------------------------------------
    def ingest(self, updates: Sequence[TrackletUpdate]) -> Records:
        """Use a batch of updates (any cameras). Returns what was written to the store."""
        out = Records()
        if not updates:
            return out
        batch = sorted(updates, key=lambda u: u.ts)
        self.updates_in += len(batch)
        if self._next_reset is None:
            self._next_reset = self.calendar.next_reset_after(batch[0].ts)
        start = 0
        for i, u in enumerate(batch):
            if u.ts >= self._next_reset:
                out.extend(self._use(batch[start:i]))
                out.extend(self.reset(self._next_reset))
                start = i
                self._next_reset = self.calendar.next_reset_after(u.ts)
        out.extend(self._use(batch[start:]))
        return out

    def _use(self, updates: Sequence[TrackletUpdate]) -> Records:
        if not updates:
            return Records()
        result = self.manager.update(updates)
        rec = Records(events=list(result.events))
        rec.extend(self.visits.observe_many(result.sightings))
        last = updates[-1].ts
        self.latest_ts = last if self.latest_ts is None else max(self.latest_ts, last)
        self.store.write(rec)
        return rec

    # ---- time ------------------------------------------------------------
    def tick(self, now: float, *, flush: bool | None = None) -> Records:
        """Close visits absent long enough, run a due reset, flush when due.

        Args:
            now: the site's current time (data time for replays, wall clock live).
            flush: force (True) or skip (False) the flush; default every ``flush_every_s``.
        """
        out = Records()
        if self._next_reset is not None and now >= self._next_reset:
            out.extend(self.reset(self._next_reset))
            self._next_reset = self.calendar.next_reset_after(now)
        rec = self.visits.tick(now)
        self.store.write(rec)
        out.extend(rec)
        due = self.monotonic() - self._last_flush >= self.flush_every_s
        if flush or (flush is None and due):
            self.flush()
        return out

    def flush(self) -> None:
        """Write open-visit snapshots and everything buffered to Parquet."""
        open_now = self.visits.open_visits()
        if open_now:
            self.store.write(Records(visits=open_now))
        self.store.flush()
        self._last_flush = self.monotonic()

    def reset(self, ts: float) -> Records:
        """The daily reset at ``ts``: close open visits, archive identities, restart IDs."""
        rec = self.visits.reset(ts)
        rec.events.extend(self.manager.reset(ts))
        self.store.write(rec)
        self.store.flush()
        return rec

    def camera_status(self, camera_id: str, status: str, ts: float, reason: str = "") -> Event:
        """Record a camera going offline or online."""
        kind = EventKind.CAMERA_ONLINE if status == "online" else EventKind.CAMERA_OFFLINE
        event = Event(
            kind=kind,
            ts=ts,
            day=self.calendar.day_of(ts),
            site_id=self.cfg.site_id,
            camera_id=camera_id,
            payload={"reason": reason} if reason else {},
        )
        self.store.write(Records(events=[event]))
        return event

    def close(self, ts: float | None = None, reason: str = "shutdown") -> Records:
        """Clean shutdown: close open visits at their last sighting and flush everything."""
        ts = ts if ts is not None else (self.latest_ts or 0.0)
        rec = self.visits.close_all(ts, reason)
        self.store.write(rec)
        self.store.flush()
        return rec

    # ---- live state --------------------------------------------------------
    def occupancy(self) -> int:
        """People in the premises now (open visits)."""
        return self.visits.occupancy()

    def open_visits(self) -> list[Visit]:
        return self.visits.open_visits()
