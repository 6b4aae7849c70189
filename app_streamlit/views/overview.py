"""Overview: the day's headline numbers, traffic over the day and the dwell distribution."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
import ui

st.title("Overview")


def _trim(buckets: list[dict]) -> list[dict]:
    """The buckets from one before the first entry to one after the last entry or exit."""
    active = [i for i, b in enumerate(buckets) if b["entries"] or b["exits"]]
    if not active:
        return []
    return buckets[max(active[0] - 1, 0) : min(active[-1] + 2, len(buckets))]


def _mirror_source() -> bool:
    """The mirror's state under the title; True when its numbers are to be shown."""
    mirror = (st.session_state.get("health") or {}).get("mirror")
    if not mirror:
        return False
    state, lag = mirror.get("state"), mirror.get("lag_s")
    text = f"Mirror ({mirror.get('url', '')}): **{state}**" + (
        f" · lag {ui.duration(lag)}" if lag else ""
    )
    if state in ("behind", "failed"):
        st.warning(f"{text} · {mirror.get('error') or ''}", icon=":material/sync_problem:")
    else:
        st.caption(text)
    picked = st.radio(
        "Numbers from",
        ["store", "mirror"],
        horizontal=True,
        key="overview_source",
        help="the Parquet store, or its MySQL/PostgreSQL mirror (same numbers"
        " once it has caught up)",
    )
    return picked == "mirror"


def _returning_of(summary: dict) -> dict:
    n, ret = summary["unique_visitors"], summary["returning_visitors"]
    return {"visitors": n, "returning_visitors": ret, "returning_share": ret / n if n else None}


def render() -> None:
    api, day, tz = ui.api(), ui.day(), ui.tz()
    from_mirror = _mirror_source()
    summary = ui.call(api.mirror_summary if from_mirror else api.summary, day)
    if summary["visits"] == 0:
        st.info(
            f"No visits recorded on **{day}**. Pick another day in the sidebar.",
            icon=":material/inbox:",
        )
        return
    returning = _returning_of(summary) if from_mirror else ui.call(api.returning, day)
    latest = st.session_state.get("latest_day")
    if day == latest:
        occupancy = ui.call(api.occupancy)
        now_label, now_value = "In store now", occupancy["in_store"]
        now_help = "open visits now" + (" (live)" if occupancy["live"] else " (from the store)")
    else:
        now_label, now_value = "Open at day end", summary["open_visits"]
        now_help = "visits of this day never closed"

    cols = st.columns(6)
    cols[0].metric(
        "Unique visitors",
        summary["unique_visitors"],
        help="distinct people (global IDs); staff excluded",
    )
    cols[1].metric("Visits", summary["visits"], help="re-entries count as new visits")
    cols[2].metric(now_label, now_value, help=now_help)
    cols[3].metric("Mean dwell", ui.duration(summary["dwell_mean_s"]), help="closed visits")
    cols[4].metric("Median dwell", ui.duration(summary["dwell_median_s"]), help="closed visits")
    cols[5].metric(
        "Returning",
        ui.percent(returning["returning_share"]),
        help=f"{returning['returning_visitors']} of {returning['visitors']} visitors",
    )

    left, right = st.columns([3, 2])
    with left:
        st.subheader("Traffic")
        bucket = st.radio(
            "Bucket",
            ["15m", "1h"],
            horizontal=True,
            key="traffic_bucket",
            format_func=lambda b: {"15m": "15 minutes", "1h": "hour"}[b],
        )
        traffic = ui.call(api.traffic, day, bucket)
        buckets = _trim(traffic["buckets"])
        if not buckets:
            st.info("No entries in this day's buckets.")
        else:
            width_s = traffic["bucket_s"]
            mid = ui.local([b["start_ts"] + width_s / 2 for b in buckets], tz)
            ends = ui.local([b["end_ts"] for b in buckets], tz)
            fig = go.Figure()
            fig.add_bar(
                x=mid,
                y=[b["entries"] for b in buckets],
                name="entries",
                marker_color="#4c78a8",
                width=width_s * 1000 * 0.85,
                hovertemplate="%{y} in<extra></extra>",
            )
            fig.add_bar(
                x=mid,
                y=[-b["exits"] for b in buckets],
                name="exits",
                marker_color="#9ecae9",
                width=width_s * 1000 * 0.85,
                customdata=[b["exits"] for b in buckets],
                hovertemplate="%{customdata} out<extra></extra>",
            )
            fig.add_scatter(
                x=[ui.local(buckets[0]["start_ts"], tz), *ends],
                y=[buckets[0]["occupancy"] - buckets[0]["entries"] + buckets[0]["exits"]]
                + [b["occupancy"] for b in buckets],
                name="in store (bucket end)",
                mode="lines",
                line_shape="hv",
                line={"color": "#e45756", "width": 2},
                hovertemplate="%{y} in store<extra></extra>",
            )
            top = max([1] + [max(b["entries"], b["occupancy"]) for b in buckets])
            low = max([0] + [b["exits"] for b in buckets])
            step = max(1, -(-max(top, low) // 4))
            ticks = list(range(-(-(-low // step) * step), top + step, step))
            fig.update_layout(
                barmode="relative",
                height=380,
                margin={"l": 10, "r": 10, "t": 10, "b": 10},
                xaxis={"title": f"local time ({tz})", "tickformat": "%H:%M"},
                yaxis={
                    "title": f"people per {bucket} (in ↑, out ↓)",
                    "tickvals": ticks,
                    "ticktext": [str(abs(t)) for t in ticks],
                    "zeroline": True,
                },
                legend={"orientation": "h", "y": 1.12},
                hovermode="x unified",
            )
            st.plotly_chart(fig, width="stretch", key="traffic_chart")
    with right:
        st.subheader("Dwell time")
        page = ui.call(api.visits, day, limit=10_000)
        closed = [v["dwell_s"] / 60 for v in page["items"] if v["closed"]]
        if not closed:
            st.info("No closed visits yet: dwell is counted when a visit ends.")
        else:
            df = pd.DataFrame({"dwell (min)": closed})
            fig = px.histogram(df, x="dwell (min)", nbins=min(30, max(5, len(closed))))
            fig.update_layout(
                height=400,
                margin={"l": 10, "r": 10, "t": 10, "b": 10},
                yaxis_title="visits",
                bargap=0.05,
            )
            st.plotly_chart(fig, width="stretch", key="dwell_hist")
            st.caption(f"{len(closed)} closed visits; p90 {ui.duration(summary['dwell_p90_s'])}")


ui.body(render)
