"""Global identities: local tracks of every camera → one ID per person per day.

How a local track ``(camera_id, local_id)`` gets its global ID (DESIGN.md §3):

1. **Pending.** A new track is held until it has ``identity.min_frames``
   updates, is ``identity.min_seconds`` old and (with ``use_reid``) has at least
   one embedding of quality ≥ ``min_quality``. Its updates are buffered. A
   track still without a usable embedding after ``max_pending_s`` is decided
   anyway and gets a new ID. A track that ends before it has ``min_frames``
   updates (or is ``min_seconds`` old) is dropped as a spurious detection,
   together with its buffered updates.
2. **Joint matching.** All ready tracks are matched at once against the
   active identities with the Hungarian algorithm on one cost per pair::

       cost = (1 − similarity)  +  geometry  +  entrance  [+ topology: forbidden pairs cost ∞]

   **Appearance:** the similarity of a track to an identity is the highest
   cosine between the track's mean (re-normalized) embedding and any of the
   identity's gallery embeddings. **Geometry** (cameras with a ``floor``
   calibration, ``use_geometry`` on; :mod:`mcvision.identity.geometry`): when the
   track and one of the identity's live tracks on another calibrated camera are
   seen at the same moments (at least three foot points each, a foot point
   being the box's bottom-centre through the camera's homography, none taken
   from a box cut by the frame's edge), ``d`` is the median floor distance
   between them (metres on the plan; with several such tracks, the nearest:
   one of them may be a tracker mix-up) and the term is ``floor_weight · clip((d −
   floor_match_m) / floor_match_m, −1, 1)`` — down to ``−floor_weight`` for
   sightings on one spot (strong evidence of one person), up to
   ``+floor_weight`` beyond ``2 · floor_match_m``; beyond ``floor_apart_m``
   the pair is forbidden (two people). Without same-moment floor sightings
   (either camera uncalibrated, or not seen at once) the term is 0, so an
   uncalibrated site matches exactly as on appearance alone. Every track also
   has a "new identity" option costing ``1 − match_threshold``: a pair is
   eligible only when its cost is no higher, i.e. ``similarity − geometry −
   entrance ≥ match_threshold``, and pairs forbidden by the topology gate (3.) or the
   walkable-transit gate (3a.) cost too much to be taken.
   **Entrance** (``entrance_prior``, sites with entrance lines;
   :mod:`mcvision.identity.entrances`): a track whose first foot point lies more than
   ``entrance_radius`` box heights from every entrance line (any track on a camera
   without one), after the first ``entrance_grace_s`` of input and before it crosses a
   line, began inside: someone a tracker lost, or who walked in from another view, not
   a new customer. Its pairs with identities that have not gone out through a line
   (outward crossing) before it began get ``−entrance_prior``, so such a track takes an
   existing ID at ``match_threshold − entrance_prior``; a new ID still needs a look
   unlike everyone's. 0 elsewhere.
   With ``camera_centring`` (site adaptation, no labels) both sides are first
   centred on their camera's running mean embedding (:class:`CameraMeans`) and
   re-normalised, which removes what a camera adds to everyone it sees.
   With ``pair_thresholds`` (site adaptation, no labels;
   :mod:`mcvision.identity.pair_thresholds`) each pair of cameras gets its own
   threshold from the scores of people known to be different (two tracks on one
   camera at one moment), and the similarity is the best margin over the
   identity's embeddings: ``max(cosine − threshold(track camera, embedding
   camera)) + match_threshold``.
   Tracks left unmatched are not all given new IDs at once: the earliest
   gets one, then the rest are matched again (new IDs included), so two
   pending tracks of one new person on overlapping cameras end with one ID.
3. **Topology gate** (``use_topology``), from the identity's sightings per
   camera, for a new track on camera B:

   * same camera: forbidden if one of the identity's tracks there was seen in
     one frame with the new track (one camera never holds a person twice); a
     track that ended or was last seen before the new one started is
     re-acquisition, and so is one whose time span overlaps the new track's
     without a shared frame (a lost track that lay in wait and picked the
     person up while their own track was lost);
   * camera A with ``overlap: true``: allowed, even at the same moment;
   * other listed transit: forbidden while the identity is seen on A at the
     same time, or when ``gap = first ts on B − last ts on A < min_s`` (too
     fast, whatever the embeddings say). A gap beyond ``max_s`` is allowed:
     the person may have been somewhere no camera sees, or left and came back
     the same day;
   * unlisted pair: ``topology.unlisted = allow`` allows any gap ≥ 0 (not
     concurrent); ``deny`` forbids the hand-over when A is where the identity
     was seen last.

   With ``use_topology = false`` only the same-camera rule remains.

   3a. **Walkable transit** (geometry, both cameras calibrated, same camera
   included): a track that starts ``gap`` seconds after the identity's latest
   earlier sighting ended (or ends before its next later one began) is
   forbidden when the floor distance between the two end points (each the
   median of the first / last three foot points) exceeds ``max_walk_speed_mps
   · gap + floor_match_m`` (the slack absorbs calibration and foot-point
   error). Only the neighbouring sightings count: a path walkable hop by hop is
   walkable, and an old track's end point the tracker let slip onto someone
   else does not veto.
   3b. **Split at a gap** (``track_split_gap_s`` > 0): an update of a local
   track that comes more than ``track_split_gap_s`` after the track's last
   sighting starts a new track under the same local ID, matched afresh; the
   tracker's lost tracks stay where they were lost and pick up whoever walks by.
   3c. **Split on appearance** (``track_split_similarity`` set): an update whose
   embedding scores below ``track_split_similarity`` against the mean of the
   track's own last :data:`_SPLIT_REFERENCE` embeddings starts a new track the
   same way: when two people cross, the tracker may carry one's ID on to the
   other, and everything after the swap would otherwise join the first
   person's identity and gallery.
   3d. **Contest** (``contest_wait_s`` > 0): the swap is usually seen first from
   the other side — the person comes back as a new track, looks like their own
   identity, and the same-camera rule bars it, because the identity's old track
   (now on someone else) shares its frames. Such a track waits (at most
   ``contest_wait_s``) for the holder's next embedding. If that looks less like
   the identity than the new track does (by :data:`_CONTEST_MARGIN`), the holder
   is cut where the new track began: its part before stays with the identity,
   its part after (already reported under the identity) is matched afresh, and
   the new track, no longer barred, takes the identity. A holder that ends
   without another embedding is cut the same way (its rest is forgotten). A
   holder that still looks like the identity keeps it (a duplicate box of one
   person), and the new track is decided as before.
4. **Without ReID** (``use_reid = false``, an ablation): a ready track goes
   to the identity whose latest sighting is an ended track on a camera with a
   listed transit to this one and a gap inside its window (``min_s ≤ gap ≤
   max_s``; ``0 ≤ gap ≤ max_s`` for overlapping cameras), the closest in time
   (jointly, Hungarian on the gap); else a new ID.
5. **Gallery.** Embeddings of assigned tracks (quality ≥ ``min_quality``) join
   the identity's gallery, at most ``gallery_per_identity`` of them, kept
   diverse: when full, a new embedding replaces one of the two most similar
   stored ones (the lower-quality, then older one) unless it is itself at least
   as redundant. Matching runs in memory; every change is written to the
   LanceDB :class:`~mcvision.identity.gallery.Gallery`, from which a restarted
   process rebuilds the day's identities and continues numbering.
6. **Late correction** (``identity.correction_window_s``): decisions are not
   revisited here; :mod:`mcvision.identity.correction` later merges two IDs that
   turn out to be one person (:meth:`IdentityManager.identity_views`,
   :meth:`IdentityManager.absorb`).

Global IDs are ``YYYYMMDD-NNNN`` with ``NNNN`` counting from 1 each business
day. :meth:`IdentityManager.reset` (or the first update of a later business
day) archives the day's gallery and forgets the active identities.

Example:
    >>> import numpy as np
    >>> from mcvision.config import SiteConfig
    >>> from mcvision.types import TrackletUpdate
    >>> cfg = SiteConfig.model_validate({
    ...     "site_id": "demo", "cameras": [{"id": "cam1", "source": "a.mp4"}],
    ...     "identity": {"min_frames": 2}})
    >>> mgr = IdentityManager(cfg, Gallery("memory://", dim=4))
    >>> emb = np.array([1.0, 0, 0, 0], dtype=np.float32)
    >>> box, foot = np.array([0, 0, 10, 30.0]), np.array([5, 30.0])
    >>> ts0 = 1_795_000_000.0
    >>> r1 = mgr.update([TrackletUpdate("cam1", 7, ts0, box, foot, embedding=emb)])
    >>> r1.sightings   # pending: held back
    []
    >>> r2 = mgr.update([TrackletUpdate("cam1", 7, ts0 + 0.1, box, foot)])
    >>> [(gid, round(u.ts - ts0, 1)) for gid, u in r2.sightings]  # both released, in order
    [('20261118-0001', 0.0), ('20261118-0001', 0.1)]
    >>> [str(e.kind) for e in r2.events]
    ['identity_new', 'track_assigned']
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from mcvision.business_day import BusinessCalendar
from mcvision.config import SiteConfig, TransitConfig
from mcvision.identity.entrances import Entrances
from mcvision.identity.gallery import Gallery, GalleryRow, diverse_subset, normalize
from mcvision.identity.geometry import (
    FloorTrack,
    SiteFloor,
    coincidence_term,
    floor_distance,
    walkable,
)
from mcvision.identity.pair_thresholds import PairThresholds
from mcvision.types import Direction, Event, EventKind, TrackletUpdate

_FORBIDDEN = 1e9
_FLOOR_KEEP_S = 30.0  # floor positions kept per track for the overlap coincidence
_NO_MATCH_TOPOLOGY = 1e6
_SPLIT_REFERENCE = 3  # a track's last embeddings a new one is compared with (appearance split)

TrackKey = tuple[str, int]
XY = tuple[float, float]


@dataclass
class IdentityResult:
    """What one :meth:`IdentityManager.update` produced.

    Attributes:
        sightings: ``(global_id, update)`` for every update of an assigned
            track, in ts order; updates held while a track was pending are
            released (in their original order) when it is assigned.
        events: ``IDENTITY_NEW`` and ``TRACK_ASSIGNED`` events (and ``RESET``
            when the batch crossed into a new business day). Both carry the
            track's first ts. ``TRACK_ASSIGNED`` payload: ``camera``,
            ``local_id``, ``reason`` (``reid``: matched by embedding;
            ``topology``: matched by transit timing without ReID; ``new``: a
            new identity) and ``similarity`` (the matched cosine; for ``new``
            the best cosine to any identity, gated or not; None without one);
            ``floor_m`` (the same-moment floor distance that entered the cost)
            only when geometry was used.
    """

    sightings: list[tuple[str, TrackletUpdate]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


@dataclass(eq=False)
class _Track:
    camera_id: str
    local_id: int
    first_ts: float
    last_ts: float
    n: int = 0
    embs: list[tuple[np.ndarray, float, float]] = field(default_factory=list)  # vec, ts, quality
    buffer: list[TrackletUpdate] = field(default_factory=list)
    global_id: str | None = None
    ended: bool = False
    floor: FloorTrack | None = None  # floor positions, on a calibrated camera
    seen: list[float] = field(default_factory=list)  # ts of every sighting (frame), ascending
    pair_sampled: bool = False  # its known-different scores went to the pair thresholds
    recent: list[np.ndarray] = field(default_factory=list)  # its last embeddings (any state)
    emb_ts: float | None = None  # ts of its latest usable embedding (any state)
    # pending, waiting for ``rival`` (a live track of identity ``global_id`` it shares
    # frames with) to show its next embedding: (global ID, rival's key, similarity)
    contest: tuple[str, TrackKey, float] | None = None
    contested: bool = False  # a contest was held (won or lost): decide normally now
    inside: bool = False  # began away from every entrance: probably someone already inside

    def changed_person(self, vec: np.ndarray, threshold: float) -> bool:
        """Whether ``vec`` looks like someone else than the track's last embeddings."""
        if not self.recent:
            return False
        ref = np.mean(self.recent, axis=0)
        norm = float(np.linalg.norm(ref))
        return norm > 0 and float(ref @ vec) / norm < threshold

    def floor_ends(self) -> tuple[XY | None, XY | None]:
        f = self.floor
        start, end = (None, None) if f is None else (f.start, f.end)
        if start is None or end is None:
            return None, None
        return start[1], end[1]

    @property
    def key(self) -> TrackKey:
        return (self.camera_id, self.local_id)

    def mean_embedding(self) -> np.ndarray | None:
        if not self.embs:
            return None
        m = np.mean([v for v, _, _ in self.embs], axis=0)
        norm = float(np.linalg.norm(m))
        return (m / norm).astype(np.float32) if norm > 0 else None


