"""Privacy: what personal data a site holds, retention, and the right to erasure.

- :func:`privacy_report` lists the personal data of a site: embeddings in the
  daily gallery (active and archived) and in the long-term customer gallery,
  enrolled staff, the oldest of each, and whether faces / customers are on.
- :func:`erase_customer` deletes a customer's embeddings and links from LanceDB
  (customer rows, body and face vectors, and the archived gallery rows of every
  global ID linked to it) and pseudonymizes those global IDs in the event store:
  each affected Parquet file is rewritten (new file written atomically, then the
  old one removed) with ``global_id`` replaced by ``erased-<hash>`` (salted, so it
  cannot be traced back) and the IDs scrubbed from event payloads. Each erased ID
  gets one pseudonym, so visitor counts, visits and dwell stay as they were.
- :func:`purge_gallery` drops archived daily-gallery rows older than the
  retention period (the customer gallery purges itself:
  :meth:`~mcvision.identity.customers.CustomerGallery.purge`).

Example:
    >>> p = pseudonyms(["20261124-0003"], salt=b"k")
    >>> p["20261124-0003"].startswith("erased-")
    True
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from mcvision.analytics.store import TABLES, EventStore
from mcvision.config import SiteConfig
from mcvision.identity.customers import DAY_S, CustomerGallery
from mcvision.identity.gallery import Gallery


def pseudonyms(global_ids: Iterable[str], salt: bytes | None = None) -> dict[str, str]:
    """One ``erased-<hash>`` per global ID, keyed by a (random by default) salt."""
    key = salt if salt is not None else secrets.token_bytes(16)
    return {
        gid: "erased-" + hashlib.blake2b(gid.encode(), key=key, digest_size=8).hexdigest()
        for gid in dict.fromkeys(global_ids)
    }


def pseudonymize_store(
    store: EventStore, mapping: Mapping[str, str], scrub: Iterable[str] = ()
) -> dict[str, int]:
    """Replace global IDs in every table of the store; rewrite only the affected files.

    Args:
        store: the event store.
        mapping: ``global_id → pseudonym``.
        scrub: further strings (e.g. the customer ID) removed from event payloads.

    Returns:
        Rows changed per table.
    """
    scrub_map = {**mapping, **{s: "erased" for s in scrub if s}}
    changed: dict[str, int] = {name: 0 for name in TABLES}
    if not mapping:
        return changed
    store.flush()
    for name in TABLES:
        for f in store.files(name):
            rows = pq.ParquetFile(f).read().to_pylist()
            n = 0
            for r in rows:
                hit = False
                if r.get("global_id") in mapping:
                    r["global_id"] = mapping[r["global_id"]]
                    hit = True
                if name == "track_points" and r.get("merged_into") in mapping:
                    r["merged_into"] = mapping[r["merged_into"]]  # a merge's tombstone
                    hit = True
                if name == "events" and r.get("payload"):
                    text = r["payload"]
                    for old, new in scrub_map.items():
                        text = text.replace(old, new)
                    if text != r["payload"]:
                        r["payload"] = text
                        hit = True
                n += hit
            if not n:
                continue
            store.rewrite_file(name, f, rows)
            changed[name] += n
    return changed


def purge_gallery(gallery: Gallery, cutoff_ts: float) -> int:
    """Delete archived daily-gallery embeddings older than ``cutoff_ts``. Returns how many."""
    return gallery.purge_archived(cutoff_ts)


def stored_dim(uri: str | Path, table: str, default: int) -> int:
    """The vector width of an existing LanceDB table (``default`` when there is none)."""
    import lancedb

    try:
        tbl = lancedb.connect(str(uri)).open_table(table)
    except (ValueError, FileNotFoundError):
        return default
    size = getattr(tbl.schema.field("vector").type, "list_size", None)
    return int(size) if size else default


def _open_gallery(cfg: SiteConfig) -> Gallery | None:
    path = Path(cfg.storage.gallery_dir())
    if not path.exists():
        return None
    return Gallery(path, dim=stored_dim(path, "embeddings", 512))


def _open_customers(cfg: SiteConfig) -> CustomerGallery | None:
    path = Path(cfg.storage.customers_dir())
    if not path.exists():
        return None
    c = cfg.customers
    return CustomerGallery(
        path, body_dim=stored_dim(path, "body", 512), face_dim=stored_dim(path, "face", 128),
        match_threshold=c.match_threshold, face_weight=c.face_weight, exemplars=c.exemplars,
        retention_days=c.retention_days,
    )


def erase_customer(
    cfg: SiteConfig,
    customer_id: str,
    *,
    store: EventStore | None = None,
    customers: CustomerGallery | None = None,
    gallery: Gallery | None = None,
    salt: bytes | None = None,
) -> dict[str, Any]:
    """Right to erasure for one customer (see the module doc).

    Returns:
        ``customer_id``, the number of ``global_ids`` erased, ``gallery_embeddings``
        deleted and ``rows`` pseudonymized per table.

    Raises:
        KeyError: the customer is unknown (or the site keeps no customers).
    """
    customers = customers or _open_customers(cfg)
    if customers is None:
        raise KeyError(f"unknown customer {customer_id!r}: the site keeps no customer gallery")
    gids = customers.erase(customer_id)
    removed = 0
    gallery = gallery or _open_gallery(cfg)
    if gallery is not None and gids:
        ids = [r.embedding_id for r in gallery.rows(exclude_archived=False) if r.global_id in gids]
        removed = gallery.remove(ids)
        gallery.forget_identities(gids)
    store = store or EventStore.from_config(cfg)
    rows = pseudonymize_store(store, pseudonyms(gids, salt), scrub=[customer_id])
    return {
        "customer_id": customer_id,
        "global_ids": len(gids),
        "gallery_embeddings": removed,
        "rows": rows,
    }


def privacy_report(cfg: SiteConfig, *, store: EventStore | None = None) -> dict[str, Any]:
    """What personal data the site holds (counts, oldest items, what is switched on)."""
    out: dict[str, Any] = {
        "site_id": cfg.site_id,
        "faces_enabled": cfg.face.enabled,
        "face_images_stored": False,
        "customers_enabled": cfg.customers.enabled,
        "retention_days": cfg.customers.retention_days,
    }
    gal = _open_gallery(cfg)
    if gal is not None:
        rows = gal.rows(exclude_archived=False)
        out["gallery"] = {
            "embeddings": len(rows),
            "active": sum(not r.archived for r in rows),
            "archived": sum(r.archived for r in rows),
            "identities": len({r.global_id for r in rows}),
            "oldest_ts": min((r.ts for r in rows), default=None),
        }
    else:
        out["gallery"] = {"embeddings": 0, "active": 0, "archived": 0, "identities": 0,
                          "oldest_ts": None}
    cg = _open_customers(cfg)
    out["customers"] = cg.report() if cg is not None else {
        "customers": 0, "body_embeddings": 0, "face_embeddings": 0, "linked_global_ids": 0,
        "oldest_seen": None, "oldest_last_seen": None,
        "retention_days": cfg.customers.retention_days,
    }
    sdir = Path(cfg.storage.staff_dir())
    if sdir.exists():
        from mcvision.identity.staff import StaffRegistry

        reg = StaffRegistry(sdir, dim=stored_dim(sdir, "staff", 512))
        out["staff"] = {"members": len(reg.staff()), "embeddings": reg.count()}
    else:
        out["staff"] = {"members": 0, "embeddings": 0}
    store = store or EventStore.from_config(cfg)
    days = store.days()
    out["events"] = {
        "days": len(days),
        "oldest_day": days[0] if days else None,
        "visits": store.count("visits") if days else 0,
        "track_points": store.count("track_points") if days else 0,
    }
    return out


__all__ = [
    "DAY_S",
    "erase_customer",
    "privacy_report",
    "pseudonymize_store",
    "pseudonyms",
    "purge_gallery",
]
