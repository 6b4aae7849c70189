"""Drawing the floor plan: the floor heatmap, areas, camera footprints and a visitor's route.

Plain functions from the API's JSON (``/floor/plan``, ``/floor/heatmap``,
``/visitors/{id}/floor_route``) to a plotly figure in metres, north (floor y) up,
one metre as long on both axes. With a floor-plan picture the figure spans the
picture and draws it underneath; without one, a metre grid over what there is to
show. Tested without a browser; the Floor plan and Journeys pages call them.
"""

from __future__ import annotations

import base64
import itertools
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from client import ApiClient, ApiError
from ui import colors

HEAT = [
    [0.0, "rgba(253,224,197,0.55)"],
    [0.4, "rgba(245,158,114,0.7)"],
    [0.75, "rgba(235,122,82,0.8)"],
    [1.0, "rgba(177,63,100,0.9)"],
]
AREA_COLOUR = "#4c78a8"
GAP_COLOUR = "#7f7f7f"


def image_uri(data: bytes, content_type: str) -> str:
    """A picture as a ``data:`` URI (what plotly's layout images take)."""
    kind = (content_type or "image/png").split(";")[0].strip()
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


@st.cache_data(ttl=60, show_spinner=False)
def picture(base_url: str) -> str | None:
    """The API's floor-plan picture as a data URI (cached a minute), or None without one."""
    try:
        data, kind = ApiClient(base_url).floor_plan_image()
    except ApiError:
        return None
    return image_uri(data, kind)


def plan_or_none(api: ApiClient) -> tuple[dict[str, Any] | None, str | None]:
    """``/floor/plan`` and its picture; ``(None, why)`` when the floor is not set up (409).

    Raises:
        ApiError: any other failure.
    """
    try:
        plan = api.floor_plan()
    except ApiError as err:
        if err.status == 409:
            return None, err.reason.removeprefix("HTTP 409: ")
        raise
    return plan, None


def cell_centres(hm: dict[str, Any]) -> tuple[list[float], list[float]]:
    """Centres (metres) of the heatmap's columns and rows."""
    c, x0, y0 = float(hm["cell_m"]), float(hm["x0_m"]), float(hm["y0_m"])
    return (
        [x0 + (i + 0.5) * c for i in range(int(hm["columns"]))],
        [y0 + (j + 0.5) * c for j in range(int(hm["rows"]))],
    )


def heat_z(hm: dict[str, Any]) -> list[list[int | None]]:
    """The counts with empty cells as None, so the plan shows through them."""
    return [[n or None for n in row] for row in hm["counts"]]


def route_runs(route: dict[str, Any]) -> list[dict[str, Any]]:
    """The route's points split where the camera(s) seeing them change, or the visit does.

    Returns runs in time order: ``{"label", "visit_id", "x", "y", "ts"}`` with
    ``label`` the camera (or ``"a+b"`` where overlapping cameras were averaged).
    """
    runs: list[dict[str, Any]] = []
    for p in route.get("points", []):
        label = "+".join(p["cameras"])
        if not runs or runs[-1]["label"] != label or runs[-1]["visit_id"] != p["visit_id"]:
            runs.append({"label": label, "visit_id": p["visit_id"], "x": [], "y": [], "ts": []})
        runs[-1]["x"].append(float(p["x_m"]))
        runs[-1]["y"].append(float(p["y_m"]))
        runs[-1]["ts"].append(float(p["ts"]))
    return runs


def sequence_text(route: dict[str, Any]) -> str:
    """The camera sequence, e.g. ``entrance → aisle → till (not on the floor) → entrance``."""
    off = set(route.get("uncalibrated") or {})
    return " → ".join(
        f"{c} (not on the floor)" if c in off else c for c in route.get("cameras", [])
    )


def _extent(
    plan: dict[str, Any], hm: dict[str, Any] | None, route: dict[str, Any] | None
) -> tuple[float, float, float, float]:
    """Floor extent (x0, y0, x1, y1) of everything drawn, padded half a metre."""
    xs: list[float] = []
    ys: list[float] = []
    if hm and hm["columns"] and hm["rows"]:
        xs += [hm["x0_m"], hm["x0_m"] + hm["columns"] * hm["cell_m"]]
        ys += [hm["y0_m"], hm["y0_m"] + hm["rows"] * hm["cell_m"]]
    for a in plan.get("areas", []):
        xs += [p[0] for p in a["polygon"]]
        ys += [p[1] for p in a["polygon"]]
    for c in plan.get("cameras", []):
        xs += [p[0] for p in c["footprint"]]
        ys += [p[1] for p in c["footprint"]]
    for p in (route or {}).get("points", []):
        xs.append(p["x_m"])
        ys.append(p["y_m"])
    if not xs:
        return (0.0, 0.0, 10.0, 10.0)
    return (min(xs) - 0.5, min(ys) - 0.5, max(xs) + 0.5, max(ys) + 0.5)


