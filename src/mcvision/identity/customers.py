"""Returning customers: a long-term gallery of customers across business days (opt-in).

Global IDs live for one business day. With ``customers.enabled`` the site also
keeps *customers* in LanceDB (``<storage.root>/customers``):

- table ``customers`` (no vectors): ``customer_id``, ``first_seen``/``last_seen``
  (epoch seconds), ``visit_count`` (business days with a visit), ``last_day``
  and ``global_ids`` (the daily IDs linked to it — the links erasure removes);
- tables ``body`` (ReID, 512-d) and ``face`` (128-d, only when faces are on): per
  customer up to ``customers.exemplars`` diverse exemplar embeddings
  (``kind = 'exemplar'``) and one running mean (``kind = 'mean'``, with the
  number of embeddings folded into it in ``n``). Embeddings only, never images.

The flow (driven by :class:`~mcvision.identity.site.SiteIdentity`):

1. During a day, :class:`CustomerLinker` collects each global ID's body (and
   face) embeddings from the resolved sightings. Once an identity *settles*
   (``customers.min_embeddings`` body embeddings, or a first face embedding
   after that) it is checked once against the staff gallery, then against the
   customers: the score of a customer is the best cosine of the identity's mean
   embedding to its exemplars or mean, per modality; with both, ``face_weight ×
   face + (1 − face_weight) × body``. At or above ``customers.match_threshold``
   the visitor is *returning* (a :class:`Decision`).
2. At the daily reset :meth:`CustomerGallery.fold_day` folds each of the day's
   (non-staff) identities into its matched customer, or into the best match
   found then, or into a new customer: exemplars re-chosen (farthest-point) from
   the old ones and the day's, the mean updated, ``visit_count`` + 1 per day.
3. :meth:`CustomerGallery.purge` deletes customers not seen for
   ``retention_days`` (rows and links); :meth:`CustomerGallery.erase` deletes one
   on request (right to erasure).

Example:
    >>> import numpy as np
    >>> g = CustomerGallery("memory://", body_dim=4, face_dim=2)
    >>> day1 = {"20261124-0001": DayPerson(body=np.array([[1.0, 0, 0, 0]]), first_ts=10.0,
    ...                                    last_ts=20.0)}
    >>> cid = g.fold_day("2026-11-24", day1)["20261124-0001"]
    >>> m = g.match(body=np.array([0.95, 0.05, 0, 0]))
    >>> m.customer_id == cid, m.visit_count
    (True, 1)
    >>> g.erase(cid)
    ['20261124-0001']
    >>> g.match(body=np.array([1.0, 0, 0, 0])) is None
    True
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lancedb
import numpy as np
import pyarrow as pa

from mcvision.analytics.pseudonyms import pseudonymize_store, pseudonyms
from mcvision.identity.gallery import diverse_subset, normalize, stored_dim
from mcvision.types import TrackletUpdate, stable_id

if TYPE_CHECKING:
    from mcvision.analytics.store import EventStore
    from mcvision.config import CustomersConfig, SiteConfig
    from mcvision.identity.gallery import Gallery
    from mcvision.identity.staff import StaffRegistry

DAY_S = 86_400.0
CUSTOMERS_TABLE = "customers"


def _q(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _in(values: Iterable[str]) -> str:
    return "(" + ", ".join(_q(v) for v in values) + ")"


@dataclass
class DayPerson:
    """What a business day knows of one global ID, to fold into the customers.

    Attributes:
        body: ``(N, D)`` body embeddings (any N ≥ 0).
        face: ``(M, F)`` face embeddings or None.
        first_ts: first sighting.
        last_ts: last sighting.
        customer_id: the customer it was matched to during the day, if any.
    """

    body: np.ndarray | None
    first_ts: float
    last_ts: float
    face: np.ndarray | None = None
    customer_id: str | None = None


@dataclass(frozen=True)
class CustomerMatch:
    """The best customer for a query, with its scores (None where a modality is missing)."""

    customer_id: str
    score: float
    body: float | None
    face: float | None
    visit_count: int
    first_seen: float
    last_seen: float


@dataclass(frozen=True)
class Customer:
    """One row of the ``customers`` table."""

    customer_id: str
    first_seen: float
    last_seen: float
    visit_count: int
    last_day: str
    global_ids: tuple[str, ...]


class CustomerGallery:
    """Long-term customers in a LanceDB directory.

    Args:
        uri: LanceDB directory (created when missing) or ``"memory://"``.
        body_dim: width of body ReID embeddings.
        face_dim: width of face embeddings.
        match_threshold: min (fused) score for :meth:`match`, on the body embedder's scale
            (the default is OSNet x0.25's ``customers.match_threshold``; retail-0286's is 0.47,
            see ``mcvision.config.EMBEDDER_THRESHOLDS``).
        face_weight: weight of the face cosine when body and face both exist.
        exemplars: exemplar embeddings kept per customer and modality.
        retention_days: :meth:`purge` deletes customers unseen this long.

    Example:
        >>> g = CustomerGallery("memory://", body_dim=3)
        >>> g.report()["customers"]
        0
    """

    def __init__(
        self,
        uri: str | Path,
        *,
        body_dim: int = 512,
        face_dim: int = 128,
        match_threshold: float = 0.75,
        face_weight: float = 0.6,
        exemplars: int = 8,
        retention_days: float = 30.0,
    ) -> None:
        if not (math.isfinite(retention_days) and retention_days > 0):
            raise ValueError(f"retention_days must be > 0, got {retention_days!r}")
        if not 0.0 <= face_weight <= 1.0:
            raise ValueError(f"face_weight must be in [0, 1], got {face_weight!r}")
        if exemplars < 1:
            raise ValueError(f"exemplars must be >= 1, got {exemplars!r}")
        self.uri = str(uri)
        self.dims = {"body": int(body_dim), "face": int(face_dim)}
        self.match_threshold = float(match_threshold)
        self.face_weight = float(face_weight)
        self.exemplars = int(exemplars)
        self.retention_days = float(retention_days)
        self._db = lancedb.connect(self.uri)
        self._cust_schema = pa.schema(
            [
                pa.field("customer_id", pa.string()),
                pa.field("first_seen", pa.float64()),
                pa.field("last_seen", pa.float64()),
                pa.field("visit_count", pa.int64()),
                pa.field("last_day", pa.string()),
                pa.field("global_ids", pa.list_(pa.string())),
            ]
        )
        self._cust = self._open(CUSTOMERS_TABLE, self._cust_schema)
        self._vec: dict[str, Any] = {}
        self._vec_schema: dict[str, pa.Schema] = {}
        for kind, dim in self.dims.items():
            schema = pa.schema(
                [
                    pa.field("row_id", pa.string()),
                    pa.field("customer_id", pa.string()),
                    pa.field("kind", pa.string()),
                    pa.field("n", pa.int64()),
                    pa.field("ts", pa.float64()),
                    pa.field("vector", pa.list_(pa.float32(), dim)),
                ]
            )
            self._vec_schema[kind] = schema
            self._vec[kind] = self._open(kind, schema)
            stored = getattr(self._vec[kind].schema.field("vector").type, "list_size", None)
            if stored != dim:
                raise ValueError(
                    f"customer gallery at {self.uri} stores {stored}-d {kind} embeddings, "
                    f"but {dim} was asked"
                )

    @classmethod
    def from_config(
        cls, cfg: CustomersConfig, uri: str | Path, body_dim: int = 512
    ) -> CustomerGallery:
        """The gallery of a site's ``customers`` section at ``uri`` (``body_dim``: the ReID width)."""
        return cls(
            uri,
            body_dim=body_dim,
            match_threshold=cfg.match_threshold,
            face_weight=cfg.face_weight,
            exemplars=cfg.exemplars,
            retention_days=cfg.retention_days,
        )

    def _open(self, name: str, schema: pa.Schema) -> Any:
        try:
            return self._db.open_table(name)
        except ValueError:
            return self._db.create_table(name, schema=schema)

    # ---- reading ------------------------------------------------------
    def customers(self, where: str | None = None) -> list[Customer]:
        """Customers (optionally filtered by a SQL ``where``), by customer_id."""
        q = self._cust.search()
        if where:
            q = q.where(where)
        t = q.limit(None).to_arrow()
        cols = {c: t.column(c).to_pylist() for c in self._cust_schema.names}
        out = [
            Customer(
                customer_id=cols["customer_id"][i],
                first_seen=float(cols["first_seen"][i]),
                last_seen=float(cols["last_seen"][i]),
                visit_count=int(cols["visit_count"][i]),
                last_day=cols["last_day"][i],
                global_ids=tuple(cols["global_ids"][i] or ()),
            )
            for i in range(t.num_rows)
        ]
        return sorted(out, key=lambda c: c.customer_id)

    def get(self, customer_id: str) -> Customer:
        """One customer. Raises KeyError naming it when unknown."""
        found = self.customers(f"customer_id = {_q(customer_id)}")
        if not found:
            raise KeyError(f"unknown customer {customer_id!r}")
        return found[0]

    def vectors(
        self, customer_id: str, kind: str = "body"
    ) -> tuple[np.ndarray, np.ndarray | None, int]:
        """A customer's ``(exemplars, mean, n)`` of one modality (``(0, D)``, None, 0 if none)."""
        tbl = self._table(kind)
        t = tbl.search().where(f"customer_id = {_q(customer_id)}").limit(None).to_arrow()
        dim = self.dims[kind]
        if t.num_rows == 0:
            return np.zeros((0, dim), np.float32), None, 0
        vecs = np.asarray(t.column("vector").combine_chunks().flatten(), np.float32)
        vecs = vecs.reshape(t.num_rows, dim)
        kinds = t.column("kind").to_pylist()
        ns = t.column("n").to_pylist()
        ex = vecs[[i for i, k in enumerate(kinds) if k == "exemplar"]]
        mi = [i for i, k in enumerate(kinds) if k == "mean"]
        return ex, (vecs[mi[0]].copy() if mi else None), (int(ns[mi[0]]) if mi else 0)

    def count(self, kind: str | None = None) -> int:
        """Stored embeddings (of one modality, or all); ``"customers"`` counts customers."""
        if kind == "customers":
            return self._cust.count_rows()
        kinds = [kind] if kind else list(self.dims)
        return sum(self._table(k).count_rows() for k in kinds)

    def search(self, vector: Any, kind: str = "body", k: int = 5) -> list[tuple[str, float]]:
        """Nearest customers of one query embedding: ``(customer_id, cosine)``, best first."""
        tbl = self._table(kind)
        q = normalize(vector, self.dims[kind])[0]
        if tbl.count_rows() == 0:
            return []
        t = (
            tbl.search(q)
            .distance_type("cosine")
            .select(["customer_id", "_distance"])
            .limit(max(64, 16 * k))
            .to_arrow()
        )
        best: dict[str, float] = {}
        for cid, dist in zip(
            t.column("customer_id").to_pylist(), t.column("_distance").to_pylist(), strict=True
        ):
            best[cid] = max(best.get(cid, -math.inf), 1.0 - float(dist))
        return sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:k]

    def match(
        self,
        body: Any | None = None,
        face: Any | None = None,
        *,
        k: int = 5,
        exclude: Iterable[str] = (),
    ) -> CustomerMatch | None:
        """The best customer for a visitor's mean body and/or face embedding, if above threshold.

        Each customer scores its best cosine per modality; with both modalities
        present for a customer the score is the weighted fusion, else the one
        that exists. Returns None below ``match_threshold`` (or with no query).
        Customers in ``exclude`` are passed over.
        """
        if body is None and face is None:
            return None
        skip = set(exclude)
        kk = k + len(skip)
        b = dict(self.search(body, "body", kk)) if body is not None else {}
        f = dict(self.search(face, "face", kk)) if face is not None else {}
        best: tuple[float, str] | None = None
        for cid in (set(b) | set(f)) - skip:
            sb, sf = b.get(cid), f.get(cid)
            if sb is not None and sf is not None:
                s = self.face_weight * sf + (1.0 - self.face_weight) * sb
            else:
                s = sb if sb is not None else float(sf)  # type: ignore[arg-type]
            if best is None or (s, cid) > best:
                best = (s, cid)
        if best is None or best[0] < self.match_threshold:
            return None
        c = self.get(best[1])
        return CustomerMatch(
            customer_id=c.customer_id,
            score=round(best[0], 6),
            body=None if b.get(c.customer_id) is None else round(b[c.customer_id], 6),
            face=None if f.get(c.customer_id) is None else round(f[c.customer_id], 6),
            visit_count=c.visit_count,
            first_seen=c.first_seen,
            last_seen=c.last_seen,
        )

    # ---- writing ------------------------------------------------------
    def fold_day(self, day: str, people: Mapping[str, DayPerson]) -> dict[str, str]:
        """Fold a business day's identities into customers; returns ``global_id → customer_id``.

        An identity matched during the day goes to that customer; otherwise to
        the best match now among the customers not yet claimed by another of
        the day's IDs (two IDs of one day are two people), else to a new
        customer. A customer's ``visit_count`` grows by one per day, however
        many of the day's IDs it absorbs. Folding the same day twice changes
        nothing more.
        """
        out: dict[str, str] = {}
        claimed = {p.customer_id for p in people.values() if p.customer_id}
        for gid in sorted(people):
            p = people[gid]
            body = _mean_or_none(p.body, self.dims["body"])
            face = _mean_or_none(p.face, self.dims["face"])
            if body is None and face is None:
                continue  # nothing to recognise them by
            cid = p.customer_id
            if cid is not None and not self.customers(f"customer_id = {_q(cid)}"):
                cid = None  # purged or erased meanwhile
            if cid is None:
                m = self.match(body=body, face=face, exclude=claimed)
                cid = m.customer_id if m else None
            if cid is None:
                cid = "cust-" + stable_id("customer", day, gid)
            self._fold_one(cid, day, gid, p)
            claimed.add(cid)
            out[gid] = cid
        return out

    def _fold_one(self, cid: str, day: str, gid: str, p: DayPerson) -> None:
        found = self.customers(f"customer_id = {_q(cid)}")
        if found:
            c = found[0]
            if gid in c.global_ids:
                return  # this day was folded already
            visits = c.visit_count + (0 if c.last_day == day else 1)
            first, last = min(c.first_seen, p.first_ts), max(c.last_seen, p.last_ts)
            gids = [*c.global_ids, gid]
            last_day = max(c.last_day, day)
        else:
            visits, first, last, gids, last_day = 1, p.first_ts, p.last_ts, [gid], day
        for kind, new in (("body", p.body), ("face", p.face)):
            if new is not None and len(new):
                self._fold_vectors(cid, kind, normalize(new, self.dims[kind]), p.last_ts)
        row = pa.table(
            {
                "customer_id": [cid],
                "first_seen": [float(first)],
                "last_seen": [float(last)],
                "visit_count": [int(visits)],
                "last_day": [last_day],
                "global_ids": [gids],
            },
            schema=self._cust_schema,
        )
        (
            self._cust.merge_insert("customer_id")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute(row)
        )

    def _fold_vectors(self, cid: str, kind: str, new: np.ndarray, ts: float) -> None:
        ex, mean, n = self.vectors(cid, kind)
        pool = np.concatenate([ex, new]) if len(ex) else new
        keep = pool[diverse_subset(pool, self.exemplars)]
        total = new.sum(axis=0) + (mean * n if mean is not None else 0.0)
        new_mean = normalize(total, self.dims[kind])[0]
        tbl = self._table(kind)
        tbl.delete(f"customer_id = {_q(cid)}")
        vecs = np.concatenate([keep, new_mean[None, :]]).astype(np.float32)
        m = len(vecs)
        table = pa.table(
            {
                "row_id": [stable_id(cid, kind, i) for i in range(m)],
                "customer_id": [cid] * m,
                "kind": ["exemplar"] * (m - 1) + ["mean"],
                "n": [1] * (m - 1) + [int(n + len(new))],
                "ts": [float(ts)] * m,
                "vector": pa.FixedSizeListArray.from_arrays(
                    pa.array(vecs.reshape(-1), type=pa.float32()), self.dims[kind]
                ),
            },
            schema=self._vec_schema[kind],
        )
        tbl.add(table)

    def _delete(self, customer_ids: Sequence[str]) -> None:
        if not customer_ids:
            return
        where = f"customer_id IN {_in(customer_ids)}"
        for tbl in (self._cust, *self._vec.values()):
            tbl.delete(where)

    def purge(self, now: float) -> list[str]:
        """Delete every customer last seen more than ``retention_days`` before ``now``.

        Returns:
            The customer IDs deleted (their embeddings and links went with them).
        """
        if not math.isfinite(now):
            raise ValueError(f"now must be finite epoch seconds, got {now!r}")
        cutoff = float(now) - self.retention_days * DAY_S
        old = [c.customer_id for c in self.customers(f"last_seen < {cutoff!r}")]
        self._delete(old)
        return old

    def erase(self, customer_id: str) -> list[str]:
        """Right to erasure: delete one customer's embeddings and links.

        Returns:
            The global IDs that were linked to the customer (to pseudonymize elsewhere).

        Raises:
            KeyError: unknown customer.
        """
        c = self.get(customer_id)
        self._delete([customer_id])
        return list(c.global_ids)

    def report(self) -> dict[str, Any]:
        """What personal data the gallery holds: counts and the oldest item."""
        cs = self.customers()
        return {
            "customers": len(cs),
            "body_embeddings": self._vec["body"].count_rows(),
            "face_embeddings": self._vec["face"].count_rows(),
            "linked_global_ids": sum(len(c.global_ids) for c in cs),
            "oldest_seen": min((c.first_seen for c in cs), default=None),
            "oldest_last_seen": min((c.last_seen for c in cs), default=None),
            "retention_days": self.retention_days,
        }

    def _table(self, kind: str) -> Any:
        try:
            return self._vec[kind]
        except KeyError:
            raise ValueError(
                f"unknown embedding kind {kind!r} (kinds: {sorted(self._vec)})"
            ) from None


