"""Late correction: two global IDs that later evidence shows to be one person are merged.

Online IDs are decided within seconds of a track starting, often on one or two
embeddings; a poor first crop gives a person a second ID. While both IDs are
still recent, more embeddings can show the mistake. :class:`Corrector` looks
for it every ``_CHECK_EVERY_S`` of site time and merges the newer ID (``src``)
into the older one (``dst``, which survives):

**Evidence.** The cosine between the two identities' mean gallery embeddings
(each re-normalised; gallery embeddings centred on their cameras with
``identity.camera_centring``) must reach ``identity.merge_threshold``
(stricter than ``match_threshold``: this is a decision with more data, and it
rewrites history; a lower value counts as ``match_threshold``), and each identity must hold ``identity.merge_min_embeddings``
embeddings. Candidate pairs are taken best score first, an ID in at most one
merge per check. Mean against mean, rather than a mean against the closest
gallery embedding as in online matching: one stray gallery embedding (a crop of
someone else, a look-alike's angle) then cannot make a merge, and a merge
rewrites history, so it must be wrong rarely (on the crowded scenario's tuning
seeds it let through fewer different-person pairs at the same same-person ones).

**Geometry** (``use_geometry``, calibrated cameras): two IDs whose live tracks
on two cameras stand on one floor spot at the same moments (median distance
within ``floor_match_m`` over at least ``_GEO_SAMPLES`` same-moment positions,
:meth:`IdentityManager.floor_coincidences`) are one person on less appearance
evidence: the mean cosine must reach the merge threshold plus the same
geometry term the online cost uses (down to ``−floor_weight`` on one spot);
such merges carry ``reason: geometry``. Two IDs seen at the same moment
farther apart than ``floor_apart_m`` are never merged, whatever the embeddings.

**Window.** Both IDs must have been seen within ``identity.correction_window_s``
of now (latest track time, or the open visit's last sighting); numbers older
than the window are final. ``0`` turns late correction off.

**Topology.** Never between two IDs seen at the same moment on one camera, nor
(with ``use_topology``) at the same moment on cameras that do not overlap, nor
with a listed transit faster than its ``min_s``: those are two people whatever
the embeddings say.

**The merge** (:meth:`Corrector.merge`), all deterministic in the data, so a
replay writes the same rows:

1. the manager folds ``src`` into ``dst`` (live tracks, spans, gallery; LanceDB
   rows move to ``dst``, ``src``'s hand-out record is archived);
2. :meth:`VisitBook.merge_identity` combines overlapping or abutting visits,
   rewrites zone visits, moves the open state;
3. the stored records of ``src`` are rewritten in the event store under its
   latest-wins rules: track points and activity intervals get ``dst`` and the
   surviving ``visit_id`` with ``corrected_at``; the superseded ``src`` track
   points, visits and zone visits get tombstones (``merged_into``) that the
   store's views leave out;
4. an ``identity_merged`` event (payload ``from``, ``into``, ``score``,
   ``reason``, ``visits``: old → new visit IDs).

A restart needs nothing of its own: the merged gallery, the tombstones and the
corrected open visits are what the manager and :meth:`SiteIdentity.restore`
read back; a merge not yet made is found again from the restored state.

Example:
    >>> from mcvision.config import SiteConfig
    >>> cfg = SiteConfig.model_validate({"site_id": "s",
    ...     "cameras": [{"id": "c1", "source": "a.mp4"}]})
    >>> Corrector.compatible(cfg, [("c1", 0.0, 10.0)], [("c1", 5.0, 20.0)])
    False
    >>> Corrector.compatible(cfg, [("c1", 0.0, 10.0)], [("c1", 12.0, 20.0)])
    True
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mcvision.config import SiteConfig
from mcvision.identity.geometry import coincidence_term
from mcvision.types import ActivityInterval, Event, EventKind, Records, TrackPoint, Visit, ZoneVisit

if TYPE_CHECKING:
    from mcvision.analytics.store import EventStore
    from mcvision.business_day import BusinessCalendar
    from mcvision.identity.manager import IdentityManager
    from mcvision.identity.visits import VisitBook

__all__ = ["Corrector", "MergeDecision"]

_CHECK_EVERY_S = 1.0  # site seconds between two searches for merges
_GEO_SAMPLES = 5  # same-moment floor positions (1 s at 5 fps) before a coincidence can merge
Span = tuple[str, float, float]  # camera_id, first_ts, last_ts


@dataclass(frozen=True)
class MergeDecision:
    """Merge ``src`` (the newer ID) into ``dst`` (the older one, which survives)."""

    src: str
    dst: str
    ts: float
    score: float
    reason: str = "reid"


class Corrector:
    """Finds and makes late identity merges for one site (see the module doc).

    Args:
        cfg: the site config (``identity`` correction settings, topology).
        manager: the identity manager whose identities are merged.
        visits: the visit book whose visits follow.
        store: the event store whose records are rewritten.
        calendar: business days (of the ``identity_merged`` events).
    """

    def __init__(
        self,
        cfg: SiteConfig,
        manager: IdentityManager,
        visits: VisitBook,
        store: EventStore,
        calendar: BusinessCalendar,
    ) -> None:
        self.cfg = cfg
        self.icfg = cfg.identity
        self.manager = manager
        self.visits = visits
        self.store = store
        self.calendar = calendar
        self._last_check = -math.inf
        self.merges: list[MergeDecision] = []  # made by this process, in order

    @property
    def enabled(self) -> bool:
        return self.icfg.correction_window_s > 0 and self.icfg.use_reid

    # ---- finding ----------------------------------------------------------
    def step(self, now: float) -> Records:
        """Search for merges when due and make them; returns what was stored."""
        out = Records()
        if not self.enabled or now - self._last_check < _CHECK_EVERY_S:
            return out
        self._last_check = float(now)
        for d in self.candidates(now):
            out.extend(self.merge(d))
        return out

    def candidates(self, now: float) -> list[MergeDecision]:
        """The merges the evidence asks for now, best first, each ID at most once."""
        ic = self.icfg
        window = ic.correction_window_s
        floor = self.manager.floor_coincidences(_GEO_SAMPLES) if ic.use_geometry else {}
        views = []
        for gid, mat, spans in self.manager.identity_views():
            if mat is None:
                continue
            seen = [last for _, _, last in spans]
            open_last = self.visits.last_sighting(gid)
            if open_last is not None:
                seen.append(open_last)
            if not seen or now - max(seen) > window:
                continue
            views.append((gid, mat, spans))
        if len(views) < 2:
            return []
        threshold = max(ic.merge_threshold, ic.match_threshold)  # never looser than online
        means = np.stack([_unit(m.mean(axis=0)) for _, m, _ in views])
        score = means @ means.T  # mean gallery embedding against mean gallery embedding
        pairs: list[tuple[float, int, int, str]] = []
        for j in range(len(views)):
            for i in range(j):  # views are sorted by global ID: i is the older one
                s = float(score[j, i])
                near, far = floor.get((views[i][0], views[j][0]), (None, None))
                if far is not None and far > ic.floor_apart_m:
                    continue  # seen apart on the floor at the same moment: two people
                enough = min(len(views[i][1]), len(views[j][1])) >= ic.merge_min_embeddings
                if enough and s >= threshold:
                    pairs.append((s, i, j, "reid"))
                elif near is not None and near <= ic.floor_match_m:
                    # one spot at the same moments: the online cost's geometry term
                    # lowers the appearance evidence needed, as in the online matching
                    term = coincidence_term(
                        near, ic.floor_match_m, ic.floor_apart_m, ic.floor_weight
                    )
                    if term is not None and s >= threshold + term:
                        pairs.append((s - term, i, j, "geometry"))
        out: list[MergeDecision] = []
        used: set[int] = set()
        for _s, i, j, reason in sorted(pairs, key=lambda p: (-p[0], p[1], p[2])):
            if i in used or j in used:
                continue
            if not self.compatible(self.cfg, views[i][2], views[j][2]):
                continue
            used.update((i, j))
            out.append(
                MergeDecision(views[j][0], views[i][0], float(now), float(score[j, i]), reason)
            )
        return out

    @staticmethod
    def compatible(cfg: SiteConfig, a: list[Span], b: list[Span]) -> bool:
        """May identities with these time spans be one person (the topology rules)?"""
        for ca, fa, la in a:
            for cb, fb, lb in b:
                concurrent = fa <= lb and fb <= la
                if ca == cb:
                    if concurrent:
                        return False
                    continue
                if not cfg.identity.use_topology:
                    continue
                tr = cfg.transit(ca, cb)
                if tr is not None and tr.overlap:
                    continue
                if concurrent:
                    return False
                if tr is not None:
                    gap = fb - la if la < fb else fa - lb
                    if gap < tr.min_s:
                        return False
        return True

    # ---- merging ----------------------------------------------------------
    def merge(self, d: MergeDecision) -> Records:
        """Make one merge: manager, visits, stored records, event. Returns what was stored."""
        self.manager.absorb(d.src, d.dst)
        self.store.flush()  # what is buffered becomes readable
        day = self.calendar.day_of(d.ts)
        ids = [d.src, d.dst]
        visits = [_visit(r) for r in self._rows("visits", ids, day)]
        zones = [_zone_visit(r) for r in self._rows("zone_visits", ids, day)]
        out, mapping = self.visits.merge_identity(d.src, d.dst, d.ts, visits, zones)
        moved = {k for k, v in mapping.items() if k != v}
        for r in self._rows("track_points", ids, day):
            p = _track_point(r)
            new_visit = mapping.get(p.visit_id, p.visit_id)
            if p.global_id == d.src:
                out.track_points.append(
                    dataclasses.replace(p, corrected_at=d.ts, merged_into=d.dst)
                )
            elif p.visit_id not in moved:
                continue
            out.track_points.append(
                dataclasses.replace(p, global_id=d.dst, visit_id=new_visit, corrected_at=d.ts)
            )
        for r in self._rows("activities", ids, day):
            a = _activity(r)
            if a.global_id == d.src or a.visit_id in moved:
                out.activities.append(
                    dataclasses.replace(
                        a,
                        global_id=d.dst,
                        visit_id=mapping.get(a.visit_id, a.visit_id),
                        corrected_at=d.ts,
                    )
                )
        out.events.append(
            Event(
                kind=EventKind.IDENTITY_MERGED,
                ts=d.ts,
                day=day,
                site_id=self.cfg.site_id,
                global_id=d.dst,
                payload={
                    "from": d.src,
                    "into": d.dst,
                    "score": round(d.score, 6),
                    "reason": d.reason,
                    "visits": {k: v for k, v in sorted(mapping.items()) if k != v},
                },
            )
        )
        self.store.write(out)
        self.merges.append(d)
        return out

    def _rows(self, table: str, ids: list[str], day: str) -> list[dict[str, Any]]:
        return self.store.sql(
            f"SELECT * FROM {table} WHERE global_id IN (?, ?) ORDER BY ALL", ids, day=day
        )


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def _pick(cls: type, r: dict[str, Any]) -> dict[str, Any]:
    return {f.name: r[f.name] for f in dataclasses.fields(cls) if f.name in r}


def _visit(r: dict[str, Any]) -> Visit:
    d = _pick(Visit, r)
    return Visit(
        **{**d, "cameras": tuple(d.get("cameras") or ()), "zones": tuple(d.get("zones") or ())}
    )


def _zone_visit(r: dict[str, Any]) -> ZoneVisit:
    d = _pick(ZoneVisit, r)
    return ZoneVisit(**{**d, "cameras": tuple(d.get("cameras") or ())})


def _track_point(r: dict[str, Any]) -> TrackPoint:
    return TrackPoint(**_pick(TrackPoint, r))


def _activity(r: dict[str, Any]) -> ActivityInterval:
    return ActivityInterval(**_pick(ActivityInterval, r))
