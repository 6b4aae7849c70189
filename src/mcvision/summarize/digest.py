"""A text digest of one day: counts, peak, busiest zones, longest visits, activities.

Templated from the store's queries, no language model. Written to
``<summaries>/<day>/digest.txt``.

Example:
    >>> print(make_digest(ctx))          # doctest: +SKIP
    Site shop, 2026-01-05
    Visitors: 12 (visits 14, 2 still open) ...
"""

from __future__ import annotations

from mcvision.analytics import queries as q
from mcvision.summarize.common import SummaryContext
from mcvision.summarize.keyframes import peak_occupancy
from mcvision.summarize.storyboards import _fmt_dwell

__all__ = ["make_digest"]


def make_digest(ctx: SummaryContext, *, top: int = 3, write: bool = True) -> str:
    """The day's digest text (and ``digest.txt`` when ``write``)."""
    day, store = ctx.day, ctx.store
    s = q.day_summary(store, day)
    lines = [f"Site {ctx.cfg.site_id}, {day}"]
    lines.append(
        f"Visitors: {s.unique_visitors} (visits {s.visits}, {s.open_visits} still open;"
        f" new {s.new_visitors}, returning {s.returning_visitors})"
    )
    if s.dwell_mean_s is not None:
        lines.append(
            f"Dwell: mean {_fmt_dwell(s.dwell_mean_s)}, median {_fmt_dwell(s.dwell_median_s or 0)}"
        )
    visits = store.sql(
        "SELECT global_id, in_ts, out_ts, dwell_s, zones FROM visits WHERE day = ?"
        " AND NOT is_staff ORDER BY dwell_s DESC, in_ts",
        [day],
        day=day,
    )
    n, when = peak_occupancy([(v["in_ts"], v["out_ts"]) for v in visits])
    if when is not None:
        lines.append(f"Peak occupancy: {n} at {ctx.local_time(when)}")
    zones = sorted(q.zone_stats(store, day), key=lambda z: (-z.visits, -z.total_dwell_s, z.zone))
    if zones:
        lines.append("Busiest zones:")
        lines += [
            f"  {z.zone}: {z.visits} visits by {z.unique_visitors} people,"
            f" {_fmt_dwell(z.total_dwell_s)} in all"
            for z in zones[:top]
        ]
    if visits:
        lines.append("Longest visits:")
        lines += [
            f"  {v['global_id']}: {_fmt_dwell(v['dwell_s'])} from {ctx.local_time(v['in_ts'])}"
            f" to {ctx.local_time(v['out_ts'])}"
            + (f" ({', '.join(v['zones'])})" if v["zones"] else "")
            for v in visits[:top]
        ]
    acts = q.activity_stats(store, day)
    if acts:
        totals: dict[str, float] = {}
        for a in acts:
            totals[a.activity] = totals.get(a.activity, 0.0) + a.total_s
        lines.append(
            "Activities: "
            + ", ".join(
                f"{k} {_fmt_dwell(v)}" for k, v in sorted(totals.items(), key=lambda kv: -kv[1])
            )
        )
    alerts = store.sql(
        "SELECT ts, global_id, camera_id FROM events WHERE day = ? AND kind = 'alert' ORDER BY ts",
        [day],
        day=day,
    )
    if alerts:
        lines.append("Alerts:")
        lines += [
            f"  fall of {a['global_id']} on {a['camera_id']} at {ctx.local_time(a['ts'])}"
            for a in alerts
        ]
    text = "\n".join(lines) + "\n"
    if write:
        ctx.out_dir.mkdir(parents=True, exist_ok=True)
        (ctx.out_dir / "digest.txt").write_text(text)
    return text
