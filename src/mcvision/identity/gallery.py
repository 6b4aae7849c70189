"""The embedding gallery of global identities, stored in LanceDB.

One row per stored embedding: ``embedding_id`` (deterministic, the upsert key),
``global_id``, ``day`` (business day, ``YYYY-MM-DD``), ``camera_id``, ``ts``,
``quality``, ``vector`` (float32, L2-normalized) and ``archived``. The
*active* gallery is the rows with ``archived = false``; at the daily reset
:meth:`Gallery.archive_day` flips the flag of a day's rows, so they leave
matching but stay on disk (a long-term, returning-customer gallery reads them
back with ``exclude_archived=False``). A second, vector-less table
``identities`` registers every global ID that was handed out (also those that
never got an embedding), so that a restarted process continues numbering
without reusing an ID.

The directory persists across process restarts: reopening it finds the rows.
``"memory://"`` gives an in-process gallery that is not persisted.

Example:
    >>> import numpy as np
    >>> g = Gallery("memory://", dim=4)
    >>> ids = g.add("20261124-0001", "2026-11-24", "cam1", 10.0, np.array([1.0, 0, 0, 0]))
    >>> g.search(np.array([0.9, 0.1, 0, 0]), k=1)[0][0][0]
    '20261124-0001'
    >>> g.archive_day("2026-11-24")
    1
    >>> g.search(np.array([1.0, 0, 0, 0]), k=1)
    [[]]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lancedb
import numpy as np
import pyarrow as pa

from mcvision.types import stable_id

if TYPE_CHECKING:
    from mcvision.config import SiteConfig

EMBEDDINGS_TABLE = "embeddings"
IDENTITIES_TABLE = "identities"


@dataclass(frozen=True, eq=False)
class GalleryRow:
    """One stored embedding of one identity."""

    embedding_id: str
    global_id: str
    day: str
    camera_id: str
    ts: float
    quality: float
    vector: np.ndarray
    archived: bool = False


def normalize(vectors: Any, dim: int | None = None) -> np.ndarray:
    """L2-normalize embeddings to a float32 ``(N, D)`` array.

    Args:
        vectors: one ``(D,)`` vector or an ``(N, D)`` array.
        dim: the expected ``D``; a different width raises.

    Raises:
        ValueError: wrong shape or width, non-finite values, or a zero vector.
    """
    a = np.asarray(vectors, dtype=np.float32)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise ValueError(f"embeddings must be (D,) or (N, D), got shape {a.shape}")
    if dim is not None and a.shape[1] != dim:
        raise ValueError(f"embedding dimension mismatch: got {a.shape[1]}, gallery expects {dim}")
    if not np.all(np.isfinite(a)):
        raise ValueError("embeddings contain NaN or infinite values")
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    if a.shape[0] and np.any(norms == 0):
        raise ValueError("cannot normalize a zero embedding")
    return (a / np.where(norms == 0, 1, norms)).astype(np.float32)


def _q(value: str) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def _in(values: Iterable[str]) -> str:
    return "(" + ", ".join(_q(v) for v in values) + ")"


class Gallery:
    """Embeddings of global identities in a LanceDB directory.

    Args:
        uri: LanceDB directory (created when missing) or ``"memory://"``.
        dim: embedding width; an existing directory with another width raises.

    Example:
        >>> import numpy as np
        >>> g = Gallery("memory://", dim=3)
        >>> _ = g.add("G1", "2026-11-24", "cam1", [1.0, 2.0], [[1, 0, 0], [0.9, 0.1, 0]])
        >>> _ = g.add("G2", "2026-11-24", "cam2", 3.0, [0, 1, 0])
        >>> [[(gid, round(s, 2)) for gid, s in hits] for hits in g.search([1, 0.05, 0], k=2)]
        [[('G1', 1.0), ('G2', 0.05)]]
        >>> g.count(global_id="G1")
        2
    """

    def __init__(self, uri: str | Path, dim: int = 512) -> None:
        if int(dim) <= 0:
            raise ValueError(f"dim must be > 0, got {dim}")
        self.uri = str(uri)
        self.dim = int(dim)
        self._db = lancedb.connect(self.uri)
        self._schema = pa.schema(
            [
                pa.field("embedding_id", pa.string()),
                pa.field("global_id", pa.string()),
                pa.field("day", pa.string()),
                pa.field("camera_id", pa.string()),
                pa.field("ts", pa.float64()),
                pa.field("quality", pa.float32()),
                pa.field("archived", pa.bool_()),
                pa.field("vector", pa.list_(pa.float32(), self.dim)),
            ]
        )
        self._id_schema = pa.schema(
            [
                pa.field("global_id", pa.string()),
                pa.field("day", pa.string()),
                pa.field("ts", pa.float64()),
                pa.field("archived", pa.bool_()),
            ]
        )
        self._tbl = self._open_or_create(EMBEDDINGS_TABLE, self._schema)
        vtype = self._tbl.schema.field("vector").type
        stored = getattr(vtype, "list_size", None)
        if stored != self.dim:
            raise ValueError(
                f"gallery at {self.uri} stores {stored}-d embeddings, but dim={self.dim} was asked"
            )
        self._ids = self._open_or_create(IDENTITIES_TABLE, self._id_schema)

    def _open_or_create(self, name: str, schema: pa.Schema) -> Any:
        try:
            return self._db.open_table(name)
        except ValueError:  # "Table ... was not found"
            return self._db.create_table(name, schema=schema)

    # ---- writing ------------------------------------------------------
    @staticmethod
    def embedding_id(global_id: str, camera_id: str, ts: float, index: int = 0) -> str:
        """The deterministic key of an embedding: same inputs, same row."""
        return stable_id("embedding", global_id, camera_id, float(ts), int(index))

    def add(
        self,
        global_id: str,
        day: str,
        camera_id: str,
        ts: float | Sequence[float],
        vectors: Any,
        quality: float | Sequence[float] = 1.0,
    ) -> list[str]:
        """Upsert embeddings of one identity seen on one camera.

        Args:
            global_id: the identity.
            day: its business day.
            camera_id: the camera the crops came from.
            ts: one time for all vectors, or one per vector.
            vectors: ``(D,)`` or ``(N, D)``; normalized here.
            quality: one crop quality for all, or one per vector.

        Returns:
            The ``embedding_id`` of each vector. Adding the same
            (global_id, camera_id, ts, position) again replaces the row.
        """
        vecs = normalize(vectors, self.dim)
        n = len(vecs)
        tss = np.broadcast_to(np.asarray(ts, dtype=np.float64), (n,))
        qs = np.broadcast_to(np.asarray(quality, dtype=np.float32), (n,))
        rows = [
            GalleryRow(
                embedding_id=self.embedding_id(global_id, camera_id, float(tss[i]), i),
                global_id=global_id,
                day=day,
                camera_id=camera_id,
                ts=float(tss[i]),
                quality=float(qs[i]),
                vector=vecs[i],
            )
            for i in range(n)
        ]
        self.upsert(rows)
        return [r.embedding_id for r in rows]

    def upsert(self, rows: Sequence[GalleryRow]) -> None:
        """Insert rows, replacing those with the same ``embedding_id``."""
        if not rows:
            return
        vecs = normalize(np.stack([np.asarray(r.vector, dtype=np.float32) for r in rows]), self.dim)
        seen: dict[str, int] = {}
        for i, r in enumerate(rows):  # the last of duplicate keys wins
            seen[r.embedding_id] = i
        idx = sorted(seen.values())
        table = pa.table(
            {
                "embedding_id": [rows[i].embedding_id for i in idx],
                "global_id": [rows[i].global_id for i in idx],
                "day": [rows[i].day for i in idx],
                "camera_id": [rows[i].camera_id for i in idx],
                "ts": [float(rows[i].ts) for i in idx],
                "quality": [float(rows[i].quality) for i in idx],
                "archived": [bool(rows[i].archived) for i in idx],
                "vector": pa.FixedSizeListArray.from_arrays(
                    pa.array(vecs[idx].reshape(-1), type=pa.float32()), self.dim
                ),
            },
            schema=self._schema,
        )
        (
            self._tbl.merge_insert("embedding_id")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute(table)
        )

    def remove(self, embedding_ids: Iterable[str]) -> int:
        """Delete embeddings by ID. Returns how many rows went."""
        ids = list(dict.fromkeys(embedding_ids))
        if not ids:
            return 0
        before = self._tbl.count_rows()
        self._tbl.delete(f"embedding_id IN {_in(ids)}")
        return before - self._tbl.count_rows()

    def purge_archived(self, cutoff_ts: float) -> int:
        """Delete archived (past days') embeddings older than ``cutoff_ts``. Returns how many."""
        where = f"archived = true AND ts < {float(cutoff_ts)!r}"
        n = int(self._tbl.count_rows(where))
        if n:
            self._tbl.delete(where)
        return n

    def erase_identities(self, global_ids: Iterable[str]) -> int:
        """Delete every embedding (active and archived) and the hand-out records of ``global_ids``.

        Returns:
            How many embeddings went.
        """
        ids = set(global_ids)
        if not ids:
            return 0
        removed = self.remove(
            r.embedding_id for r in self.rows(exclude_archived=False) if r.global_id in ids
        )
        self.forget_identities(ids)
        return removed

    def forget_identities(self, global_ids: Iterable[str]) -> None:
        """Drop the hand-out records of ``global_ids`` (their embeddings: :meth:`remove`)."""
        ids = list(dict.fromkeys(global_ids))
        if ids:
            self._ids.delete(f"global_id IN {_in(ids)}")

    def move_identity(self, src: str, dst: str) -> int:
        """Late correction: ``src`` was ``dst`` all along; its embeddings become ``dst``'s.

        The rows keep their ``embedding_id`` (so doing it again changes nothing);
        ``src``'s hand-out record is archived, so a restarted process does not bring
        it back as an active identity but still never hands the ID out again.

        Returns:
            How many embeddings moved.
        """
        if src == dst:
            return 0
        where = f"global_id = {_q(src)}"
        n = int(self._tbl.count_rows(where))
        if n:
            self._tbl.update(where=where, values={"global_id": dst})
        if self._ids.count_rows(f"{where} AND archived = false"):
            self._ids.update(where=where, values={"archived": True})
        return n

    def register_identity(self, global_id: str, day: str, ts: float) -> None:
        """Record that ``global_id`` was handed out on ``day`` (idempotent)."""
        self.register_identities([(global_id, day, ts)])

    def register_identities(self, items: Sequence[tuple[str, str, float]]) -> None:
        """Record several ``(global_id, day, ts)`` hand-outs in one write (idempotent)."""
        uniq = {gid: (gid, day, float(ts)) for gid, day, ts in items}
        if not uniq:
            return
        table = pa.table(
            {
                "global_id": [v[0] for v in uniq.values()],
                "day": [v[1] for v in uniq.values()],
                "ts": [v[2] for v in uniq.values()],
                "archived": [False] * len(uniq),
            },
            schema=self._id_schema,
        )
        self._ids.merge_insert("global_id").when_not_matched_insert_all().execute(table)

    def archive_day(self, day: str) -> int:
        """Move a day's identities out of the active gallery (rows are kept).

        Returns:
            How many embeddings were archived.
        """
        where = f"day = {_q(day)} AND archived = false"
        n = self._tbl.count_rows(where)
        if n:
            self._tbl.update(where=where, values={"archived": True})
        if self._ids.count_rows(where):
            self._ids.update(where=where, values={"archived": True})
        return n

    def archive_days_before(self, day: str) -> int:
        """Archive every still-active row of business days before ``day``.

        A process that stopped before its reset left yesterday active; this
        puts such rows where a reset would have. Returns the embeddings moved.
        """
        where = f"day < {_q(day)} AND archived = false"
        n = self._tbl.count_rows(where)
        if n:
            self._tbl.update(where=where, values={"archived": True})
        if self._ids.count_rows(where):
            self._ids.update(where=where, values={"archived": True})
        return n

    def prune(self, global_id: str, keep: int) -> int:
        """Keep at most ``keep`` embeddings of one identity, the most diverse.

        Selection is farthest-point: start from the best-quality embedding,
        then repeatedly keep the one least similar to those already kept.

        Returns:
            How many rows were deleted.
        """
        if keep < 0:
            raise ValueError(f"keep must be >= 0, got {keep}")
        rows = self.rows(global_id=global_id, exclude_archived=False)
        if len(rows) <= keep:
            return 0
        chosen = diverse_subset(
            np.stack([r.vector for r in rows]), keep, np.array([r.quality for r in rows])
        )
        drop = [r.embedding_id for i, r in enumerate(rows) if i not in set(chosen)]
        return self.remove(drop)

    def compact(self) -> None:
        """Merge the small files that many upserts leave behind."""
        for tbl in (self._tbl, self._ids):
            tbl.optimize()

    # ---- reading ------------------------------------------------------
    @staticmethod
    def _where(
        global_id: str | None = None, day: str | None = None, exclude_archived: bool = False
    ) -> str | None:
        parts = []
        if global_id is not None:
            parts.append(f"global_id = {_q(global_id)}")
        if day is not None:
            parts.append(f"day = {_q(day)}")
        if exclude_archived:
            parts.append("archived = false")
        return " AND ".join(parts) or None

    def count(
        self, global_id: str | None = None, day: str | None = None, exclude_archived: bool = False
    ) -> int:
        """Number of stored embeddings matching the filters."""
        where = self._where(global_id, day, exclude_archived)
        return self._tbl.count_rows(where) if where else self._tbl.count_rows()

    def rows(
        self, global_id: str | None = None, day: str | None = None, exclude_archived: bool = False
    ) -> list[GalleryRow]:
        """Stored embeddings matching the filters, ordered by (global_id, ts)."""
        q = self._tbl.search()
        where = self._where(global_id, day, exclude_archived)
        if where:
            q = q.where(where)
        t = q.limit(None).to_arrow()
        if t.num_rows == 0:
            return []
        vecs = np.asarray(t.column("vector").combine_chunks().flatten(), dtype=np.float32)
        vecs = vecs.reshape(t.num_rows, self.dim)
        cols = {c: t.column(c).to_pylist() for c in self._schema.names if c != "vector"}
        out = [
            GalleryRow(
                embedding_id=cols["embedding_id"][i],
                global_id=cols["global_id"][i],
                day=cols["day"][i],
                camera_id=cols["camera_id"][i],
                ts=float(cols["ts"][i]),
                quality=float(cols["quality"][i]),
                vector=vecs[i].copy(),
                archived=bool(cols["archived"][i]),
            )
            for i in range(t.num_rows)
        ]
        out.sort(key=lambda r: (r.global_id, r.ts, r.embedding_id))
        return out

    def embeddings_of(self, global_id: str, exclude_archived: bool = False) -> np.ndarray:
        """``(N, D)`` embeddings of one identity in time order (``(0, D)`` if none)."""
        rows = self.rows(global_id=global_id, exclude_archived=exclude_archived)
        if not rows:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([r.vector for r in rows])

    def identities(self, day: str | None = None, exclude_archived: bool = False) -> list[str]:
        """Global IDs known for ``day``: registered ones and those with embeddings."""
        where = self._where(None, day, exclude_archived)
        out: set[str] = set()
        for tbl in (self._ids, self._tbl):
            q = tbl.search().select(["global_id"])
            if where:
                q = q.where(where)
            out.update(q.limit(None).to_arrow().column("global_id").to_pylist())
        return sorted(out)

    def search(
        self,
        vectors: Any,
        k: int = 5,
        day: str | None = None,
        exclude_archived: bool = True,
        candidates: int | None = None,
    ) -> list[list[tuple[str, float]]]:
        """Nearest identities of each query embedding.

        Args:
            vectors: ``(D,)`` or ``(N, D)`` queries; normalized here.
            k: identities to return per query.
            day: only identities of this business day (prefiltered).
            exclude_archived: only the active gallery.
            candidates: embeddings fetched per query before aggregation
                (default ``max(32, 16 * k)``).

        Returns:
            Per query, up to ``k`` ``(global_id, similarity)`` pairs, one per
            identity (its best embedding's cosine similarity), best first.
        """
        if k <= 0:
            raise ValueError(f"k must be > 0, got {k}")
        q = normalize(vectors, self.dim)
        out: list[list[tuple[str, float]]] = [[] for _ in range(len(q))]
        if len(q) == 0 or self._tbl.count_rows() == 0:
            return out
        limit = candidates or max(32, 16 * k)
        query = self._tbl.search(list(q) if len(q) > 1 else q[0]).distance_type("cosine")
        where = self._where(None, day, exclude_archived)
        if where:
            query = query.where(where, prefilter=True)
        t = query.select(["global_id"]).limit(limit).to_arrow()
        qidx = (
            t.column("query_index").to_pylist()
            if "query_index" in t.column_names
            else [0] * t.num_rows
        )
        best: list[dict[str, float]] = [{} for _ in range(len(q))]
        for qi, gid, dist in zip(
            qidx, t.column("global_id").to_pylist(), t.column("_distance").to_pylist(), strict=True
        ):
            sim = 1.0 - float(dist)
            if sim > best[qi].get(gid, -np.inf):
                best[qi][gid] = sim
        for qi, agg in enumerate(best):
            out[qi] = sorted(agg.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        return out


def stored_dim(uri: str | Path, table: str, default: int) -> int:
    """The vector width of an existing LanceDB table (``default`` when there is none)."""
    try:
        tbl = lancedb.connect(str(uri)).open_table(table)
    except (ValueError, FileNotFoundError):
        return default
    size = getattr(tbl.schema.field("vector").type, "list_size", None)
    return int(size) if size else default


def open_gallery(cfg: SiteConfig) -> Gallery | None:
    """A site's daily gallery as stored on disk (``None`` when the site has none yet).

    The width is read from the stored table, so no ReID model is needed to open it.
    """
    path = Path(cfg.storage.gallery_dir())
    if not path.exists():
        return None
    return Gallery(path, dim=stored_dim(path, EMBEDDINGS_TABLE, 512))


def diverse_subset(vectors: np.ndarray, keep: int, quality: np.ndarray | None = None) -> list[int]:
    """Indices of ``keep`` mutually dissimilar rows (greedy farthest-point).

    The first pick is the best-quality row (the first on ties); each next pick
    is the row whose highest cosine to the picked ones is lowest.
    """
    n = len(vectors)
    if keep >= n:
        return list(range(n))
    if keep <= 0:
        return []
    v = normalize(vectors)
    q = np.zeros(n) if quality is None else np.asarray(quality, dtype=np.float64)
    chosen = [int(np.argmax(q))]
    closest = v @ v[chosen[0]]
    while len(chosen) < keep:
        closest[chosen] = np.inf
        nxt = int(np.argmin(closest))
        chosen.append(nxt)
        closest = np.maximum(closest, v @ v[nxt])
    return sorted(chosen)
