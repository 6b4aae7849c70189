"""Heatmap: where people stood, per camera, drawn over the camera's picture; one visitor's path.

With a pipeline running, each camera's heatmap is blended over its newest
snapshot (``/cameras/{id}/snapshot``, faces blurred by the API) and the chosen
visitor's foot positions (``/paths/{id}``) are drawn on it. A store-only API
(``mcvision serve``) has no snapshot: the grid is drawn alone, with a note.
"""

from __future__ import annotations

from typing import Any

import live_tiles
import overlay
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
NOBODY = "(nobody)"


def grid_figure(hm: dict[str, Any], path: list[dict[str, Any]]) -> go.Figure:
    """The heatmap alone on a 16:9 grid (no picture), the path as a line over it."""
    width, height = hm["width"], hm["height"]
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
    if path:
        fig.add_trace(
            go.Scatter(
                x=[p["x"] for p in path],
                y=[p["y"] for p in path],
                mode="lines+markers",
                line={"color": "#1e90ff", "width": 2},
                marker={"size": 4},
                name="path",
                hovertemplate="x %{x:.2f}, y %{y:.2f}<extra>path</extra>",
            )
        )
    fig.update_layout(
        height=330,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        plot_bgcolor="#eef0f4",
        showlegend=False,
        xaxis={"range": [0, 1], "showticklabels": False, "constrain": "domain"},
        yaxis={
            "range": [1, 0],
            "showticklabels": False,
            "scaleanchor": "x",
            "scaleratio": 9 / 16,
            "constrain": "domain",
        },
    )
    return fig


def visitors(day: str) -> list[str]:
    """Global IDs with a visit on ``day``, in order of first arrival."""
    page = ui.call(ui.api().visits, day, limit=1000)
    seen: dict[str, float] = {}
    for v in page.get("items", []):
        gid = v["global_id"]
        seen[gid] = min(seen.get(gid, float("inf")), float(v["in_ts"]))
    return sorted(seen, key=lambda g: (seen[g], g))


def camera_block(cam: str, hm: dict[str, Any], who: str | None, day: str) -> None:
    """One camera: the heatmap over its snapshot (or alone), the visitor's path on it."""
    api = ui.api()
    st.subheader(f"Camera {cam}")
    path: list[dict[str, Any]] = []
    if who:
        path = ui.call(api.path, cam, who, day)["points"]
    shot = live_tiles.tile({"camera_id": cam}, api.snapshot)
    if hm["total"] == 0 and not path:
        st.info(f"No positions from camera **{cam}** on {day}.", icon=":material/inbox:")
    if shot.jpeg is not None:
        try:
            picture = overlay.decode_jpeg(shot.jpeg)
        except ValueError as err:
            st.warning(f"The snapshot of camera **{cam}** cannot be read: {err}")
        else:
            picture = overlay.heat_overlay(picture, hm["counts"])
            picture = overlay.draw_path(picture, path)
            with st.container(key=live_tiles.element_key("heatmap", cam)):
                st.image(picture, width="stretch")
            st.caption(f"{hm['total']} positions")
            st.caption(path_note(who, path) + "Drawn over the camera's newest frame.")
            return
    if hm["total"] == 0 and not path:
        return
    st.plotly_chart(grid_figure(hm, path), width="stretch", key=f"heatmap_{cam}")
    st.caption(f"{hm['total']} positions")
    why = "the API runs without a pipeline" if shot.no_pipeline else shot.message
    st.caption(path_note(who, path) + f"Drawn on an empty grid: no camera picture ({why}).")


def path_note(who: str | None, path: list[dict[str, Any]]) -> str:
    """What the caption says of the chosen visitor's path (empty when nobody is chosen)."""
    if not who:
        return ""
    if not path:
        return f"**{who}** was not seen on this camera. "
    return f"Path of **{who}**: {len(path)} points, green dot first, red dot last. "


def render() -> None:
    api, day = ui.api(), ui.day()
    cameras = [c["camera_id"] for c in ui.call(api.cameras)]
    if not cameras:
        st.info("The site has no cameras configured.")
        return
    c1, c2, c3 = st.columns([3, 1, 1])
    chosen = c1.multiselect("Cameras", cameras, default=cameras, key="heatmap_cameras")
    grid = c2.selectbox("Grid", list(GRIDS), index=1, key="heatmap_grid")
    who = c3.selectbox("Visitor's path", [NOBODY, *visitors(day)], key="heatmap_visitor")
    width, height = GRIDS[grid]
    st.caption(
        "Foot positions (bottom-centre of each person's box), sampled about once a second "
        "per person, over each camera's newest frame (faces blurred) when a pipeline runs."
    )
    if not chosen:
        st.info("Pick at least one camera.")
        return
    cols = st.columns(2)
    for i, cam in enumerate(chosen):
        hm = ui.call(api.heatmap, cam, day, width, height)
        with cols[i % 2]:
            camera_block(cam, hm, None if who == NOBODY else who, day)


ui.body(render)
