"""Heatmap: where people stood, per camera (foot positions on a grid over the frame)."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
import ui

st.title("Heatmap")

HEAT = [
    [0.0, "#fde0c5"],
    [0.25, "#facba6"],
    [0.5, "#f59e72"],
    [0.75, "#eb7a52"],
    [1.0, "#b13f64"],
]  # light to dark: empty cells stay the frame's grey
GRIDS = {"coarse 16×9": (16, 9), "medium 32×18": (32, 18), "fine 64×36": (64, 36)}


def render() -> None:
    api, day = ui.api(), ui.day()
    cameras = [c["camera_id"] for c in ui.call(api.cameras)]
    if not cameras:
        st.info("The site has no cameras configured.")
        return
    c1, c2 = st.columns([3, 1])
    chosen = c1.multiselect("Cameras", cameras, default=cameras, key="heatmap_cameras")
    grid = c2.selectbox("Grid", list(GRIDS), index=1, key="heatmap_grid")
    width, height = GRIDS[grid]
    st.caption(
        "Foot positions (bottom-centre of each person's box), sampled about once a second "
        "per person. The API serves no camera snapshot yet, so the grid is drawn alone, "
        "in the frame's 16:9 aspect, top of the image at the top."
    )
    if not chosen:
        st.info("Pick at least one camera.")
        return
    cols = st.columns(2)
    for i, cam in enumerate(chosen):
        hm = ui.call(api.heatmap, cam, day, width, height)
        with cols[i % 2]:
            st.subheader(f"Camera {cam}")
            if hm["total"] == 0:
                st.info(f"No positions from camera **{cam}** on {day}.", icon=":material/inbox:")
                continue
            xs = [(ix + 0.5) / width for ix in range(width)]
            ys = [(iy + 0.5) / height for iy in range(height)]
            fig = go.Figure(
                go.Heatmap(
                    z=[[c or None for c in row] for row in hm["counts"]],
                    x=xs,
                    y=ys,
                    colorscale=HEAT,
                    zmin=0,
                    hoverongaps=False,
                    colorbar={"title": "points"},
                    hovertemplate="x %{x:.2f}, y %{y:.2f}: %{z}<extra></extra>",
                )
            )
            fig.update_layout(
                height=330,
                margin={"l": 10, "r": 10, "t": 10, "b": 10},
                plot_bgcolor="#eef0f4",
                xaxis={"range": [0, 1], "showticklabels": False, "constrain": "domain"},
                yaxis={
                    "range": [1, 0],
                    "showticklabels": False,
                    "scaleanchor": "x",
                    "scaleratio": 9 / 16,
                    "constrain": "domain",
                },
            )
            st.plotly_chart(fig, width="stretch", key=f"heatmap_{cam}")
            st.caption(f"{hm['total']} positions")


ui.body(render)
