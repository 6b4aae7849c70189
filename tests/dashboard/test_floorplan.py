"""The floor-plan drawing (``app_streamlit/floorplan.py``) from API-shaped JSON, no browser."""

from __future__ import annotations

import base64
from typing import Any

import floorplan
import pytest
import ui

PLAN: dict[str, Any] = {
    "has_image": True,
    "extent_m": [0.0, 0.0, 12.0, 10.0],
    "areas": [
        {"name": "entry", "polygon": [[0, 0], [12, 0], [12, 4], [0, 4]]},
        {"name": "promo", "polygon": [[4, 4], [8, 4], [8, 10]]},
    ],
    "cameras": [{"camera_id": "c1", "footprint": [[0, 0], [6, 0], [6, 4]]}],
    "uncalibrated": {"c3": "no floor calibration (cameras[].floor)"},
}
HEATMAP: dict[str, Any] = {
    "cell_m": 2.0,
    "x0_m": -2.0,
    "y0_m": 0.0,
    "columns": 3,
    "rows": 2,
    "counts": [[0, 4, 1], [2, 0, 0]],
    "total": 7,
}


def _pt(ts: float, x: float, y: float, cams: list[str], visit: str = "V1") -> dict[str, Any]:
    return {"ts": ts, "x_m": x, "y_m": y, "cameras": cams, "visit_id": visit}


ROUTE: dict[str, Any] = {
    "cameras": ["c1", "c3", "c2", "c1"],
    "uncalibrated": {"c3": "no floor calibration"},
    "points": [
        _pt(0, 1, 1, ["c1"]),
        _pt(1, 2, 1, ["c1"]),
        _pt(9, 5, 6, ["c1", "c2"]),
        _pt(10, 6, 7, ["c2"]),
        _pt(11, 7, 8, ["c2"]),
        _pt(30, 3, 2, ["c1"]),
    ],
}


def test_image_uri_round_trips_the_bytes() -> None:
    uri = floorplan.image_uri(b"\x89PNG-bytes", "image/png; charset=binary")
    head, data = uri.split(",", 1)
    assert head == "data:image/png;base64" and base64.b64decode(data) == b"\x89PNG-bytes"


def test_heatmap_cells_are_centred_in_metres_and_empty_cells_clear() -> None:
    xs, ys = floorplan.cell_centres(HEATMAP)
    assert xs == [-1.0, 1.0, 3.0] and ys == [1.0, 3.0]
    assert floorplan.heat_z(HEATMAP) == [[None, 4, 1], [2, None, None]]


def test_floor_figure_puts_the_picture_under_the_heatmap_over_the_plan_extent() -> None:
    fig = floorplan.floor_figure(PLAN, heatmap=HEATMAP, image="data:image/png;base64,AAAA")
    (img,) = fig.layout.images
    assert (img.x, img.y, img.sizex, img.sizey, img.layer) == (0.0, 10.0, 12.0, 10.0, "below")
    assert (img.xref, img.yref) == ("x", "y")
    heat = [t for t in fig.data if t.type == "heatmap"]
    assert len(heat) == 1 and list(heat[0].x) == [-1.0, 1.0, 3.0]
    assert tuple(fig.layout.xaxis.range) == (0.0, 12.0) and tuple(fig.layout.yaxis.range) == (0, 10)
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.yaxis.scaleratio == 1
    names = [t.name for t in fig.data]
    assert "area entry" in names and "area promo" in names
    assert [a.text for a in fig.layout.annotations] == ["entry", "promo"]


def test_without_a_picture_it_is_a_metre_grid_around_what_is_drawn() -> None:
    fig = floorplan.floor_figure({**PLAN, "has_image": False}, heatmap=HEATMAP, image=None)
    assert not fig.layout.images
    assert fig.layout.xaxis.showgrid and fig.layout.xaxis.dtick == 1
    # the heatmap reaches x = -2 m, the areas 12 m and 10 m: all inside, half a metre spare
    assert tuple(fig.layout.xaxis.range) == (-2.5, 12.5)
    assert tuple(fig.layout.yaxis.range) == (-0.5, 10.5)


def test_route_runs_split_where_the_cameras_or_the_visit_change() -> None:
    runs = floorplan.route_runs(ROUTE)
    assert [(r["label"], len(r["x"])) for r in runs] == [
        ("c1", 2),
        ("c1+c2", 1),
        ("c2", 2),
        ("c1", 1),
    ]
    assert runs[0]["x"] == [1.0, 2.0] and runs[-1]["ts"] == [30.0]
    two_visits = {"points": [_pt(0, 1, 1, ["c1"]), _pt(50, 2, 2, ["c1"], visit="V2")]}
    assert [r["visit_id"] for r in floorplan.route_runs(two_visits)] == ["V1", "V2"]


def test_route_is_drawn_in_order_coloured_by_camera_with_unseen_walks_dashed() -> None:
    fig = floorplan.floor_figure(PLAN, route=ROUTE, image=None)
    runs = [t for t in fig.data if (t.name or "").startswith("route on ")]
    assert [t.name for t in runs] == ["route on c1", "route on c1+c2", "route on c2", "route on c1"]
    assert list(runs[2].x) == [6.0, 7.0] and list(runs[2].y) == [7.0, 8.0]
    palette = ui.colors(["c1", "c1+c2", "c2"])
    assert runs[0].line.color == runs[3].line.color == palette["c1"] != runs[2].line.color
    assert [t.showlegend for t in runs] == [True, True, True, False]  # one legend entry a camera
    gaps = [t for t in fig.data if t.name == "unseen"]
    assert len(gaps) == 3 and gaps[0].line.dash == "dash"
    assert (list(gaps[0].x), list(gaps[0].y)) == ([2.0, 5.0], [1.0, 6.0])
    (ends,) = [t for t in fig.data if t.name == "start / end"]
    assert list(ends.x) == [1.0, 3.0] and list(ends.text) == ["start", "end"]


def test_sequence_text_marks_cameras_off_the_floor() -> None:
    assert floorplan.sequence_text(ROUTE) == "c1 → c3 (not on the floor) → c2 → c1"


def test_occupancy_frame() -> None:
    occ = {
        "areas": [
            {
                "area": "entry",
                "visitors": 3,
                "dwell_s": 90.0,
                "share": 0.25,
                "peak_visitors": 2,
                "peak_start_ts": 100.0,
            },
            {
                "area": "promo",
                "visitors": 0,
                "dwell_s": 0.0,
                "share": None,
                "peak_visitors": 0,
                "peak_start_ts": None,
            },
        ]
    }
    df = floorplan.occupancy_frame(occ, lambda ts: f"t{ts:g}")
    assert df.to_dict("records") == [
        {
            "area": "entry",
            "visitors": 3,
            "dwell (min)": 1.5,
            "share": "25%",
            "peak visitors": 2,
            "peak from": "t100",
        },
        {
            "area": "promo",
            "visitors": 0,
            "dwell (min)": 0.0,
            "share": "—",
            "peak visitors": 0,
            "peak from": "—",
        },
    ]


@pytest.mark.parametrize("missing", ["extent_m", "has_image"])
def test_a_picture_without_an_extent_falls_back_to_the_grid(missing: str) -> None:
    plan = {**PLAN, missing: None}
    fig = floorplan.floor_figure(plan, image="data:image/png;base64,AAAA")
    assert not fig.layout.images and fig.layout.xaxis.showgrid