def open_customers(cfg: SiteConfig) -> CustomerGallery | None:
    """A site's customer gallery as stored on disk (``None`` when the site has none yet).

    The widths are read from the stored tables, so no model is needed to open it.
    """
    path = Path(cfg.storage.customers_dir())
    if not path.exists():
        return None
    c = cfg.customers
    return CustomerGallery(
        path,
        body_dim=stored_dim(path, "body", 512),
        face_dim=stored_dim(path, "face", 128),
        match_threshold=c.match_threshold,
        face_weight=c.face_weight,
        exemplars=c.exemplars,
        retention_days=c.retention_days,
    )


def erase_customer_records(
    customer_id: str,
    customers: CustomerGallery,
    gallery: Gallery | None,
    store: EventStore,
    salt: bytes | None = None,
) -> dict[str, Any]:
    """Erase one customer: its rows and links, its global IDs' gallery rows, pseudonyms in the store.

    Args:
        customer_id: the customer.
        customers: the customer gallery (the customer's rows and links go).
        gallery: the daily gallery (the linked global IDs' embeddings go), if the site has one.
        store: the event store (the linked global IDs are pseudonymized, the customer ID scrubbed).
        salt: the pseudonym key (random by default).

    Returns:
        ``customer_id``, the number of ``global_ids`` erased, ``gallery_embeddings``
        deleted and ``rows`` pseudonymized per table.

    Raises:
        KeyError: unknown customer.
    """
    gids = customers.erase(customer_id)
    removed = gallery.erase_identities(gids) if gallery is not None else 0
    rows = pseudonymize_store(store, pseudonyms(gids, salt), scrub=[customer_id])
    return {
        "customer_id": customer_id,
        "global_ids": len(gids),
        "gallery_embeddings": removed,
        "rows": rows,
    }


