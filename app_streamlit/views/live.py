"""Live: every camera's newest annotated frame (boxes, short global IDs, zones), refreshed.

Frames come from ``/cameras/{id}/snapshot`` through the dashboard's API client,
so the API key travels in a header (a browser ``<img>`` could not send one) and
faces arrive blurred. The grid re-runs as a fragment every second or so; the
rest of the page stays put.
"""

from __future__ import annotations

import live_tiles
import streamlit as st
import ui

st.title("Live")

REFRESH_S = (0.5, 1.0, 2.0, 5.0)
COLUMNS = (1, 2, 3, 4)
GRID_KEY = "live-grid"
# The grid re-runs all the time: keep the frames on screen at full strength while it
# does, instead of Streamlit's faded "stale" look of a running script.
STEADY_CSS = f"<style>.st-key-{GRID_KEY} [data-stale='true'] {{ opacity: 1 !important; }}</style>"


def grid() -> None:
    api = ui.api()
    cameras = ui.call(api.cameras)
    if not cameras:
        st.info("The site has no cameras configured.")
        return
    tiles = live_tiles.tiles(cameras, api.snapshot)
    if all(t.no_pipeline for t in tiles):
        st.info(live_tiles.NO_PIPELINE, icon=":material/videocam_off:")
        st.caption("Cameras: " + ", ".join(f"**{t.camera_id}**" for t in tiles))
        return
    occupancy = ui.call(api.occupancy)
    in_view = sum(int(c.get("people_in_view") or 0) for c in cameras)
    m1, m2, _ = st.columns([1, 1, 2])
    m1.metric("In store now", occupancy.get("in_store", 0))
    m2.metric("In view of the cameras", in_view)
    n = int(st.session_state.get("live_columns") or 2)
    cols = st.columns(n)
    for i, t in enumerate(tiles):
        with (
            cols[i % n],
            st.container(key=live_tiles.element_key("live", t.camera_id), border=True),
        ):
            st.markdown(f"**{t.camera_id}**")
            if t.jpeg is not None:
                st.image(t.jpeg, width="stretch")
            else:
                st.info(t.message or "No frame.", icon=":material/hourglass_empty:")
            st.caption(t.caption)


def render() -> None:
    c1, c2, _ = st.columns([1, 1, 2])
    c1.select_slider("Refresh every (s)", options=REFRESH_S, value=1.0, key="live_refresh_s")
    c2.select_slider("Columns", options=COLUMNS, value=2, key="live_columns")
    st.html(STEADY_CSS)
    every = float(st.session_state.get("live_refresh_s") or 1.0)
    with st.container(key=GRID_KEY):
        st.fragment(grid, run_every=every)()


render()
