"""Zones: time spent per zone, the dwell distribution per zone, people per zone over the day."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.express as px
import streamlit as st
import ui
from client import ApiClient, ApiError

st.title("Zones")

MAX_TIMELINES = 300  # zone stays come from visit timelines: at most this many visits are read


@st.cache_data(ttl=20, show_spinner="Reading zone stays…")
def zone_stays(base_url: str, day: str) -> tuple[list[dict[str, Any]], int]:
    """Every zone stay of the day's visits (the first MAX_TIMELINES), and the number of visits."""
    api = ApiClient(base_url)
    page = api.visits(day, limit=MAX_TIMELINES)
    stays = []
    for v in page["items"]:  # open visits' zone lists may lag: read every timeline
        for z in api.visit(v["visit_id"])["zone_visits"]:
            stays.append({**z, "returning": v["returning"]})
    return stays, int(page["total"])


def render() -> None:
    api, day, tz = ui.api(), ui.day(), ui.tz()
    stats = ui.call(api.zones, day)
    if not stats:
        st.info(
            f"No zone visits on **{day}**: nobody stayed in a zone long enough, or no zones "
            "are configured.",
            icon=":material/inbox:",
        )
        return
    df = pd.DataFrame(stats)
    palette = ui.colors(df["zone"])
    df["time (min)"] = df["total_dwell_s"] / 60
    left, right = st.columns(2)
    with left:
        st.subheader("Time per zone")
        fig = px.bar(
            df.sort_values("time (min)"),
            x="time (min)",
            y="zone",
            orientation="h",
            text=df.sort_values("time (min)")["total_dwell_s"].map(ui.duration),
            color="zone",
            color_discrete_map=palette,
        )
        fig.update_layout(height=340, showlegend=False, margin={"l": 10, "r": 10, "t": 10, "b": 10})
        st.plotly_chart(fig, width="stretch", key="zone_time")
        table = pd.DataFrame(
            {
                "zone": df["zone"],
                "stays": df["visits"],
                "open": df["open_visits"],
                "visitors": df["unique_visitors"],
                "total": df["total_dwell_s"].map(ui.duration),
                "mean": df["mean_dwell_s"].map(ui.duration),
                "median": df["median_dwell_s"].map(ui.duration),
            }
        )
        st.dataframe(table, hide_index=True, width="stretch", key="zone_table")
    try:
        stays, total = zone_stays(api.base_url, day)
    except ApiError as err:
        ui.fail(err)
    with right:
        st.subheader("Dwell per zone")
        closed = pd.DataFrame([s for s in stays if s["closed"]])
        if closed.empty:
            st.info("No closed zone stays yet.")
        else:
            closed["dwell (min)"] = closed["dwell_s"] / 60
            fig = px.box(
                closed,
                x="zone",
                y="dwell (min)",
                points="all",
                color="zone",
                color_discrete_map=palette,
            )
            fig.update_layout(
                height=340, showlegend=False, margin={"l": 10, "r": 10, "t": 10, "b": 10}
            )
            st.plotly_chart(fig, width="stretch", key="zone_box")
        if total > MAX_TIMELINES:
            st.caption(f"From the first {MAX_TIMELINES} of {total} visits.")

    st.subheader("People per zone over the day")
    if not stays:
        st.info("No zone stays to draw.")
        return
    steps = []
    for s in stays:
        steps.append({"zone": s["zone"], "ts": s["enter_ts"], "delta": 1})
        if s["closed"]:
            steps.append({"zone": s["zone"], "ts": s["exit_ts"], "delta": -1})
    occ = pd.DataFrame(steps).sort_values(["ts", "delta"], ascending=[True, False])
    occ["people"] = occ.groupby("zone")["delta"].cumsum()
    occ["time"] = ui.local(occ["ts"], tz).to_numpy()
    fig = px.line(
        occ, x="time", y="people", color="zone", line_shape="hv", color_discrete_map=palette
    )
    fig.update_layout(
        height=320,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"title": f"local time ({tz})", "tickformat": "%H:%M"},
        yaxis={"title": "people in zone", "rangemode": "tozero", "dtick": 1},
    )
    st.plotly_chart(fig, width="stretch", key="zone_occupancy")
    st.caption("Derived from zone enter and exit times (open stays count until now).")


ui.body(render)
