"""Staff: enrolled body embeddings, matched like customers, excluded from customer metrics.

Staff are enrolled two ways:

- from a folder of images (:meth:`StaffRegistry.enrol_folder`): in each image
  the person detector finds the largest person, ReID embeds the crop. The staff
  ID is the sub-folder name (``staff/alice/1.jpg``) or else the file stem
  (``staff/alice.jpg``). Images are read, never stored;
- by marking a day's global ID as staff (``POST /api/v1/admin/staff``): its
  gallery embeddings are enrolled (:meth:`StaffRegistry.enrol_vectors`) so the
  person is recognised on later days, and its visits are flagged at once
  (:func:`mark_staff_in_store` rewrites the stored visit snapshots with
  ``is_staff = true``; the store keeps the flagged snapshot).

The registry is a LanceDB directory (``<storage.root>/staff``), one row per
embedding: ``embedding_id``, ``staff_id``, ``source`` (file or global ID),
``vector``.

Example:
    >>> import numpy as np
    >>> reg = StaffRegistry("memory://", dim=3, match_threshold=0.8)
    >>> reg.enrol_vectors("alice", [[1.0, 0, 0]], source="alice.jpg")
    1
    >>> reg.match([0.9, 0.1, 0])[0]
    'alice'
    >>> reg.match([0, 1.0, 0]) is None
    True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import lancedb
import numpy as np
import pyarrow as pa

from mcvision.analytics.store import EventStore
from mcvision.identity.gallery import normalize, open_gallery, stored_dim
from mcvision.types import Detections, Records, Visit, stable_id

if TYPE_CHECKING:
    from mcvision.config import SiteConfig

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


class _Detector(Protocol):
    def detect(self, frames: list[np.ndarray]) -> list[Detections]: ...


class _Embedder(Protocol):
    def embed(self, crops: list[np.ndarray]) -> np.ndarray: ...


@dataclass(frozen=True)
class Enrolled:
    """The outcome of one image: enrolled (``ok``) or why not."""

    path: str
    staff_id: str
    ok: bool
    reason: str = ""


def _q(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


class StaffRegistry:
    """Staff body embeddings in LanceDB.

    Args:
        uri: LanceDB directory or ``"memory://"``.
        dim: embedding width (retail-0286: 256, OSNet x0.25: 512).
        match_threshold: min cosine for :meth:`match`, on the embedder's scale (the
            default is OSNet x0.25's ``staff.match_threshold``; retail-0286's is 0.47, see
            ``mcvision.config.EMBEDDER_THRESHOLDS``).

    Example:
        >>> StaffRegistry("memory://", dim=4).staff()
        []
    """

    def __init__(self, uri: str | Path, dim: int = 512, match_threshold: float = 0.75) -> None:
        self.uri = str(uri)
        self.dim = int(dim)
        self.match_threshold = float(match_threshold)
        self._schema = pa.schema(
            [
                pa.field("embedding_id", pa.string()),
                pa.field("staff_id", pa.string()),
                pa.field("source", pa.string()),
                pa.field("vector", pa.list_(pa.float32(), self.dim)),
            ]
        )
        db = lancedb.connect(self.uri)
        try:
            self._tbl: Any = db.open_table("staff")
        except ValueError:
            self._tbl = db.create_table("staff", schema=self._schema)

    def enrol_vectors(self, staff_id: str, vectors: Any, source: str = "") -> int:
        """Add embeddings of one staff member (idempotent per source and position)."""
        if not staff_id:
            raise ValueError("staff_id must not be empty")
        vecs = normalize(vectors, self.dim)
        if not len(vecs):
            return 0
        table = pa.table(
            {
                "embedding_id": [stable_id("staff", staff_id, source, i) for i in range(len(vecs))],
                "staff_id": [staff_id] * len(vecs),
                "source": [source] * len(vecs),
                "vector": pa.FixedSizeListArray.from_arrays(
                    pa.array(vecs.reshape(-1), type=pa.float32()), self.dim
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
        return len(vecs)

    def enrol_folder(
        self, folder: str | Path, detector: _Detector, embedder: _Embedder
    ) -> list[Enrolled]:
        """Enrol every image of a folder (see the module doc for staff IDs).

        Raises:
            FileNotFoundError: the folder does not exist.
            ValueError: it holds no image at all.
        """
        import cv2

        root = Path(folder)
        if not root.is_dir():
            raise FileNotFoundError(f"staff folder not found: {root}")
        images = sorted(
            p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not images:
            raise ValueError(f"staff folder {root} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        out: list[Enrolled] = []
        for path in images:
            staff_id = path.parent.name if path.parent != root else path.stem
            img = cv2.imread(str(path))
            if img is None:
                out.append(Enrolled(str(path), staff_id, False, "not a readable image"))
                continue
            det = detector.detect([img])[0]
            if len(det) == 0:
                out.append(Enrolled(str(path), staff_id, False, "no person found"))
                continue
            x1, y1, x2, y2 = _largest(det.xyxy, img.shape)
            crop = img[y1:y2, x1:x2]
            if crop.size == 0:
                out.append(Enrolled(str(path), staff_id, False, "empty person box"))
                continue
            self.enrol_vectors(staff_id, embedder.embed([crop]), source=path.name)
            out.append(Enrolled(str(path), staff_id, True))
        return out

    def match(self, vector: Any) -> tuple[str, float] | None:
        """The staff member closest to an embedding, if at or above ``match_threshold``."""
        if self._tbl.count_rows() == 0:
            return None
        q = normalize(vector, self.dim)[0]
        t = (
            self._tbl.search(q)
            .distance_type("cosine")
            .select(["staff_id", "_distance"])
            .limit(1)
            .to_arrow()
        )
        if t.num_rows == 0:
            return None
        sim = 1.0 - float(t.column("_distance")[0].as_py())
        if sim < self.match_threshold:
            return None
        return str(t.column("staff_id")[0].as_py()), sim

    def staff(self) -> list[str]:
        """Enrolled staff IDs, sorted."""
        t = self._tbl.search().select(["staff_id"]).limit(None).to_arrow()
        return sorted(set(t.column("staff_id").to_pylist()))

    def count(self) -> int:
        """Stored embeddings."""
        return self._tbl.count_rows()

    def remove(self, staff_id: str) -> int:
        """Forget one staff member. Returns the embeddings deleted."""
        before = self._tbl.count_rows()
        self._tbl.delete(f"staff_id = {_q(staff_id)}")
        return before - self._tbl.count_rows()


def _largest(xyxy: np.ndarray, shape: Sequence[int]) -> tuple[int, int, int, int]:
    boxes = np.asarray(xyxy, dtype=np.float64)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    b = boxes[int(np.argmax(areas))]
    h, w = int(shape[0]), int(shape[1])
    x1, y1 = max(0, int(b[0])), max(0, int(b[1]))
    return x1, y1, min(w, int(np.ceil(b[2]))), min(h, int(np.ceil(b[3])))


_VISIT_FIELDS = [f.name for f in dataclasses.fields(Visit)]


def visits_of(store: EventStore, global_id: str) -> list[Visit]:
    """The stored (latest) visit snapshots of one global ID, as :class:`Visit`."""
    rows = store.sql("SELECT * FROM visits WHERE global_id = ? ORDER BY in_ts", [global_id])
    out = []
    for r in rows:
        kw = {k: r[k] for k in _VISIT_FIELDS if k in r}
        kw["cameras"] = tuple(kw.get("cameras") or ())
        kw["zones"] = tuple(kw.get("zones") or ())
        out.append(Visit(**kw))
    return out


def mark_staff_in_store(store: EventStore, global_id: str) -> int:
    """Flag every stored visit of ``global_id`` as staff (new snapshots; the store keeps them).

    Returns:
        How many visits were flagged.

    Raises:
        KeyError: the store has no visit of that global ID.
    """
    visits = visits_of(store, global_id)
    if not visits:
        raise KeyError(f"no visits of global ID {global_id!r} in the store")
    store.write(Records(visits=[dataclasses.replace(v, is_staff=True) for v in visits]))
    store.flush()
    return len(visits)


def open_staff(cfg: SiteConfig) -> StaffRegistry | None:
    """A site's staff registry as stored on disk (``None`` when nobody was enrolled yet)."""
    path = Path(cfg.storage.staff_dir())
    if not path.exists():
        return None
    return StaffRegistry(path, dim=stored_dim(path, "staff", 512))


def mark_staff_offline(cfg: SiteConfig, store: EventStore, global_id: str) -> int:
    """Without a running pipeline: flag the stored visits, enrol the ID's gallery embeddings.

    Returns:
        How many visits were flagged.

    Raises:
        KeyError: the store has no visit of that global ID.
    """
    n = mark_staff_in_store(store, global_id)
    gallery = open_gallery(cfg)
    if gallery is not None:
        vecs = gallery.embeddings_of(global_id)
        if len(vecs):
            reg = StaffRegistry(cfg.storage.staff_dir(), gallery.dim, cfg.staff.match_threshold)
            reg.enrol_vectors(global_id, vecs, source=global_id)
    return n