def _mean_or_none(vectors: np.ndarray | None, dim: int) -> np.ndarray | None:
    if vectors is None or len(vectors) == 0:
        return None
    return normalize(normalize(vectors, dim).sum(axis=0), dim)[0]


# ---------------------------------------------------------------- the day's side
@dataclass
class Decision:
    """A settled visitor recognised as staff or as a returning customer.

    Attributes:
        global_id: the day's ID.
        kind: ``"returning"`` or ``"staff"``.
        customer_id: the customer (returning) or staff member (staff).
        visit_count: the customer's visits before today (returning).
        score: the (fused) similarity.
        body: body cosine, if any.
        face: face cosine, if any.
    """

    global_id: str
    kind: str
    customer_id: str
    score: float
    visit_count: int = 0
    body: float | None = None
    face: float | None = None

    def payload(self) -> dict[str, Any]:
        key = "customer_id" if self.kind == "returning" else "staff_id"
        out: dict[str, Any] = {key: self.customer_id, "similarity": self.score}
        if self.kind == "returning":
            out.update(visit_count=self.visit_count, body=self.body, face=self.face)
        return out


@dataclass
class _Person:
    body_sum: np.ndarray | None = None
    n_body: int = 0
    face: list[np.ndarray] = field(default_factory=list)
    first_ts: float = math.inf
    last_ts: float = -math.inf
    checked_at: int = -1  # n_body at the last check
    face_checked: bool = False
    decision: Decision | None = None