def floor_figure(
    plan: dict[str, Any],
    *,
    heatmap: dict[str, Any] | None = None,
    route: dict[str, Any] | None = None,
    image: str | None = None,
    show_areas: bool = True,
    show_cameras: bool = False,
    height: int = 560,
) -> go.Figure:
    """The floor plan with whatever is given drawn on it.

    Args:
        plan: ``/floor/plan``.
        heatmap: ``/floor/heatmap`` (cells drawn semi-transparent, empty ones clear).
        route: ``/visitors/{id}/floor_route``: one line per camera run, coloured by
            camera, dashed grey where the person walked unseen between runs, and
            start/end marks.
        image: the plan picture as a data URI (:func:`image_uri`), drawn under
            everything over ``plan["extent_m"]``; None: a metre grid.
        show_areas: outline the floor areas with their names.
        show_cameras: outline each camera's calibrated floor (dotted).
        height: pixels.
    """
    fig = go.Figure()
    use_image = bool(image and plan.get("has_image") and plan.get("extent_m"))
    if use_image:
        x0, y0, x1, y1 = (float(v) for v in plan["extent_m"])
        fig.add_layout_image(
            source=image,
            xref="x",
            yref="y",
            x=x0,
            y=y1,
            sizex=x1 - x0,
            sizey=y1 - y0,
            sizing="stretch",
            layer="below",
            opacity=1.0,
        )
    else:
        x0, y0, x1, y1 = _extent(plan, heatmap, route)
    if heatmap and heatmap["total"]:
        xs, ys = cell_centres(heatmap)
        fig.add_trace(
            go.Heatmap(
                name="floor heatmap",
                z=heat_z(heatmap),
                x=xs,
                y=ys,
                colorscale=HEAT,
                zmin=0,
                hoverongaps=False,
                colorbar={"title": "samples", "len": 0.6},
                hovertemplate="x %{x:.1f} m, y %{y:.1f} m: %{z}<extra></extra>",
            )
        )
    if show_areas:
        for a in plan.get("areas", []):
            pts = [*a["polygon"], a["polygon"][0]]
            fig.add_trace(
                go.Scatter(
                    name=f"area {a['name']}",
                    x=[p[0] for p in pts],
                    y=[p[1] for p in pts],
                    mode="lines",
                    line={"color": AREA_COLOUR, "width": 1.5},
                    hoverinfo="skip",
                    showlegend=False,
                )
            )
            cx = sum(p[0] for p in a["polygon"]) / len(a["polygon"])
            cy = sum(p[1] for p in a["polygon"]) / len(a["polygon"])
            fig.add_annotation(
                x=cx, y=cy, text=a["name"], showarrow=False, font={"color": AREA_COLOUR}
            )
    if show_cameras:
        for c in plan.get("cameras", []):
            pts = [*c["footprint"], c["footprint"][0]] if c["footprint"] else []
            fig.add_trace(
                go.Scatter(
                    name=f"camera {c['camera_id']} floor",
                    x=[p[0] for p in pts],
                    y=[p[1] for p in pts],
                    mode="lines",
                    line={"color": GAP_COLOUR, "width": 1, "dash": "dot"},
                    hoverinfo="name",
                    showlegend=False,
                )
            )
    if route:
        _draw_route(fig, route)
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        plot_bgcolor="#ffffff" if use_image else "#f4f5f8",
        legend={"orientation": "h", "y": -0.08},
        xaxis={
            "range": [x0, x1],
            "title": "metres (east)",
            "constrain": "domain",
            "showgrid": not use_image,
            "dtick": 1 if x1 - x0 <= 40 else 5,
            "zeroline": False,
        },
        yaxis={
            "range": [y0, y1],
            "title": "metres (north)",
            "scaleanchor": "x",
            "scaleratio": 1,
            "constrain": "domain",
            "showgrid": not use_image,
            "dtick": 1 if y1 - y0 <= 40 else 5,
            "zeroline": False,
        },
    )
    return fig


def _draw_route(fig: go.Figure, route: dict[str, Any]) -> None:
    runs = route_runs(route)
    palette = colors(r["label"] for r in runs)
    for a, b in itertools.pairwise(runs):  # walked unseen between two runs
        fig.add_trace(
            go.Scatter(
                name="unseen",
                x=[a["x"][-1], b["x"][0]],
                y=[a["y"][-1], b["y"][0]],
                mode="lines",
                line={"color": GAP_COLOUR, "width": 1.5, "dash": "dash"},
                hoverinfo="skip",
                showlegend=False,
            )
        )
    shown: set[str] = set()
    for r in runs:
        fig.add_trace(
            go.Scatter(
                name=f"route on {r['label']}",
                legendgroup=r["label"],
                showlegend=r["label"] not in shown,
                x=r["x"],
                y=r["y"],
                mode="lines+markers",
                line={"color": palette[r["label"]], "width": 3},
                marker={"size": 5, "color": palette[r["label"]]},
                hovertemplate=f"{r['label']}: %{{x:.1f}}, %{{y:.1f}} m<extra></extra>",
            )
        )
        shown.add(r["label"])
    if runs:
        first, last = runs[0], runs[-1]
        fig.add_trace(
            go.Scatter(
                name="start / end",
                x=[first["x"][0], last["x"][-1]],
                y=[first["y"][0], last["y"][-1]],
                mode="markers+text",
                text=["start", "end"],
                textposition="top center",
                marker={"size": 12, "symbol": ["circle", "square"], "color": "#222222"},
                hoverinfo="text",
                showlegend=False,
            )
        )


def occupancy_frame(occ: dict[str, Any], tz_clock: Any = None) -> pd.DataFrame:
    """Occupancy by area as a table (``tz_clock(ts)`` formats the peak's start time)."""
    rows = []
    for a in occ.get("areas", []):
        peak = a.get("peak_start_ts")
        rows.append(
            {
                "area": a["area"],
                "visitors": a["visitors"],
                "dwell (min)": round(float(a["dwell_s"]) / 60.0, 1),
                "share": f"{a['share']:.0%}" if a.get("share") is not None else "—",
                "peak visitors": a["peak_visitors"],
                "peak from": (tz_clock(peak) if tz_clock else peak) if peak is not None else "—",
            }
        )
    return pd.DataFrame(
        rows, columns=["area", "visitors", "dwell (min)", "share", "peak visitors", "peak from"]
    )
