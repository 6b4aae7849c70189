"""Journeys: the most common paths through zones or cameras, and one visitor's path."""

from __future__ import annotations

import itertools
from collections import defaultdict
from typing import Any

import floorplan
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import ui

st.title("Journeys")


def sankey(journeys: list[dict[str, Any]]) -> go.Figure:
    """Paths as a Sankey: node = (step number, place), so loops (A → B → A) stay drawable."""
    nodes: dict[tuple[int, str], int] = {}
    flows: defaultdict[tuple[int, int], int] = defaultdict(int)
    for j in journeys:
        ids = [nodes.setdefault((i, step), len(nodes)) for i, step in enumerate(j["path"])]
        for a, b in itertools.pairwise(ids):
            flows[(a, b)] += j["count"]
    labels = [f"{i + 1}. {step}" for (i, step) in nodes]
    fig = go.Figure(
        go.Sankey(
            arrangement="snap",
            node={"label": labels, "pad": 18, "thickness": 14},
            link={
                "source": [a for a, _ in flows],
                "target": [b for _, b in flows],
                "value": list(flows.values()),
            },
        )
    )
    fig.update_layout(height=380, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return fig


def render() -> None:
    api, day, tz = ui.api(), ui.day(), ui.tz()
    c1, c2 = st.columns([1, 2])
    by = c1.radio(
        "Path through",
        ["zone", "camera"],
        horizontal=True,
        key="journeys_by",
        format_func=lambda b: {"zone": "zones", "camera": "cameras"}[b],
    )
    k = c2.slider("Paths shown", 1, 30, 10, key="journeys_k")
    journeys = ui.call(api.journeys, day, k, by)
    if not journeys:
        st.info(f"No paths on **{day}**: no visit went through any {by}.", icon=":material/inbox:")
        return
    st.subheader(f"Most common paths through {by}s")
    if any(len(j["path"]) > 1 for j in journeys):
        st.plotly_chart(sankey(journeys), width="stretch", key="journeys_sankey")
    st.dataframe(
        pd.DataFrame(
            {
                "path": [" → ".join(j["path"]) for j in journeys],
                "visits": [j["count"] for j in journeys],
                "share": [ui.percent(j["share"]) for j in journeys],
            }
        ),
        hide_index=True,
        width="stretch",
        key="journeys_table",
    )

    st.subheader("One visitor's path")
    visits = ui.call(api.visits, day, limit=1000)["items"]
    if not visits:
        st.info("No visits this day.")
        return
    labels = {
        v["visit_id"]: f"{ui.clock(v['in_ts'], tz)} · {v['global_id']} · "
        f"{ui.duration(v['dwell_s'])}{'' if v['closed'] else ' (in store)'}"
        for v in visits
    }
    vid = st.selectbox("Visit", list(labels), format_func=labels.get, key="journeys_visit")
    tl = ui.call(api.visit, vid)
    zones = [z["zone"] for z in tl["zone_visits"]]
    cams = [s["camera_id"] for s in tl["sightings"]]
    st.markdown(
        f"**Zones:** {' → '.join(zones) or ui.EMPTY}  \n**Cameras:** {' → '.join(cams) or ui.EMPTY}"
    )
    st.plotly_chart(ui.timeline_figure(tl, tz), width="stretch", key="journey_timeline")
    floor_route(api, tl["visit"]["global_id"], day)


def floor_route(api: Any, global_id: str, day: str) -> None:
    """The visitor's route that day across cameras on the floor plan (when cameras are calibrated)."""
    plan, _ = ui.call(floorplan.plan_or_none, api)
    if plan is None:
        return
    route = ui.call(api.floor_route, global_id, day)
    if not route["points"]:
        return
    st.markdown(
        f"**{global_id} on the floor plan** (all visits that day): {floorplan.sequence_text(route)}"
    )
    image = floorplan.picture(api.base_url) if plan["has_image"] else None
    fig = floorplan.floor_figure(plan, route=route, image=image, show_areas=False, height=460)
    st.plotly_chart(fig, width="stretch", key="journey_floor_route")


ui.body(render)
