"""Visits: a filterable table of the day's visits, and the selected visit's timeline."""

from __future__ import annotations

import pandas as pd
import streamlit as st
import ui

st.title("Visits")

ANY = "any"


def render() -> None:
    api, day, tz = ui.api(), ui.day(), ui.tz()
    zones = [z["zone"] for z in ui.call(api.zones, day)]
    cameras = [c["camera_id"] for c in ui.call(api.cameras)]
    f1, f2, f3, f4, f5 = st.columns(5)
    min_dwell_min = f1.number_input(
        "Min dwell (min)", min_value=0.0, value=0.0, step=1.0, key="visits_min_dwell"
    )
    zone = f2.selectbox("Zone", [ANY, *zones], key="visits_zone")
    camera = f3.selectbox("Camera", [ANY, *cameras], key="visits_camera")
    kind = f4.selectbox("Visitors", ["all", "returning", "new"], key="visits_kind")
    status = f5.selectbox("Status", ["all", "closed", "in store"], key="visits_status")
    page = ui.call(
        api.visits,
        day,
        min_dwell_s=min_dwell_min * 60 if min_dwell_min else None,
        zone=None if zone == ANY else zone,
        camera=None if camera == ANY else camera,
        limit=10_000,
    )
    items = page["items"]
    if kind != "all":
        items = [v for v in items if v["returning"] == (kind == "returning")]
    if status != "all":
        items = [v for v in items if v["closed"] == (status == "closed")]
    if not items:
        st.info(f"No visits on **{day}** match these filters.", icon=":material/inbox:")
        return
    table = pd.DataFrame(
        {
            "in": [ui.clock(v["in_ts"], tz) for v in items],
            "out": [ui.clock(v["out_ts"], tz) if v["closed"] else "in store" for v in items],
            "dwell": [ui.duration(v["dwell_s"]) for v in items],
            "visitor": [v["global_id"] for v in items],
            "cameras": [", ".join(v["cameras"]) for v in items],
            "zones": [", ".join(v["zones"]) for v in items],
            "returning": [v["returning"] for v in items],
            # a late identity merge rewrote the visit (two IDs found to be one person)
            "corrected": [
                ui.clock(v["corrected_at"], tz) if v.get("corrected_at") else "" for v in items
            ],
            "visit": [v["visit_id"] for v in items],
        }
    )
    st.caption(
        f"{len(items)} visits shown ({page['total']} match the server-side filters) · "
        f"times in {tz} · click a row for its timeline"
    )
    event = st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        key="visits_table",
        on_select="rerun",
        selection_mode="single-row",
    )
    rows = list(getattr(getattr(event, "selection", None), "rows", []) or [])
    ids = [v["visit_id"] for v in items]
    if rows and 0 <= rows[0] < len(ids):
        st.session_state["visits_pick"] = ids[rows[0]]
    if st.session_state.get("visits_pick") not in ids:
        st.session_state["visits_pick"] = ids[0]
    labels = {
        v["visit_id"]: f"{ui.clock(v['in_ts'], tz)} · {v['global_id']} · {v['visit_id']}"
        for v in items
    }
    vid = st.selectbox("Timeline of visit", ids, format_func=labels.get, key="visits_pick")

    tl = ui.call(api.visit, vid)
    v = tl["visit"]
    st.subheader(f"Visit {v['visit_id']} · {v['global_id']}")
    m = st.columns(4)
    m[0].metric("In", ui.clock(v["in_ts"], tz), help=f"from {v['in_source']}")
    m[1].metric(
        "Out",
        ui.clock(v["out_ts"], tz) if v["closed"] else "in store",
        help=f"from {v['out_source']}" if v["closed"] else "last sighting so far",
    )
    m[2].metric("Dwell", ui.duration(v["dwell_s"]))
    m[3].metric("Zones", len(tl["zone_visits"]))
    st.plotly_chart(ui.timeline_figure(tl, tz), width="stretch", key="visit_timeline")
    if tl["zone_visits"]:
        st.dataframe(
            pd.DataFrame(
                {
                    "zone": [z["zone"] for z in tl["zone_visits"]],
                    "enter": [ui.clock(z["enter_ts"], tz) for z in tl["zone_visits"]],
                    "exit": [ui.clock(z["exit_ts"], tz) for z in tl["zone_visits"]],
                    "dwell": [ui.duration(z["dwell_s"]) for z in tl["zone_visits"]],
                    "cameras": [", ".join(z["cameras"]) for z in tl["zone_visits"]],
                }
            ),
            hide_index=True,
            width="stretch",
            key="visit_zones",
        )


ui.body(render)