@dataclass(frozen=True)
class _Span:
    camera_id: str
    first_ts: float
    last_ts: float
    ended: bool
    first_xy: XY | None = None  # floor position at first_ts / last_ts (calibrated cameras)
    last_xy: XY | None = None
    seen: Sequence[float] | None = None  # a live track's sighting ts (None: folded history)


@dataclass(eq=False)
class _Identity:
    global_id: str
    vecs: list[np.ndarray] = field(default_factory=list)
    meta: list[tuple[str, float, float]] = field(default_factory=list)  # emb id, ts, quality
    cams: list[str] = field(default_factory=list)  # camera of each vector
    tracks: dict[TrackKey, _Track] = field(default_factory=dict)
    history: dict[str, tuple[float, float]] = field(default_factory=dict)  # camera → first, last
    floor_ends: dict[str, tuple[XY | None, XY | None]] = field(default_factory=dict)  # of history
    out_ts: float | None = None  # crossed an entrance line outward then, not back in since
    _mat: np.ndarray | None = None

    def matrix(self) -> np.ndarray | None:
        if not self.vecs:
            return None
        if self._mat is None:
            self._mat = np.stack(self.vecs)
        return self._mat

    def spans(self, *exclude: TrackKey) -> Iterator[_Span]:
        for cam, (first, last) in self.history.items():
            fxy, lxy = self.floor_ends.get(cam, (None, None))
            yield _Span(cam, first, last, True, fxy, lxy)
        for key, t in self.tracks.items():
            if key not in exclude:
                yield _Span(t.camera_id, t.first_ts, t.last_ts, t.ended, *t.floor_ends(), t.seen)

    def fold(self, t: _Track) -> None:
        """Forget a track's object, keep its time span (and floor end points) per camera."""
        self.tracks.pop(t.key, None)
        first, last = self.history.get(t.camera_id, (t.first_ts, t.last_ts))
        fxy, lxy = self.floor_ends.get(t.camera_id, (None, None))
        t_first, t_last = t.floor_ends()
        if t.first_ts <= first:
            fxy = t_first
        if t.last_ts >= last:
            lxy = t_last
        self.history[t.camera_id] = (min(first, t.first_ts), max(last, t.last_ts))
        if fxy is not None or lxy is not None:
            self.floor_ends[t.camera_id] = (fxy, lxy)


