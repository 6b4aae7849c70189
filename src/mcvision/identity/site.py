"""The identity core of one site: tracklet updates in, durable visits out.

:class:`SiteIdentity` chains the three parts that the IdentityActor wraps:

``TrackletUpdate``s → :class:`~mcvision.identity.manager.IdentityManager`
(global IDs) → :class:`~mcvision.identity.visits.VisitBook` (visits, zones,
track points) → :class:`~mcvision.analytics.store.EventStore` (Parquet).

It also owns the daily reset: when data crosses the next reset time of the
:class:`~mcvision.business_day.BusinessCalendar`, the reset runs *at* the
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

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from mcvision.analytics.store import EventStore
from mcvision.business_day import BusinessCalendar
from mcvision.config import SiteConfig
from mcvision.identity.correction import Corrector
from mcvision.identity.customers import (
    DAY_S,
    CustomerGallery,
    CustomerLinker,
    Decision,
    erase_customer_records,
)
from mcvision.identity.gallery import Gallery
from mcvision.identity.manager import IdentityManager
from mcvision.identity.staff import StaffRegistry, visits_of
from mcvision.identity.visits import VisitBook
from mcvision.types import Event, EventKind, Records, TrackletUpdate, Visit, ZoneVisit
from mcvision.vision.activity import AlertWebhook
from mcvision.vision.reid import embedding_dim

log = logging.getLogger(__name__)


class SiteIdentity:
    """Global IDs, visits and their storage for one site.

    Args:
        cfg: the site config (storage paths, thresholds, reset).
        store: the event store (default: ``storage.root``/events).
        gallery: the LanceDB gallery (default: ``storage.root``/gallery).
        flush_every_s: how often :meth:`tick` writes Parquet (by ``monotonic``); each
            flush also writes snapshots of the open visits, so readers see them grow.
        monotonic: the pacing clock (injected for tests).
        customers: the long-term customer gallery (default: ``storage.root``/customers
            when ``customers.enabled``, else none).
        staff: the staff registry (default: ``storage.root``/staff when it exists).

    Returning customers and staff: once a day's identity settles (see
    :class:`~mcvision.identity.customers.CustomerLinker`) it is matched against the
    staff registry, then the customers; a match flags its visits (``is_staff`` or
    ``returning``) and writes a ``staff`` / ``returning`` event (payload: the
    customer's ``visit_count`` before today, the similarities). At the reset the
    day's identities are folded into the customers, and the retention purge runs
    then and from :meth:`tick` every ``customers.purge_every_s`` of site time.
    """

    def __init__(
        self,
        cfg: SiteConfig,
        store: EventStore | None = None,
        gallery: Gallery | None = None,
        flush_every_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
        customers: CustomerGallery | None = None,
        staff: StaffRegistry | None = None,
    ) -> None:
        self.cfg = cfg
        self.calendar = BusinessCalendar.from_config(cfg.reset)
        self.store = store or EventStore.from_config(cfg)
        self.gallery = gallery or Gallery(
            Path(cfg.storage.gallery_dir()), dim=embedding_dim(cfg.models.reid)
        )
        self.manager = IdentityManager(
            cfg, self.gallery, self.calendar, gallery_flush_s=cfg.identity.gallery_flush_s
        )
        self.visits = VisitBook(cfg, self.calendar)
        self.corrector = Corrector(cfg, self.manager, self.visits, self.store, self.calendar)
        self.latest_ts: float | None = None
        self._next_reset: float | None = None
        self.updates_in = 0
        self.flush_every_s = flush_every_s
        # Flush as soon as a visit opens (the IdentityActor turns it on: a restart
        # then finds every open visit in the store), not only every flush_every_s.
        self.flush_on_open = False
        self.monotonic = monotonic
        self._last_flush = monotonic()
        cc = cfg.customers
        if customers is None and cc.enabled:
            customers = CustomerGallery.from_config(
                cc, Path(cfg.storage.customers_dir()), body_dim=self.gallery.dim
            )
        self.customers = customers
        if staff is None and Path(cfg.storage.staff_dir()).exists():
            staff = StaffRegistry(
                Path(cfg.storage.staff_dir()), self.gallery.dim, cfg.staff.match_threshold
            )
        self.staff = staff
        self.linker = CustomerLinker(customers, staff, min_embeddings=cc.min_embeddings)
        self._last_purge: float | None = None
        self.webhook: AlertWebhook | None = None
        if cfg.activity.webhook_url:
            self.webhook = AlertWebhook(cfg.activity.webhook_url, cfg.activity.webhook_timeout_s)

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
        if self.customers is not None or self.staff is not None:
            for d in self.linker.observe(result.sightings):
                rec.extend(self._apply(d, last))
        self.store.write(rec)
        rec.extend(self.corrector.step(last))  # late merges (written by the corrector)
        if self.webhook is not None:
            self.webhook.post_later(rec.events)  # in the background: ingest never waits
        if self.flush_on_open and any(e.kind == EventKind.VISIT_OPEN for e in rec.events):
            self.flush()  # a new visit is durable at once: a restarted actor restores it
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
        every = self.cfg.customers.purge_every_s
        if self._last_purge is None or now - self._last_purge >= every:
            self.purge(now)
        due = self.monotonic() - self._last_flush >= self.flush_every_s
        if flush or (flush is None and due):
            self.flush()
        return out

    def flush(self) -> None:
        """Write open-visit snapshots and everything buffered to Parquet (and the gallery)."""
        self.manager.flush_gallery()
        open_now = self.visits.open_visits()
        if open_now:
            self.store.write(Records(visits=open_now, zone_visits=self.visits.open_zone_visits()))
        open_acts = self.visits.open_activities()
        if open_acts:
            self.store.write(Records(activities=open_acts))
        self.store.flush()
        self._last_flush = self.monotonic()

    def reset(self, ts: float) -> Records:
        """The daily reset at ``ts``: close open visits, archive identities, restart IDs.

        With customers on, the day's identities are folded into the customers
        first, and the retention purge runs.
        """
        if self.customers is not None and self.manager.day is not None:
            self.fold_day(self.manager.day)
        self.linker.reset()
        rec = self.visits.reset(ts)
        rec.events.extend(self.manager.reset(ts))
        self.store.write(rec)
        self.store.flush()
        self.purge(ts)
        return rec

    # ---- customers, staff, retention -------------------------------------
    def _apply(self, d: Decision, ts: float) -> Records:
        staff = d.kind == "staff"
        rec = self.visits.mark(
            d.global_id, is_staff=True if staff else None, returning=None if staff else True
        )
        visit_id = rec.visits[0].visit_id if rec.visits else None
        rec.events.append(
            Event(
                kind=EventKind.STAFF if staff else EventKind.RETURNING,
                ts=float(ts),
                day=self.calendar.day_of(ts),
                site_id=self.cfg.site_id,
                global_id=d.global_id,
                visit_id=visit_id,
                payload=d.payload(),
            )
        )
        return rec

    def fold_day(self, day: str) -> dict[str, str]:
        """Fold a business day's identities into the customers (``global_id → customer_id``).

        Body embeddings come from the day's gallery (so a restart loses nothing),
        faces and the day's matches from the linker; staff are left out.
        """
        if self.customers is None:
            return {}
        self.manager.flush_gallery()
        rows: dict[str, list] = {}
        for r in self.gallery.rows(day=day):
            rows.setdefault(r.global_id, []).append(r)
        body = {
            gid: (np.stack([r.vector for r in rs]), min(r.ts for r in rs), max(r.ts for r in rs))
            for gid, rs in rows.items()
        }
        return self.customers.fold_day(day, self.linker.day_people(body))

    def purge(self, now: float) -> dict[str, int]:
        """Retention: delete customers and archived gallery rows older than the period."""
        self._last_purge = float(now)
        cutoff = float(now) - self.cfg.customers.retention_days * DAY_S
        gone = self.customers.purge(now) if self.customers is not None else []
        return {"customers": len(gone), "gallery": self.gallery.purge_archived(cutoff)}

    def mark_staff(self, global_id: str) -> int:
        """Mark a global ID as staff: flag its visits (open and stored), enrol its embeddings.

        Returns:
            How many visits were flagged.

        Raises:
            KeyError: the ID has no visit, open or stored.
        """
        self.linker.mark_staff(global_id)
        rec = self.visits.mark(global_id, is_staff=True)
        self.store.write(rec)
        self.store.flush()
        stored = [v for v in visits_of(self.store, global_id) if not v.is_staff]
        open_ids = {v.visit_id for v in rec.visits}
        if not stored and not rec.visits and not visits_of(self.store, global_id):
            raise KeyError(f"no visits of global ID {global_id!r}")
        flagged = [dataclasses.replace(v, is_staff=True) for v in stored]
        ts = max([v.out_ts for v in flagged + rec.visits], default=self.latest_ts or 0.0)
        ev = Event(
            kind=EventKind.STAFF,
            ts=float(ts),
            day=self.calendar.day_of(ts),
            site_id=self.cfg.site_id,
            global_id=global_id,
            payload={"source": "admin"},
        )
        self.store.write(Records(events=[ev], visits=flagged))
        self.store.flush()
        vecs = self.gallery.embeddings_of(global_id)
        if len(vecs):
            if self.staff is None:
                self.staff = StaffRegistry(
                    Path(self.cfg.storage.staff_dir()),
                    self.gallery.dim,
                    self.cfg.staff.match_threshold,
                )
                self.linker.staff = self.staff
            self.staff.enrol_vectors(global_id, vecs, source=global_id)
        return len(open_ids | {v.visit_id for v in flagged})

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
        self.manager.flush_gallery()
        self.store.flush()
        if self.webhook is not None and not self.webhook.drain(timeout_s=10.0):
            log.warning("alert webhook: alerts still unsent at shutdown")
        return rec

    def erase_customer(self, customer_id: str) -> dict[str, object]:
        """Right to erasure through the running core (see :func:`mcvision.privacy.erase_customer`).

        Today's IDs matched to the customer are also kept out of tonight's fold.

        Raises:
            KeyError: unknown customer, or customers are off.
        """
        if self.customers is None:
            raise KeyError(f"unknown customer {customer_id!r}: customers are off for this site")
        self.store.flush()
        out = erase_customer_records(customer_id, self.customers, self.gallery, self.store)
        self.linker.forget_customer(customer_id)
        return out

    # ---- live state --------------------------------------------------------
    def occupancy(self) -> int:
        """People in the premises now (open visits)."""
        return self.visits.occupancy()

    def open_visits(self) -> list[Visit]:
        return self.visits.open_visits()

    def restore(self) -> int:
        """Reopen the visits a previous incarnation left open (an IdentityActor restart).

        Reads the newest business day's open visit and zone-visit snapshots from the
        store; identities come back from the gallery on the next update
        (:meth:`IdentityManager.restore`). Returns how many visits were reopened.
        """
        days = self.store.days()
        if not days:
            return 0
        day = days[-1]
        rows = self.store.sql(
            "SELECT visit_id, site_id, day, global_id, in_ts, out_ts, cameras, zones,"
            ' in_source, out_source, "returning", is_staff, closed, corrected_at'
            " FROM visits WHERE NOT closed",
            day=day,
        )
        visits = [
            Visit(**{**r, "cameras": tuple(r["cameras"] or ()), "zones": tuple(r["zones"] or ())})
            for r in rows
        ]
        zrows = self.store.sql(
            "SELECT zone_visit_id, site_id, day, global_id, visit_id, zone, enter_ts, exit_ts,"
            " cameras, closed FROM zone_visits WHERE NOT closed",
            day=day,
        )
        zones = [ZoneVisit(**{**r, "cameras": tuple(r["cameras"] or ())}) for r in zrows]
        n = self.visits.restore(visits, zones)
        if visits:
            last = max(v.out_ts for v in visits)
            self.latest_ts = last if self.latest_ts is None else max(self.latest_ts, last)
        return n
