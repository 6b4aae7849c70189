"""Answers read from the relational mirror instead of the Parquet store.

The same pydantic models as :mod:`mcvision.analytics.queries`, computed from the
mirror's ``visits`` and ``zone_visits`` rows with the same rules (staff left out
unless asked, dwell over closed visits, linear quantiles, tombstones of a late
identity correction, ``merged_into`` set, left out as the store's views do), so ``mcvision report
--source URL`` and the dashboard print the same numbers from either source.

Example:
    >>> engine = open_source(cfg, "postgresql+psycopg://bi@db/shop")   # doctest: +SKIP
    >>> day_summary(engine, "demo", "2026-03-09").unique_visitors    # doctest: +SKIP
    4
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from mcvision.analytics import mirror_schema as ms
from mcvision.analytics import queries as q
from mcvision.analytics.mirror import (
    MirrorError,
    _classify,
    make_engine,
    mirror_url,
    summarize_visits,
)
from mcvision.analytics.store import check_day
from mcvision.config import SiteConfig

__all__ = ["day_summary", "days", "open_source", "zone_stats"]


def open_source(cfg: SiteConfig, url: str | None = None) -> Engine:
    """An engine on the mirror at ``url`` (default ``storage.mirror.url``), schema checked.

    The password comes from the variable named by ``storage.mirror.password_env``.

    Raises:
        MirrorError: bad URL or credentials, no mirror schema there, or unreachable.
    """
    engine = make_engine(mirror_url(cfg.storage.mirror, url), cfg.storage.mirror.connect_timeout_s)
    where = f"mirror {engine.url.render_as_string(hide_password=True)}"
    try:
        with engine.connect() as conn:
            version = ms.current_version(conn)
    except sa.exc.DBAPIError as err:
        engine.dispose()
        raise MirrorError(str(_classify(err, where))) from None
    if version == 0:
        engine.dispose()
        raise MirrorError(f"{where}: no mirror tables there (run `mcvision mirror --all` first)")
    return engine


def days(engine: Engine, site_id: str) -> list[str]:
    """Business days with visits in the mirror, sorted."""
    v = ms.visits
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(v.c.day).where(v.c.site_id == site_id, v.c.merged_into.is_(None)).distinct()
        ).all()
    return sorted(r.day.isoformat() for r in rows)


def day_summary(
    engine: Engine, site_id: str, day: str, *, include_staff: bool = False
) -> q.DaySummary:
    """:func:`mcvision.analytics.queries.day_summary` from the mirror."""
    check_day(day)
    v = ms.visits
    with engine.connect() as conn:
        rows = [
            r._asdict()
            for r in conn.execute(
                sa.select(
                    v.c.global_id, v.c.dwell_s, v.c.closed, v.c.is_staff, v.c.is_returning
                ).where(
                    v.c.site_id == site_id,
                    v.c.day == date.fromisoformat(day),
                    v.c.merged_into.is_(None),
                )
            )
        ]
    s = summarize_visits(rows, include_staff=include_staff)
    return q.DaySummary(
        day=day,
        in_count=s["visits"],
        out_count=s["closed_visits"],
        include_staff=include_staff,
        **s,
    )


def zone_stats(
    engine: Engine, site_id: str, day: str, *, include_staff: bool = False
) -> list[q.ZoneStat]:
    """:func:`mcvision.analytics.queries.zone_stats` from the mirror."""
    import numpy as np

    check_day(day)
    z, v = ms.zone_visits, ms.visits
    query = sa.select(z.c.zone, z.c.global_id, z.c.dwell_s, z.c.closed).where(
        z.c.site_id == site_id, z.c.day == date.fromisoformat(day), z.c.merged_into.is_(None)
    )
    if not include_staff:
        staff = sa.select(v.c.visit_id).where(v.c.is_staff, v.c.merged_into.is_(None))
        query = query.where(z.c.visit_id.not_in(staff))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    out = []
    for zone in sorted({r.zone for r in rows}):
        mine = [r for r in rows if r.zone == zone]
        closed = np.array([r.dwell_s for r in mine if r.closed], dtype=np.float64)
        has = closed.size > 0
        out.append(
            q.ZoneStat(
                zone=zone,
                visits=len(mine),
                open_visits=sum(1 for r in mine if not r.closed),
                unique_visitors=len({r.global_id for r in mine}),
                total_dwell_s=float(closed.sum()) if has else 0.0,
                mean_dwell_s=float(closed.mean()) if has else None,
                median_dwell_s=float(np.quantile(closed, 0.5)) if has else None,
            )
        )
    return out