#: A contester wins when it looks this much more like the identity than the holder's new
#: embedding does (cosine): the holder's own embeddings are in the gallery it is scored
#: on, and a duplicate box on one person must not take the person's track apart.
_CONTEST_MARGIN = 0.05


class IdentityManager:
    """Assigns one global ID per person per business day across cameras.

    Args:
        cfg: the site config (``identity`` thresholds, ``topology``, ``reset``).
        gallery: where embeddings persist; ``None`` keeps them in memory only
            (``Gallery("memory://")``, 512-d). In production pass
            ``Gallery(cfg.storage.gallery_dir())``.
        calendar: business days; default from ``cfg.reset``.
        track_retention_s: ended (or silent) tracks older than this are
            forgotten; their identity keeps a per-camera time span for the
            topology gate, and :meth:`global_id_of` no longer knows them.
        gallery_flush_s: new embeddings are written to the gallery at most this
            often (data time), in one write, rather than once per update batch:
            every write is a LanceDB version, and a busy site sends several batches
            a second. New global IDs are registered at once all the same (they keep
            numbering unique across a restart); :meth:`flush_gallery` writes now.

    Example:
        >>> from mcvision.config import SiteConfig
        >>> cfg = SiteConfig.model_validate(
        ...     {"site_id": "s", "cameras": [{"id": "c1", "source": "x.mp4"}]})
        >>> mgr = IdentityManager(cfg)
        >>> mgr.active_identities()
        []
    """

    def __init__(
        self,
        cfg: SiteConfig,
        gallery: Gallery | None = None,
        calendar: BusinessCalendar | None = None,
        *,
        track_retention_s: float = 120.0,
        gallery_flush_s: float = 2.0,
    ) -> None:
        if track_retention_s <= 0:
            raise ValueError(f"track_retention_s must be > 0, got {track_retention_s}")
        if gallery_flush_s < 0:
            raise ValueError(f"gallery_flush_s must be >= 0, got {gallery_flush_s}")
        self.gallery_flush_s = float(gallery_flush_s)
        self._gal_flushed = -math.inf  # data time of the last embedding write
        self.cfg = cfg
        self.icfg = cfg.identity
        self.gallery = gallery if gallery is not None else Gallery("memory://")
        self.calendar = calendar or BusinessCalendar.from_config(cfg.reset)
        self.track_retention_s = float(track_retention_s)
        self._transits: dict[frozenset[str], TransitConfig | None] = {}
        self._day: str | None = None
        self._n = 0
        self._now = -math.inf
        self._tracks: dict[TrackKey, _Track] = {}
        self._identities: dict[str, _Identity] = {}
        self._gal_add: list[GalleryRow] = []
        self._gal_remove: list[str] = []
        self._gal_register: list[tuple[str, str, float]] = []
        self._camera_mean = CameraMeans(self.icfg.centring_min_embeddings)
        self._floor = SiteFloor.from_config(cfg) if self.icfg.use_geometry else SiteFloor()
        self._entrances = Entrances.from_config(cfg)
        self._started: float | None = None  # ts of the first update this process saw
        ic = self.icfg
        self.pair_thresholds: PairThresholds | None = (
            PairThresholds(ic.match_threshold, ic.pair_fmr, ic.pair_min_samples)
            if ic.pair_thresholds and ic.use_reid
            else None
        )

    # ---- public API ---------------------------------------------------
    @property
    def day(self) -> str | None:
        """The business day whose identities are active (None before any input)."""
        return self._day

    def active_identities(self) -> list[str]:
        """Global IDs of the current business day, sorted."""
        return sorted(self._identities)

    def global_id_of(self, camera_id: str, local_id: int) -> str | None:
        """The global ID of a local track; None while pending, or if unknown/forgotten."""
        t = self._tracks.get((camera_id, int(local_id)))
        return t.global_id if t else None

    def restore(self, day: str) -> list[str]:
        """Make ``day`` current, rebuilding its active identities from the gallery.

        Called by itself on the first update; call it directly to restore
        before any input. Returns the restored global IDs.
        """
        self._load_day(day)
        return self.active_identities()

    def update(self, updates: Sequence[TrackletUpdate]) -> IdentityResult:
        """Consume tracklet updates, assign global IDs, emit events.

        Updates are processed in ts order (stable for equal ts). An update of
        a later business day than the current one resets first (its events
        are in the result).

        Raises:
            TypeError: an item is not a :class:`TrackletUpdate`.
            ValueError: a non-finite ts, or an embedding of the wrong width.
        """
        result = IdentityResult()
        for u in updates:
            if not isinstance(u, TrackletUpdate):
                raise TypeError(f"update() takes TrackletUpdate items, got {type(u).__name__}")
            if not math.isfinite(u.ts):
                raise ValueError(f"update of track {u.track_key}: ts must be finite, got {u.ts}")
        for u in sorted(updates, key=lambda x: x.ts):
            day = self.calendar.day_of(u.ts)
            if self._day is None:
                self._load_day(day)
            elif day > self._day:
                self._decide(result)
                result.events.extend(self.reset(self.calendar.day_start(day)))
            self._ingest(u, result)
        self._decide(result)
        self._flush(paced=True)
        self._collect_garbage()
        result.sightings.sort(key=lambda s: s[1].ts)
        return result

    def reset(self, ts: float) -> list[Event]:
        """Daily reset: archive the day's gallery, forget identities and tracks.

        Numbering restarts at 1 when ``ts`` falls in a new business day; a
        reset within the same day keeps counting, so no ID is handed out twice.

        Returns:
            One ``RESET`` event (payload ``scope: identity``) when there was
            state to reset, else nothing.
        """
        new_day = self.calendar.day_of(ts)
        events: list[Event] = []
        self._flush()
        if self._day is not None:
            n_ids = len(self._identities)
            had_tracks = bool(self._tracks)
            archived = self.gallery.archive_day(self._day)
            if n_ids or had_tracks or archived:
                events.append(
                    Event(
                        kind=EventKind.RESET,
                        ts=float(ts),
                        day=new_day,
                        site_id=self.cfg.site_id,
                        payload={
                            "scope": "identity",
                            "archived_day": self._day,
                            "identities": n_ids,
                            "embeddings": archived,
                        },
                    )
                )
        self._load_day(new_day)
        return events

    # ---- day state ----------------------------------------------------
    def _load_day(self, day: str) -> None:
        self._flush()
        self._day = day
        self._tracks = {}
        self._identities = {}
        self._camera_mean = CameraMeans(self.icfg.centring_min_embeddings)
        self.gallery.archive_days_before(day)
        prefix = day.replace("-", "") + "-"
        self._n = 0
        for gid in self.gallery.identities(day):
            if gid.startswith(prefix) and gid[len(prefix) :].isdigit():
                self._n = max(self._n, int(gid[len(prefix) :]))
        for gid in self.gallery.identities(day, exclude_archived=True):
            self._identities[gid] = _Identity(gid)
        rows_by_gid: dict[str, list[GalleryRow]] = {}
        for r in self.gallery.rows(day=day, exclude_archived=True):
            rows_by_gid.setdefault(r.global_id, []).append(r)
        cap = self.icfg.gallery_per_identity
        for gid, rows in rows_by_gid.items():
            ident = self._identities.setdefault(gid, _Identity(gid))
            keep = diverse_subset(
                np.stack([r.vector for r in rows]), cap, np.array([r.quality for r in rows])
            )
            for i in keep:
                ident.vecs.append(rows[i].vector)
                ident.meta.append((rows[i].embedding_id, rows[i].ts, rows[i].quality))
                ident.cams.append(rows[i].camera_id)
            for r in rows:
                self._camera_mean.add(r.camera_id, r.vector)
            for r in rows:
                first, last = ident.history.get(r.camera_id, (r.ts, r.ts))
                ident.history[r.camera_id] = (min(first, r.ts), max(last, r.ts))

    def _new_identity(self, ts: float, result: IdentityResult, t: _Track) -> _Identity:
        assert self._day is not None
        self._n += 1
        gid = f"{self._day.replace('-', '')}-{self._n:04d}"
        ident = _Identity(gid)
        self._identities[gid] = ident
        self._gal_register.append((gid, self._day, ts))
        result.events.append(
            Event(
                kind=EventKind.IDENTITY_NEW,
                ts=float(ts),
                day=self.calendar.day_of(ts),
                site_id=self.cfg.site_id,
                global_id=gid,
                camera_id=t.camera_id,
                payload={"camera": t.camera_id, "local_id": t.local_id},
            )
        )
        return ident

    # ---- ingest -------------------------------------------------------
    def _ingest(self, u: TrackletUpdate, result: IdentityResult) -> None:
        key = (u.camera_id, int(u.local_id))
        vec = None
        if self.icfg.use_reid and u.embedding is not None and u.quality >= self.icfg.min_quality:
            try:
                vec = normalize(u.embedding, self.gallery.dim)[0]
            except ValueError as err:
                raise ValueError(f"update of track {key} at ts={u.ts}: {err}") from None
        t = self._tracks.get(key)
        split_at = self.icfg.track_split_similarity
        if t is not None and t.ended:  # a reused local ID: a new track
            self._forget(t)
            t = None
        elif (
            t is not None
            and not u.ended
            and self.icfg.track_split_gap_s > 0
            and float(u.ts) - t.last_ts > self.icfg.track_split_gap_s
        ):
            # A lost track picked up again after a long gap: the tracker's lost tracks
            # wait where they were lost and take whoever walks by, so the rest is a new
            # track, decided afresh (a still-pending first part is dropped).
            self._forget(t)
            t = None
        elif (
            t is not None
            and vec is not None
            and t.global_id is not None
            and (cut := self._lost_contest(t, vec)) is not None
        ):
            # A new track on this camera looks more like the identity than this one now
            # does: the tracker carried the ID on to someone else where the new one began.
            t = self._cut(t, cut)
        elif (
            t is not None
            and vec is not None
            and split_at is not None
            and t.changed_person(vec, split_at)
        ):
            # Someone else under the track's ID (a swap where two people crossed): the
            # rest is a new track, decided afresh (a still-pending first part is dropped).
            self._forget(t)
            t = None
        if self._started is None:
            self._started = float(u.ts)
        if t is None:
            t = _Track(u.camera_id, int(u.local_id), float(u.ts), float(u.ts))
            t.inside = self._begins_inside(u)
            self._tracks[key] = t
        elif t.inside and u.crossings:
            t.inside = False  # crossed an entrance line: may have just come in
        if vec is not None:
            t.emb_ts = float(u.ts)
        if vec is not None and split_at is not None:
            t.recent = [*t.recent[-(_SPLIT_REFERENCE - 1) :], vec]
        t.n += 1
        if not u.ended:
            # An ``ended`` update comes when the tracker gives the track up, a
            # ``track_buffer`` after the person was last seen: it is no sighting.
            # Counting its ts would push the track's end that much later, so a
            # hand-over to the next camera would look too fast (gap < min_s) and
            # a re-acquisition on the same camera would look concurrent.
            t.last_ts = max(t.last_ts, float(u.ts))
            if not t.seen or float(u.ts) > t.seen[-1]:
                t.seen.append(float(u.ts))
            xy = self._floor.foot_on_floor(u.camera_id, u.box, u.foot)
            if xy is not None:
                if t.floor is None:
                    t.floor = FloorTrack(_FLOOR_KEEP_S)
                t.floor.add(float(u.ts), xy)
        self._now = max(self._now, float(u.ts))
        if vec is not None:
            self._camera_mean.add(u.camera_id, vec)
        if t.global_id is not None:
            _note_crossings(self._identities[t.global_id], [u])
            result.sightings.append((t.global_id, u))
            if vec is not None:
                self._add_embedding(
                    self._identities[t.global_id], vec, u.camera_id, u.ts, u.quality
                )
        else:
            t.buffer.append(u)
            if vec is not None:
                self._keep_track_embedding(t, vec, float(u.ts), float(u.quality))
        if u.ended:
            t.ended = True

    # ---- contests: one identity, two concurrent tracks on one camera --------------
    def _hold_for_contest(
        self, t: _Track, idents: list[_Identity], sims: np.ndarray | None
    ) -> bool:
        """Keep ready track ``t`` pending while it contests an identity with a rival.

        When the identity ``t`` looks most like (similarity ≥ ``match_threshold``) is
        closed to it only because one of the identity's live tracks on the same camera
        shares frames with it, the tracker may have carried that identity's ID on to
        someone else as two people crossed (the person then reappears as a new track). The
        rival's next embedding (within ``embed_every_frames``) settles it
        (:meth:`_lost_contest`); ``t`` waits for it at most ``contest_wait_s``.
        ``sims``: ``t`` against each of ``idents`` (None: no identities yet).
        """
        if t.contested:
            return False
        if t.contest is not None:
            gid, rival_key, _ = t.contest
            ident = self._identities.get(gid)
            rival = ident.tracks.get(rival_key) if ident is not None else None
            if rival is not None and rival.ended and (rival.emb_ts or -math.inf) < t.first_ts:
                # The rival's track ended without another embedding: it had taken someone
                # else (a track of the identity's own person would have gone on), so what
                # it was shown since ``t`` began is not the identity's; ``t`` takes it.
                self._cut(rival, t.first_ts, keep_rest=False)
                rival = None
            if rival is None or rival.ended or rival.global_id != gid:
                t.contest, t.contested = None, True  # the rival is gone: decide normally
                return False
            if self._now - t.first_ts < self.icfg.contest_wait_s:
                return True
            t.contest, t.contested = None, True
            return False
        if sims is None:
            return False
        b = int(np.argmax(sims))
        if not sims[b] >= self.icfg.match_threshold or self._allowed(idents[b], t):
            return False
        ident = idents[b]
        rivals = [
            r
            for r in ident.tracks.values()
            if r.camera_id == t.camera_id
            and r.key != t.key
            and not r.ended
            and _same_frame(r.seen, t.seen)
        ]
        if len(rivals) != 1 or not self._allowed(ident, t, ignore=(rivals[0].key,)):
            t.contested = True
            return False
        t.contest = (ident.global_id, rivals[0].key, float(sims[b]))
        return self._now - t.first_ts < self.icfg.contest_wait_s

    def _lost_contest(self, rival: _Track, vec: np.ndarray) -> float | None:
        """When ``rival``'s new embedding ``vec`` looks less like its identity than the
        pending track contesting it does: the ts to cut ``rival`` at (the contester's
        start: from there on, the rival has been someone else). Else None (the contest,
        if any, is lost by the contester, who is then decided normally)."""
        contesters = [
            c
            for c in self._tracks.values()
            if c.contest is not None and c.contest[:2] == (rival.global_id, rival.key)
        ]
        if not contesters:
            return None
        ident = self._identities[str(rival.global_id)]
        own = float(self._vector_similarities(vec[None, :], [rival.camera_id], [ident])[0, 0])
        best = max(contesters, key=lambda c: c.contest[2] if c.contest else -math.inf)
        won = best.contest is not None and best.contest[2] > own + _CONTEST_MARGIN
        for c in contesters:
            if not (won and c is best):
                c.contest, c.contested = None, True
        return best.first_ts if won else None

    def _cut(self, t: _Track, cut: float, keep_rest: bool = True) -> _Track:
        """Split ``t`` at ``cut``: its part before stays with its identity (folded), the
        part from ``cut`` on (already reported under the identity) goes on as a new,
        pending track under the same local ID, decided afresh (``keep_rest`` false: an
        ended track's rest, with nothing left to decide it on, is forgotten)."""
        before = [x for x in t.seen if x < cut]
        after = [x for x in t.seen if x >= cut]
        if before:
            t.seen, t.last_ts = before, before[-1]
            self._forget(t)
        else:  # all of it was someone else's
            self._tracks.pop(t.key, None)
            if t.global_id in self._identities:
                self._identities[t.global_id].tracks.pop(t.key, None)
        first = after[0] if after else self._now
        rest = _Track(t.camera_id, t.local_id, first, after[-1] if after else first)
        rest.seen, rest.n = after, len(after)
        if keep_rest:
            self._tracks[rest.key] = rest
        return rest

    def _keep_track_embedding(self, t: _Track, vec: np.ndarray, ts: float, q: float) -> None:
        slot = _diverse_slot(
            np.stack([v for v, _, _ in t.embs]) if t.embs else None,
            [(qq, tt) for _, tt, qq in t.embs],
            vec,
            q,
            self.icfg.gallery_per_identity,
        )
        if slot is None:
            return
        if slot == len(t.embs):
            t.embs.append((vec, ts, q))
        else:
            t.embs[slot] = (vec, ts, q)

    def _add_embedding(
        self, ident: _Identity, vec: np.ndarray, camera_id: str, ts: float, quality: float
    ) -> None:
        emb_id = Gallery.embedding_id(ident.global_id, camera_id, float(ts), 0)
        if any(m[0] == emb_id for m in ident.meta):
            return
        row = GalleryRow(
            emb_id, ident.global_id, self._day or "", camera_id, float(ts), float(quality), vec
        )
        slot = _diverse_slot(
            ident.matrix(),
            [(qq, tt) for _, tt, qq in ident.meta],
            vec,
            float(quality),
            self.icfg.gallery_per_identity,
        )
        if slot is None:
            return
        if slot == len(ident.vecs):
            ident.vecs.append(vec)
            ident.meta.append((emb_id, float(ts), float(quality)))
            ident.cams.append(camera_id)
        else:
            self._gal_remove.append(ident.meta[slot][0])
            ident.vecs[slot] = vec
            ident.meta[slot] = (emb_id, float(ts), float(quality))
            ident.cams[slot] = camera_id
        ident._mat = None
        self._gal_add.append(row)

    # ---- deciding -----------------------------------------------------
    def _ready(self, t: _Track) -> bool | None:
        """True: decide now; False: keep waiting; None: drop (ended, too little evidence)."""
        ic = self.icfg
        if t.ended:
            if t.n < ic.min_frames or t.last_ts - t.first_ts < ic.min_seconds:
                return None
            return True
        if t.n < ic.min_frames or self._now - t.first_ts < ic.min_seconds:
            return False
        if not ic.use_reid or t.embs:
            return True
        return self._now - t.first_ts >= ic.max_pending_s

    def _decide(self, result: IdentityResult) -> None:
        ready: list[_Track] = []
        for t in list(self._tracks.values()):
            if t.global_id is not None:
                continue
            verdict = self._ready(t)
            if verdict is None:
                del self._tracks[t.key]
            elif verdict:
                ready.append(t)
        if self.pair_thresholds is not None:
            self._sample_known_different(ready)
        if ready and self.icfg.contest_wait_s > 0 and self.icfg.use_reid:
            # one similarity pass over the tracks not yet looked at for a contest
            idents = list(self._identities.values())
            fresh = [t for t in ready if t.contest is None and not t.contested]
            sims = self._similarities(fresh, idents) if idents and fresh else None
            row = {t.key: None if sims is None else sims[a] for a, t in enumerate(fresh)}
            ready = [t for t in ready if not self._hold_for_contest(t, idents, row.get(t.key))]
        remaining = sorted(ready, key=lambda t: (t.first_ts, t.camera_id, t.local_id))
        while remaining:
            idents = list(self._identities.values())
            pairs = self._solve(remaining, idents)
            if pairs:
                for ti, ii, score, reason, floor_m in pairs:
                    self._assign(remaining[ti], idents[ii], score, reason, result, floor_m)
                remaining = [t for t in remaining if t.global_id is None]
                continue
            seed = remaining.pop(0)
            best = self._best_similarity(seed, idents)
            ident = self._new_identity(seed.first_ts, result, seed)
            self._assign(seed, ident, best, "new", result)

    def _solve(
        self, tracks: list[_Track], idents: list[_Identity]
    ) -> list[tuple[int, int, float | None, str, float | None]]:
        """Jointly match tracks to identities.

        Returns (track idx, identity idx, score, reason, floor distance in m or None).
        """
        if not idents:
            return []
        n_t, n_i = len(tracks), len(idents)
        cost = np.full((n_t, n_i), _FORBIDDEN)
        dist = np.full((n_t, n_i), np.nan)
        score: np.ndarray
        if self.icfg.use_reid:
            score = self._similarities(tracks, idents)
            thr = self.icfg.match_threshold
            # the geometry and entrance terms lower a pair's cost by at most their weights
            reach = self.icfg.floor_weight if self._floor.cameras else 0.0
            if any(t.inside for t in tracks):
                reach += self.icfg.entrance_prior
            for a, b in zip(*np.nonzero(score >= thr - reach), strict=True):
                term, d = self._coincidence(idents[b], tracks[a])
                if term is None:
                    continue  # seen elsewhere on the floor at the same moment: two people
                c = 1.0 - score[a, b] + term + self._entrance_term(idents[b], tracks[a])
                if c <= 1.0 - thr and self._allowed(idents[b], tracks[a]):
                    cost[a, b] = c
                    dist[a, b] = np.nan if d is None else d
            no_match = 1.0 - thr + 1e-9
            reason = "reid"
        else:
            score = np.full((n_t, n_i), np.nan)
            for a, t in enumerate(tracks):
                for b, ident in enumerate(idents):
                    gap = self._topology_gap(ident, t)
                    if gap is not None and self._allowed(ident, t):
                        if self._coincidence(ident, t)[0] is None:
                            continue
                        cost[a, b] = gap
                        score[a, b] = gap
            no_match = _NO_MATCH_TOPOLOGY
            reason = "topology"
        dummy = np.full((n_t, n_t), _FORBIDDEN)
        np.fill_diagonal(dummy, no_match)
        rows, cols = linear_sum_assignment(np.hstack([cost, dummy]))
        out: list[tuple[int, int, float | None, str, float | None]] = []
        for a, b in zip(rows.tolist(), cols.tolist(), strict=True):
            if b < n_i and cost[a, b] < _FORBIDDEN:
                s = float(score[a, b]) if self.icfg.use_reid else None
                d = None if np.isnan(dist[a, b]) else float(dist[a, b])
                out.append((a, b, s, reason, d))
        return out

    def _coincidence(self, ident: _Identity, t: _Track) -> tuple[float | None, float | None]:
        """The geometry term for track ``t`` as ``ident``, and the floor distance it used.

        (0, None) without same-moment floor sightings (an uncalibrated camera on either
        side, or never seen at the same time); (None, d) when they are farther apart
        than ``floor_apart_m`` (two people).
        """
        if t.floor is None or not len(t.floor):
            return 0.0, None
        others = [
            o.floor
            for o in ident.tracks.values()
            if o.key != t.key and o.camera_id != t.camera_id and o.floor is not None
        ]
        d = floor_distance(t.floor, others) if others else None
        if d is None:
            return 0.0, None
        ic = self.icfg
        return coincidence_term(d, ic.floor_match_m, ic.floor_apart_m, ic.floor_weight), d

    def _entrance_term(self, ident: _Identity, t: _Track) -> float:
        """``-entrance_prior`` for a track that began away from every entrance as an
        identity that has not gone out (through an entrance line) before it began; else 0."""
        if not t.inside or (ident.out_ts is not None and ident.out_ts <= t.first_ts):
            return 0.0
        return -self.icfg.entrance_prior

    def _begins_inside(self, u: TrackletUpdate) -> bool:
        """Whether a track whose first update is ``u`` began away from every entrance."""
        ic = self.icfg
        if ic.entrance_prior <= 0 or not self._entrances.known or u.ended or u.crossings:
            return False
        if self._started is None or float(u.ts) - self._started < ic.entrance_grace_s:
            return False
        height = float(u.box[3] - u.box[1])
        foot = (float(u.foot[0]), float(u.foot[1]))
        return not self._entrances.at_entrance(u.camera_id, foot, height, u.frame_size)

    def _walkable(self, s: _Span, t: _Track) -> bool:
        """The walkable-transit gate between a non-concurrent span and track (floor known)."""
        t_first, t_last = t.floor_ends()
        ic = self.icfg
        if s.last_ts < t.first_ts and s.last_xy is not None and t_first is not None:
            gap, p, q = t.first_ts - s.last_ts, s.last_xy, t_first
        elif s.first_ts > t.last_ts and s.first_xy is not None and t_last is not None:
            gap, p, q = s.first_ts - t.last_ts, t_last, s.first_xy
        else:
            return True
        return walkable(p, q, gap, ic.max_walk_speed_mps, slack_m=ic.floor_match_m)

    def _similarities(self, tracks: list[_Track], idents: list[_Identity]) -> np.ndarray:
        """Each track's mean embedding against each identity (-inf: no embedding)."""
        sims = np.full((len(tracks), len(idents)), -np.inf)
        means = [t.mean_embedding() for t in tracks]
        rows = [a for a, m in enumerate(means) if m is not None]
        if rows:
            q = np.stack([m for m in means if m is not None])  # the rows, in order
            sims[rows] = self._vector_similarities(q, [tracks[a].camera_id for a in rows], idents)
        return sims

    def _vector_similarities(
        self, q: np.ndarray, cameras: list[str], idents: list[_Identity]
    ) -> np.ndarray:
        """Embeddings ``q`` (seen on ``cameras``) against each identity: the best score
        over its gallery (centred, and as margins over the pair thresholds, when on)."""
        sims = np.full((len(q), len(idents)), -np.inf)
        centre = self.icfg.camera_centring
        if centre:
            q = self._camera_mean.centre(q, cameras)
        pairs = self.pair_thresholds
        for b, ident in enumerate(idents):
            mat = ident.matrix()
            if mat is not None:
                if centre:
                    mat = self._camera_mean.centre(mat, ident.cams)
                s = q @ mat.T
                if pairs is not None:  # margins over each pair's own threshold
                    for i, cam in enumerate(cameras):
                        s[i] -= pairs.offsets(cam, ident.cams)
                sims[:, b] = s.max(axis=1)
        return sims

    def _sample_known_different(self, tracks: list[_Track]) -> None:
        """Scores of each new ready track against identities it cannot be (site adaptation).

        An identity with a live track on the same camera at the same time is another
        person: the track's similarity to that identity's embeddings from each camera
        (the best per camera, as the matcher scores) is a known-different score for the
        pair (track camera, embedding camera).
        """
        assert self.pair_thresholds is not None
        centre = self.icfg.camera_centring
        for t in tracks:
            if t.pair_sampled:
                continue
            m = t.mean_embedding()
            if m is None:
                continue
            t.pair_sampled = True
            q = self._camera_mean.centre(m[None, :], [t.camera_id]) if centre else m[None, :]
            for ident in self._identities.values():
                if not any(
                    o.camera_id == t.camera_id
                    and o.key != t.key
                    and o.first_ts <= t.last_ts
                    and t.first_ts <= o.last_ts
                    for o in ident.tracks.values()
                ):
                    continue
                mat = ident.matrix()
                if mat is None:
                    continue
                if centre:
                    mat = self._camera_mean.centre(mat, ident.cams)
                sims = (q @ mat.T)[0]
                best: dict[str, float] = {}
                for cam, s in zip(ident.cams, sims.tolist(), strict=True):
                    best[cam] = max(best.get(cam, -math.inf), s)
                for cam, s in best.items():
                    self.pair_thresholds.add(t.camera_id, cam, s)

    def _best_similarity(self, t: _Track, idents: list[_Identity]) -> float | None:
        if not self.icfg.use_reid or not idents:
            return None
        s = self._similarities([t], idents)
        best = float(np.max(s))
        return best if math.isfinite(best) else None

    def _transit(self, a: str, b: str) -> TransitConfig | None:
        key = frozenset((a, b))
        if key not in self._transits:
            self._transits[key] = self.cfg.transit(a, b)
        return self._transits[key]

    def _allowed(self, ident: _Identity, t: _Track, ignore: tuple[TrackKey, ...] = ()) -> bool:
        """The topology gate: may track ``t`` be the person ``ident``? (``ignore``: tracks
        of the identity left out, as if they were someone else's)."""
        t0, t1, cam = t.first_ts, t.last_ts, t.camera_id
        spans = list(ident.spans(t.key, *ignore))
        # Where the identity was seen last before this track began: a span still
        # going on counts (someone seen on an overlapping camera right now walks in
        # from there, not from wherever an older, ended span was).
        before = [s for s in spans if s.first_ts < t0]
        latest = max(before, key=lambda s: s.last_ts) if before else None
        # The walkable-transit gate looks at the neighbouring sightings only: the one
        # that ended last before this track began, and the one that began first after
        # it ended. A path walkable hop by hop is walkable; and an older sighting's end
        # point (a track the tracker let slip onto someone else) must not veto.
        prev = max((s for s in spans if s.last_ts < t0), key=lambda s: s.last_ts, default=None)
        succ = min((s for s in spans if s.first_ts > t1), key=lambda s: s.first_ts, default=None)
        for s in (prev, succ):
            if s is not None and not self._walkable(s, t):
                return False  # too far on the floor for the time between the sightings
        for s in spans:
            concurrent = s.first_ts <= t1 and t0 <= s.last_ts
            if s.camera_id == cam:
                if concurrent and _same_frame(s.seen, t.seen):
                    return False
                continue
            if not self.icfg.use_topology:
                continue
            tr = self._transit(s.camera_id, cam)
            if tr is not None and tr.overlap:
                continue
            if concurrent:
                return False
            if tr is not None:
                gap = t0 - s.last_ts if s.last_ts < t0 else s.first_ts - t1
                if gap < tr.min_s:
                    return False
            elif self.cfg.topology.unlisted == "deny" and s is latest:
                return False
        return True

    def _topology_gap(self, ident: _Identity, t: _Track) -> float | None:
        """Without ReID: seconds from the identity's last (ended) sighting, if its window fits."""
        spans = list(ident.spans(t.key))
        if not spans:
            return None
        last = max(spans, key=lambda s: s.last_ts)
        if not last.ended or last.camera_id == t.camera_id:
            return None
        gap = t.first_ts - last.last_ts
        tr = self._transit(last.camera_id, t.camera_id)
        if tr is None or gap < 0 or gap > tr.max_s:
            return None
        if not tr.overlap and gap < tr.min_s:
            return None
        return gap

    def _assign(
        self,
        t: _Track,
        ident: _Identity,
        score: float | None,
        reason: str,
        result: IdentityResult,
        floor_m: float | None = None,
    ) -> None:
        t.global_id = ident.global_id
        ident.tracks[t.key] = t
        for vec, ts, q in t.embs:
            self._add_embedding(ident, vec, t.camera_id, ts, q)
        t.embs = []
        result.events.append(
            Event(
                kind=EventKind.TRACK_ASSIGNED,
                ts=float(t.first_ts),
                day=self.calendar.day_of(t.first_ts),
                site_id=self.cfg.site_id,
                global_id=ident.global_id,
                camera_id=t.camera_id,
                payload={
                    "camera": t.camera_id,
                    "local_id": t.local_id,
                    "similarity": None if score is None else round(float(score), 6),
                    "reason": reason,
                    **({} if floor_m is None else {"floor_m": round(float(floor_m), 3)}),
                },
            )
        )
        _note_crossings(ident, t.buffer)
        result.sightings.extend((ident.global_id, u) for u in t.buffer)
        t.buffer = []

    # ---- housekeeping -------------------------------------------------
    def _forget(self, t: _Track) -> None:
        self._tracks.pop(t.key, None)
        if t.global_id is not None and t.global_id in self._identities:
            self._identities[t.global_id].fold(t)

    def _collect_garbage(self) -> None:
        horizon = self._now - self.track_retention_s
        for t in list(self._tracks.values()):
            if t.last_ts < horizon:
                self._forget(t)

    def flush_gallery(self) -> None:
        """Write pending gallery changes now (before reading the gallery directly)."""
        self._flush()

    def _flush(self, paced: bool = False) -> None:
        """Write the pending gallery changes in one go per kind.

        ``paced``: registrations now, embeddings only when ``gallery_flush_s`` has
        passed since the last write.
        """
        if self._gal_register:
            self.gallery.register_identities(self._gal_register)
            self._gal_register = []
        if paced and self._now - self._gal_flushed < self.gallery_flush_s:
            return
        self._gal_flushed = self._now
        if self._gal_add or self._gal_remove:
            removed = set(self._gal_remove)
            self.gallery.upsert([r for r in self._gal_add if r.embedding_id not in removed])
            self.gallery.remove(self._gal_remove)
            self._gal_add, self._gal_remove = [], []

    # ---- late correction hooks (see mcvision.identity.correction) ------
    def identity_views(
        self,
    ) -> list[tuple[str, np.ndarray | None, list[tuple[str, float, float]]]]:
        """Per active identity: ``(global_id, gallery matrix, spans)`` for late correction.

        The matrix holds the identity's gallery embeddings (centred on their cameras'
        means with ``camera_centring``), None without any; spans are ``(camera_id,
        first_ts, last_ts)`` of its tracks (live ones, and one per camera for those
        already forgotten).
        """
        out = []
        for gid in sorted(self._identities):
            ident = self._identities[gid]
            mat = ident.matrix()
            if mat is not None and self.icfg.camera_centring:
                mat = self._camera_mean.centre(mat, ident.cams)
            spans = [(s.camera_id, s.first_ts, s.last_ts) for s in ident.spans()]
            out.append((gid, mat, spans))
        return out

    def floor_coincidences(self, min_samples: int) -> dict[tuple[str, str], tuple[float, float]]:
        """Late correction: identities seen at the same moments on the floor, and how far apart.

        For each pair of identities with live tracks on different calibrated cameras
        seen at the same moments (at least ``min_samples`` of them, see
        :func:`~mcvision.identity.geometry.floor_distance`): ``(older ID, newer ID)`` →
        ``(nearest, farthest)`` of those tracks' median floor distances (metres).
        Empty without geometry.
        """
        live = [
            t
            for t in self._tracks.values()
            if t.global_id is not None
            and not t.ended
            and t.floor is not None
            and len(t.floor) >= min_samples
        ]
        out: dict[tuple[str, str], tuple[float, float]] = {}
        for i, a in enumerate(live):
            for b in live[i + 1 :]:
                if a.global_id == b.global_id or a.camera_id == b.camera_id:
                    continue
                assert a.floor is not None and b.floor is not None
                d = floor_distance(a.floor, [b.floor], min_samples=min_samples)
                if d is None:
                    continue
                ga, gb = str(a.global_id), str(b.global_id)
                key = (ga, gb) if ga < gb else (gb, ga)
                lo, hi = out.get(key, (d, d))
                out[key] = (min(lo, d), max(hi, d))
        return out

    def absorb(self, src: str, dst: str) -> None:
        """Late correction: identity ``src`` was ``dst``; fold it in and forget ``src``.

        Its live tracks (and so their future updates) now belong to ``dst``, its time
        spans join ``dst``'s, its gallery embeddings move to ``dst`` (in memory and in
        LanceDB, keeping the most diverse ``gallery_per_identity`` of both).

        Raises:
            KeyError: either ID is not an active identity.
        """
        if src == dst:
            return
        a, b = self._identities[dst], self._identities[src]
        self._flush()  # src's pending rows reach the gallery before they move
        del self._identities[src]
        for key, t in b.tracks.items():
            t.global_id = dst
            a.tracks[key] = t
        for cam, (first, last) in b.history.items():
            f0, l0 = a.history.get(cam, (first, last))
            a.history[cam] = (min(f0, first), max(l0, last))
            fa, la = a.floor_ends.get(cam, (None, None))
            fb, lb = b.floor_ends.get(cam, (None, None))
            ends = (fb if first <= f0 else fa, lb if last >= l0 else la)
            if ends != (None, None):
                a.floor_ends[cam] = ends
        # gone out only if both were (either may be the part still inside)
        a.out_ts = None if a.out_ts is None or b.out_ts is None else max(a.out_ts, b.out_ts)
        self.gallery.move_identity(src, dst)
        vecs, meta, cams = a.vecs + b.vecs, a.meta + b.meta, a.cams + b.cams
        cap = self.icfg.gallery_per_identity
        if len(vecs) > cap:
            keep = diverse_subset(np.stack(vecs), cap, np.array([m[2] for m in meta]))
            self.gallery.remove(m[0] for i, m in enumerate(meta) if i not in set(keep))
            vecs = [vecs[i] for i in keep]
            meta = [meta[i] for i in keep]
            cams = [cams[i] for i in keep]
        a.vecs, a.meta, a.cams, a._mat = list(vecs), list(meta), list(cams), None


