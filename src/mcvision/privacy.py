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

This module orchestrates what a user asks for; the mechanics live with the data:
:func:`~mcvision.identity.customers.erase_customer_records`,
:meth:`~mcvision.identity.gallery.Gallery.erase_identities` and
:mod:`mcvision.analytics.pseudonyms`. It uses :mod:`mcvision.identity`; nothing
in ``identity`` imports it.

Example:
    >>> p = pseudonyms(["20261124-0003"], salt=b"k")
    >>> p["20261124-0003"].startswith("erased-")
    True
"""

from __future__ import annotations

from typing import Any

from mcvision.analytics.pseudonyms import pseudonymize_store, pseudonyms
from mcvision.analytics.store import EventStore
from mcvision.config import SiteConfig
from mcvision.identity.customers import (
    DAY_S,
    CustomerGallery,
    erase_customer_records,
    open_customers,
)
from mcvision.identity.gallery import Gallery, open_gallery
from mcvision.identity.staff import open_staff


def purge_gallery(gallery: Gallery, cutoff_ts: float) -> int:
    """Delete archived daily-gallery embeddings older than ``cutoff_ts``. Returns how many."""
    return gallery.purge_archived(cutoff_ts)


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
    customers = customers or open_customers(cfg)
    if customers is None:
        raise KeyError(f"unknown customer {customer_id!r}: the site keeps no customer gallery")
    gallery = gallery or open_gallery(cfg)
    store = store or EventStore.from_config(cfg)
    return erase_customer_records(customer_id, customers, gallery, store, salt)


def privacy_report(cfg: SiteConfig, *, store: EventStore | None = None) -> dict[str, Any]:
    """What personal data the site holds (counts, oldest items, what is switched on)."""
    out: dict[str, Any] = {
        "site_id": cfg.site_id,
        "faces_enabled": cfg.face.enabled,
        "face_images_stored": False,
        "customers_enabled": cfg.customers.enabled,
        "retention_days": cfg.customers.retention_days,
    }
    gal = open_gallery(cfg)
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
        out["gallery"] = {
            "embeddings": 0,
            "active": 0,
            "archived": 0,
            "identities": 0,
            "oldest_ts": None,
        }
    cg = open_customers(cfg)
    out["customers"] = (
        cg.report()
        if cg is not None
        else {
            "customers": 0,
            "body_embeddings": 0,
            "face_embeddings": 0,
            "linked_global_ids": 0,
            "oldest_seen": None,
            "oldest_last_seen": None,
            "retention_days": cfg.customers.retention_days,
        }
    )
    reg = open_staff(cfg)
    if reg is not None:
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
