"""Floor plan: the site-wide floor heatmap, occupancy by area and one visitor's route."""

from __future__ import annotations

from typing import Any

import floorplan
import plotly.graph_objects as go
import streamlit as st
import ui
from client import ApiError

st.title("Floor plan")

CELLS = {"0.25 m": 0.25, "0.5 m": 0.5, "1 m": 1.0, "2 m": 2.0}


def occupancy_or_none(api: Any, day: str) -> dict[str, Any] | None:
    """``/floor/occupancy``; a 409 (no areas) shown as a note and None."""
    try:
        return api.floor_occupancy(day)
    except ApiError as err:
        if err.status == 409:
            st.info(err.reason.removeprefix("HTTP 409: "), icon=":material/info:")
            return None
        ui.fail(err)


def render() -> None:
    api, day, tz = ui.api(), ui.day(), ui.tz()
    plan, why = ui.call(floorplan.plan_or_none, api)
    if plan is None:
        st.info(f"The floor plan needs calibrated cameras. {why}", icon=":material/info:")
        return
    image = floorplan.picture(api.base_url) if plan["has_image"] else None
    if plan.get("image_error"):
        st.warning(plan["image_error"], icon=":material/image_not_supported:")
    if plan["uncalibrated"]:
        st.caption(
            "Not on the floor: "
            + "; ".join(f"**{c}** ({why})" for c, why in plan["uncalibrated"].items())
        )
    c1, c2 = st.columns([1, 3])
    cell = c1.selectbox("Cell", list(CELLS), index=1, key="floor_cell")
    show_cams = c2.toggle("Camera floor outlines", key="floor_cams")
    hm = ui.call(api.floor_heatmap, day, CELLS[cell])
    st.subheader("Where people were on the floor")
    if hm["total"] == 0:
        st.info(f"No floor positions on **{day}**.", icon=":material/inbox:")
    fig = floorplan.floor_figure(plan, heatmap=hm, image=image, show_cameras=show_cams)
    st.plotly_chart(fig, width="stretch", key="floor_heatmap")
    st.caption(
        f"{hm['total']} samples (one per person and {hm['sample_s']:g} s, overlapping cameras"
        f" averaged) from {', '.join(f'{c} ({n})' for c, n in hm['cameras'].items())}"
        + (f"; {hm['outside']} off the plan" if hm["outside"] else "")
        + (f"; {hm['dropped']} points above a camera's horizon" if hm["dropped"] else "")
    )

    st.subheader("Occupancy by area")
    if not plan["areas"]:
        st.info("No floor areas configured (floor_plan.areas).", icon=":material/info:")
    else:
        occ = occupancy_or_none(api, day)
        if occ is not None:
            table = floorplan.occupancy_frame(occ, lambda ts: ui.clock(ts, tz))
            bars = go.Figure(
                go.Bar(
                    x=table["area"],
                    y=[a["dwell_s"] / 60.0 for a in occ["areas"]],
                    marker_color="#4c78a8",
                    hovertemplate="%{x}: %{y:.1f} min<extra></extra>",
                )
            )
            bars.update_layout(
                height=260,
                margin={"l": 10, "r": 10, "t": 10, "b": 10},
                yaxis={"title": "dwell (person-minutes)"},
            )
            left, right = st.columns([1, 1])
            left.plotly_chart(bars, width="stretch", key="floor_occupancy_chart")
            right.dataframe(table, hide_index=True, width="stretch", key="floor_occupancy")

    st.subheader("One visitor's route across cameras")
    visits = ui.call(api.visits, day, limit=1000)["items"]
    gids = sorted({v["global_id"] for v in visits})
    if not gids:
        st.info("No visitors this day.")
        return
    gid = st.selectbox("Visitor (global ID)", gids, key="floor_visitor")
    route = ui.call(api.floor_route, gid, day)
    st.markdown(f"**Cameras:** {floorplan.sequence_text(route) or ui.EMPTY}")
    if not route["points"]:
        st.info(f"**{gid}** was seen only by cameras that are not on the floor.")
        return
    st.plotly_chart(
        floorplan.floor_figure(plan, route=route, image=image, height=520),
        width="stretch",
        key="floor_route",
    )
    st.caption(
        f"{len(route['points'])} floor points, {route['length_m']:.1f} m walked"
        f" between {ui.clock(route['points'][0]['ts'], tz)} and"
        f" {ui.clock(route['points'][-1]['ts'], tz)}"
    )


ui.body(render)