class CameraMeans:
    """Running mean embedding per camera, and embeddings centred on it (site adaptation).

    Every camera adds its own bias to ReID embeddings (its light, its angle, its
    background); subtracting the camera's mean embedding and re-normalising removes
    the shared part, so a cross-camera cosine compares people rather than cameras.
    The mean is of every unit embedding the camera produced today (no labels needed);
    a camera with fewer than ``min_count`` embeddings is left uncentred.

    Example:
        >>> cm = CameraMeans(min_count=2)
        >>> for v in ([1.0, 0.2], [0.0, 1.2]):
        ...     cm.add("c1", np.array(v) / np.linalg.norm(v))
        >>> out = cm.centre(np.array([[0.6, 0.8]]), ["c1"])
        >>> round(float(np.linalg.norm(out)), 6), bool(out[0, 0] < 0.6)
        (1.0, True)
    """

    def __init__(self, min_count: int = 20) -> None:
        self.min_count = int(min_count)
        self._sum: dict[str, np.ndarray] = {}
        self._n: dict[str, int] = {}

    def add(self, camera_id: str, vec: np.ndarray) -> None:
        v = np.asarray(vec, np.float64)
        self._sum[camera_id] = self._sum.get(camera_id, 0.0) + v
        self._n[camera_id] = self._n.get(camera_id, 0) + 1

    def mean(self, camera_id: str) -> np.ndarray | None:
        n = self._n.get(camera_id, 0)
        return self._sum[camera_id] / n if n >= self.min_count else None

    def centre(self, mat: np.ndarray, cameras: Sequence[str]) -> np.ndarray:
        """Rows of ``mat`` minus their camera's mean, re-normalised (rows without a mean kept)."""
        out = np.array(mat, dtype=np.float32, copy=True)
        for i, cam in enumerate(cameras):
            mu = self.mean(cam)
            if mu is not None:
                v = out[i] - mu.astype(np.float32)
                norm = float(np.linalg.norm(v))
                if norm > 1e-9:
                    out[i] = v / norm
        return out