class CustomerLinker:
    """One business day's evidence per global ID; decides staff/returning once settled.

    Args:
        customers: the long-term gallery (None: no returning-customer match).
        staff: the staff registry (None: no staff match by embedding).
        min_embeddings: body embeddings before an identity counts as settled.
        max_faces: face embeddings kept per identity (diverse).

    Example:
        >>> linker = CustomerLinker(None, None)
        >>> linker.observe([]), linker.staff_ids()
        ([], set())
    """

    def __init__(
        self,
        customers: CustomerGallery | None,
        staff: StaffRegistry | None,
        *,
        min_embeddings: int = 3,
        max_faces: int = 8,
    ) -> None:
        self.customers = customers
        self.staff = staff
        self.min_embeddings = int(min_embeddings)
        self.max_faces = int(max_faces)
        self._people: dict[str, _Person] = {}
        self._staff_marked: set[str] = set()
        self._forgotten: set[str] = set()  # matched to a customer erased today

    def observe(self, sightings: Iterable[tuple[str, TrackletUpdate]]) -> list[Decision]:
        """Take resolved sightings; return the decisions made by this batch."""
        touched: set[str] = set()
        for gid, u in sightings:
            p = self._people.setdefault(gid, _Person())
            p.first_ts = min(p.first_ts, float(u.ts))
            p.last_ts = max(p.last_ts, float(u.ts))
            if u.embedding is not None:
                v = normalize(u.embedding)[0]
                p.body_sum = v.copy() if p.body_sum is None else p.body_sum + v
                p.n_body += 1
                touched.add(gid)
            fe = getattr(u, "face_embedding", None)
            if fe is not None:
                f = normalize(fe)[0]
                if len(p.face) < self.max_faces:
                    p.face.append(f)
                else:
                    p.face[int(p.n_body) % self.max_faces] = f
                touched.add(gid)
        out: list[Decision] = []
        for gid in sorted(touched):
            d = self._check(gid, self._people[gid])
            if d is not None:
                out.append(d)
        return out

    def _check(self, gid: str, p: _Person) -> Decision | None:
        if p.decision is not None or gid in self._staff_marked or gid in self._forgotten:
            return None
        if p.n_body < self.min_embeddings:
            return None
        first = p.checked_at < 0
        new_face = bool(p.face) and not p.face_checked
        if not (first or new_face):
            return None
        p.checked_at = p.n_body
        p.face_checked = p.face_checked or bool(p.face)
        body = normalize(p.body_sum)[0] if p.body_sum is not None else None
        face = normalize(np.sum(p.face, axis=0))[0] if p.face else None
        if self.staff is not None and body is not None:
            hit = self.staff.match(body)
            if hit is not None:
                p.decision = Decision(gid, "staff", hit[0], round(hit[1], 6))
                self._staff_marked.add(gid)
                return p.decision
        if self.customers is not None:
            m = self.customers.match(body=body, face=face)
            if m is not None:
                p.decision = Decision(
                    gid, "returning", m.customer_id, m.score, m.visit_count, m.body, m.face
                )
                return p.decision
        return None

    def mark_staff(self, global_id: str) -> None:
        """Mark an ID as staff by hand (it will not become a customer)."""
        self._staff_marked.add(global_id)

    def forget_customer(self, customer_id: str) -> list[str]:
        """Drop today's matches to an erased customer; those IDs are not folded tonight."""
        gids = [
            gid
            for gid, p in self._people.items()
            if p.decision is not None and p.decision.customer_id == customer_id
        ]
        for gid in gids:
            self._people[gid].decision = None
            self._forgotten.add(gid)
        return gids

    def staff_ids(self) -> set[str]:
        return set(self._staff_marked)

    def decision(self, global_id: str) -> Decision | None:
        p = self._people.get(global_id)
        return p.decision if p else None

    def day_people(
        self, body_rows: Mapping[str, tuple[np.ndarray, float, float]] | None = None
    ) -> dict[str, DayPerson]:
        """The day's non-staff identities for :meth:`CustomerGallery.fold_day`.

        Args:
            body_rows: per global ID, ``(embeddings, first_ts, last_ts)`` to fold
                (e.g. from the day's diverse gallery, which survives a restart);
                default the identity's mean embedding and sighting span.
        """
        rows = body_rows or {}
        out: dict[str, DayPerson] = {}
        for gid in sorted((set(self._people) | set(rows)) - self._staff_marked - self._forgotten):
            p = self._people.get(gid, _Person())
            body: np.ndarray | None = None
            first, last = p.first_ts, p.last_ts
            if gid in rows:
                body, t0, t1 = rows[gid]
                first, last = min(first, t0), max(last, t1)
            elif p.body_sum is not None:
                body = normalize(p.body_sum)
            if not (math.isfinite(first) and math.isfinite(last)):
                continue
            d = p.decision
            out[gid] = DayPerson(
                body=body,
                face=np.stack(p.face) if p.face else None,
                first_ts=first,
                last_ts=last,
                customer_id=d.customer_id if d is not None and d.kind == "returning" else None,
            )
        return out

    def reset(self) -> None:
        """Forget the day."""
        self._people.clear()
        self._staff_marked.clear()
        self._forgotten.clear()
