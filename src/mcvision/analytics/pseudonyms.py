"""Pseudonymizing global IDs in the event store (the store's side of the right to erasure).

Each affected Parquet file is rewritten (new file written atomically, then the
old one removed) with ``global_id`` replaced by ``erased-<hash>`` (salted, so it
cannot be traced back) and the IDs scrubbed from event payloads. Each erased ID
gets one pseudonym, so visitor counts, visits and dwell stay as they were.

Example:
    >>> p = pseudonyms(["20261124-0003"], salt=b"k")
    >>> p["20261124-0003"].startswith("erased-")
    True
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping

import pyarrow.parquet as pq

from mcvision.analytics.store import TABLES, EventStore


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
                if r.get("merged_into") in mapping:
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