def _note_crossings(ident: _Identity, updates: Sequence[TrackletUpdate]) -> None:
    """Keep when ``ident`` last went out through an entrance line (None once back in)."""
    for u in updates:
        for c in u.crossings:
            ident.out_ts = float(u.ts) if c.direction == Direction.OUT else None


def _same_frame(a: Sequence[float] | None, b: Sequence[float]) -> bool:
    """Do two tracks of one camera share a frame (a sighting ts)? True when ``a`` is unknown.

    The tracker can hold one person in several tracks whose time spans overlap
    without ever being seen in the same frame: a lost track that lay in wait and
    picked the person up, while the person's own track was lost in turn. Only a
    shared frame proves two people.
    """
    if a is None:
        return True
    if not a or not b or a[0] > b[-1] or b[0] > a[-1]:
        return False
    small, big = (a, b) if len(a) <= len(b) else (b, a)
    frames = {round(x * 1000.0) for x in big}
    return any(round(x * 1000.0) in frames for x in small)


def _diverse_slot(
    mat: np.ndarray | None,
    rank: list[tuple[float, float]],
    vec: np.ndarray,
    quality: float,
    cap: int,
) -> int | None:
    """Where a new embedding goes in a bounded, diverse set: ``len`` = append, None = skip.

    Below ``cap`` it is appended. When full, the two most similar stored
    embeddings are found; if the new one is at least that close to one of the
    stored ones it is redundant and skipped, else it replaces the one of the
    pair that ranks lower by ``(quality, ts)``.
    """
    n = 0 if mat is None else len(mat)
    if n < cap:
        return n
    assert mat is not None
    if n == 1:
        return 0 if quality >= rank[0][0] else None
    gram = mat @ mat.T
    np.fill_diagonal(gram, -np.inf)
    i, j = (int(x) for x in np.unravel_index(int(np.argmax(gram)), gram.shape))
    if float(np.max(mat @ vec)) >= float(gram[i, j]):
        return None
    return i if rank[i] <= rank[j] else j
