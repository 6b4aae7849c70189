"""Floor analytics over hand-built stores: projection, heatmap, occupancy by area, routes.

Every expected number comes from the fixture itself: floor positions from a
homography written out by hand (not from OpenCV), cells and areas from those
positions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from mcvision.analytics import floor as fl
from mcvision.analytics.queries import NotFound
from mcvision.analytics.store import EventStore
from mcvision.business_day import BusinessCalendar
from mcvision.config import ConfigError, load_config, parse_config
from mcvision.types import Records, TrackPoint, Visit

SITE = "shop"
DAY = "2026-03-10"
CAL = BusinessCalendar("00:00", "Asia/Kolkata")
T0 = CAL.day_start(DAY) + 10 * 3600.0  # 10:00 local
SIZE = (200, 100)  # frame of every test camera, pixels

# A perspective homography pixels -> metres, written out by hand.
H_PERSP = np.array([[0.05, 0.01, -1.0], [0.0, 0.08, 0.5], [0.0, 0.004, 1.0]])


def _by_hand(h: np.ndarray, px: float, py: float) -> tuple[float, float]:
    w = h[2, 0] * px + h[2, 1] * py + h[2, 2]
    return (
        (h[0, 0] * px + h[0, 1] * py + h[0, 2]) / w,
        (h[1, 0] * px + h[1, 1] * py + h[1, 2]) / w,
    )


def _pairs(h: np.ndarray) -> list[dict[str, list[float]]]:
    img = [(10, 10), (190, 10), (190, 90), (10, 90), (100, 50), (60, 80)]
    return [{"image": list(p), "floor": list(_by_hand(h, *p))} for p in img]


SCALE = np.array([[0.1, 0.0, 0.0], [0.0, 0.1, 0.0], [0.0, 0.0, 1.0]])  # 10 px a metre, y as is


def _cfg(
    root: Path,
    calibrated: dict[str, np.ndarray],
    others: tuple[str, ...] = (),
    floor_plan: dict[str, Any] | None = None,
) -> Any:
    cams = [
        {
            "id": cid,
            "source": f"{cid}.mp4",
            "resolution": list(SIZE),
            "floor": {"points": _pairs(h)},
        }
        for cid, h in calibrated.items()
    ] + [{"id": cid, "source": f"{cid}.mp4", "resolution": list(SIZE)} for cid in others]
    data: dict[str, Any] = {
        "site_id": SITE,
        "cameras": cams,
        "storage": {"root": str(root / "data")},
    }
    if floor_plan is not None:
        data["floor_plan"] = floor_plan
    return parse_config(data)


def _px(h: np.ndarray, fx: float, fy: float) -> tuple[float, float]:
    """The normalized frame position whose floor point is (fx, fy)."""
    u, v, w = np.linalg.inv(h) @ np.array([fx, fy, 1.0])
    return (u / w / SIZE[0], v / w / SIZE[1])


def _store(
    root: Path,
    points: list[tuple[str, str, str, float, float, float]],
    staff: frozenset[str] = frozenset(),
) -> EventStore:
    """``points``: (visit_id, global_id, camera, t after T0, x, y) normalized."""
    store = EventStore(root / "data" / "events", SITE)
    visits: dict[str, tuple[str, float, float]] = {}
    tps = []
    for vid, gid, cam, t, x, y in points:
        ts = T0 + t
        _, a, b = visits.get(vid, (gid, ts, ts))
        visits[vid] = (gid, min(a, ts), max(b, ts))
        tps.append(TrackPoint(SITE, DAY, cam, gid, vid, ts, x, y))
    store.write(
        Records(
            visits=[
                Visit(vid, SITE, DAY, g, a, b, closed=True, is_staff=vid in staff)
                for vid, (g, a, b) in visits.items()
            ],
            track_points=tps,
        )
    )
    store.flush()
    return store


def _plan(cfg: Any) -> fl.SiteFloorPlan:
    return fl.SiteFloorPlan.from_config(cfg)


# ---- projection -------------------------------------------------------------------------
def test_projection_matches_a_homography_written_by_hand(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, {"c1": H_PERSP})
    frame_pts = [(20.0, 30.0), (150.0, 70.0), (100.0, 99.0), (3.0, 5.0)]
    store = _store(
        tmp_path,
        [("V1", "G1", "c1", i, px / SIZE[0], py / SIZE[1]) for i, (px, py) in enumerate(frame_pts)],
    )
    route = fl.floor_route(store, _plan(cfg), DAY, "G1")
    assert [p.ts - T0 for p in route.points] == [0.0, 1.0, 2.0, 3.0]
    for p, (px, py) in zip(route.points, frame_pts, strict=True):
        want = _by_hand(H_PERSP, px, py)
        assert (p.x_m, p.y_m) == pytest.approx(want, abs=1e-6)
        assert p.cameras == ["c1"]


def test_points_above_the_horizon_are_dropped_and_counted(tmp_path: Path) -> None:
    # w = 0.004·py + 1 − 0.02·px for this homography: negative at the frame's right edge
    h = np.array([[0.05, 0.0, 0.0], [0.0, 0.05, 0.0], [-0.02, 0.004, 1.0]])
    cfg = _cfg(tmp_path, {"c1": H_PERSP})
    plan = _plan(cfg)
    cam = plan.cameras["c1"]
    plan.cameras["c1"] = fl.CameraFloor(
        fl.FloorCalibration(
            "c1", h, np.linalg.inv(h), cam.calibration.errors_m, cam.calibration.errors_px
        ),
        cam.size,
        cam.floor_points,
    )
    assert _by_hand(h, 190, 50)[0] < 0  # w < 0: the far side of the horizon
    store = _store(tmp_path, [("V1", "G1", "c1", 0, 0.1, 0.5), ("V1", "G1", "c1", 1, 0.95, 0.5)])
    hm = fl.floor_heatmap(store, plan, DAY, 1.0)
    assert (hm.total, hm.dropped, hm.cameras) == (1, 1, {"c1": 1})


# ---- heatmap -------------------------------------------------------------------------------
def test_heatmap_counts_cells_over_cameras_and_names_the_uncalibrated(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, {"c1": SCALE, "c2": SCALE}, others=("c3",))
    floor_pts = [  # (visit, gid, camera, t, floor x, floor y)
        ("V1", "G1", "c1", 0, 0.2, 0.2),
        ("V1", "G1", "c1", 1, 0.7, 0.4),
        ("V1", "G1", "c1", 2, 2.5, 3.5),
        ("V2", "G2", "c2", 0, 2.1, 3.9),
        ("V2", "G2", "c2", 5, 2.9, 3.1),
        ("V2", "G2", "c2", 6, 4.5, 0.5),
        ("V2", "G2", "c3", 8, 0.5, 0.5),  # uncalibrated: not on the floor
    ]
    store = _store(
        tmp_path, [(v, g, c, t, *_px(SCALE, fx, fy)) for v, g, c, t, fx, fy in floor_pts]
    )
    hm = fl.floor_heatmap(store, _plan(cfg), DAY, 1.0)
    assert (hm.x0_m, hm.y0_m, hm.columns, hm.rows) == (0.0, 0.0, 5, 4)
    want = np.zeros((4, 5), int)
    want[0, 0], want[3, 2], want[0, 4] = 2, 3, 1
    assert np.array_equal(np.array(hm.counts), want)
    assert (hm.total, hm.outside, hm.dropped) == (6, 0, 0)
    assert hm.cameras == {"c1": 3, "c2": 3}
    assert list(hm.uncalibrated) == ["c3"] and "floor calibration" in hm.uncalibrated["c3"]
    # a finer grid keeps the same total and splits the cell of three
    fine = fl.floor_heatmap(store, _plan(cfg), DAY, 0.5)
    assert fine.total == 6 and fine.cell_m == 0.5
    assert sum(map(sum, fine.counts)) == 6 and max(max(r) for r in fine.counts) == 1
    assert (fine.columns, fine.rows) == (10, 8)


def test_overlapping_cameras_count_a_person_once_at_their_mean(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, {"c1": SCALE, "c2": SCALE})
    store = _store(
        tmp_path,
        [
            ("V1", "G1", "c1", 0.1, *_px(SCALE, 1.0, 1.0)),
            ("V1", "G1", "c2", 0.3, *_px(SCALE, 1.4, 1.2)),
            ("V1", "G1", "c1", 1.1, *_px(SCALE, 3.0, 1.0)),
        ],
    )
    hm = fl.floor_heatmap(store, _plan(cfg), DAY, 1.0)
    assert hm.total == 2 and hm.cameras == {"c1": 2, "c2": 1}
    route = fl.floor_route(store, _plan(cfg), DAY, "G1")
    assert [(round(p.x_m, 6), round(p.y_m, 6), p.cameras) for p in route.points] == [
        (1.2, 1.1, ["c1", "c2"]),
        (3.0, 1.0, ["c1"]),
    ]


def test_heatmap_grid_covers_the_plan_picture(tmp_path: Path) -> None:
    img = tmp_path / "plan.png"
    cv2.imwrite(str(img), np.full((100, 200, 3), 255, np.uint8))
    plan_cfg = {"image": str(img), "px_per_m": 20, "origin_px": [10, 90]}
    cfg = _cfg(tmp_path, {"c1": SCALE}, floor_plan=plan_cfg)
    store = _store(
        tmp_path,
        [
            ("V1", "G1", "c1", 0, *_px(SCALE, 0.2, 0.2)),
            ("V1", "G1", "c1", 1, *_px(SCALE, 9.0, 4.0)),
            ("V1", "G1", "c1", 2, *_px(SCALE, 12.0, 4.0)),  # east of the picture
        ],
    )
    plan = _plan(cfg)
    assert plan.image_extent() == pytest.approx((-0.5, -0.5, 9.5, 4.5))
    hm = fl.floor_heatmap(store, plan, DAY, 1.0)
    assert (hm.x0_m, hm.y0_m, hm.columns, hm.rows) == (-1.0, -1.0, 11, 6)
    assert (hm.total, hm.outside) == (2, 1)
    assert hm.counts[1][1] == 1 and hm.counts[5][10] == 1
    info = fl.plan_info(plan)
    assert (info.has_image, info.image_width_px, info.image_height_px) == (True, 200, 100)
    assert info.cameras[0].camera_id == "c1" and len(info.cameras[0].footprint) >= 3


def test_unreadable_plan_picture_is_named_and_the_grid_follows_the_data(tmp_path: Path) -> None:
    bad = tmp_path / "plan.png"
    bad.write_bytes(b"not a png")
    cfg = _cfg(tmp_path, {"c1": SCALE}, floor_plan={"image": str(bad), "px_per_m": 10})
    store = _store(tmp_path, [("V1", "G1", "c1", 0, *_px(SCALE, 3.5, 2.5))])
    plan = _plan(cfg)
    info = fl.plan_info(plan)
    assert not info.has_image and info.image_error and str(bad) in info.image_error
    hm = fl.floor_heatmap(store, plan, DAY, 1.0)
    assert (hm.x0_m, hm.y0_m, hm.columns, hm.rows, hm.total) == (3.0, 2.0, 1, 1, 1)


def test_bad_parameters_are_named(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, {"c1": SCALE})
    store = _store(
        tmp_path,
        [("V1", "G1", "c1", 0, *_px(SCALE, 0, 0)), ("V1", "G1", "c1", 1, *_px(SCALE, 19, 9))],
    )
    with pytest.raises(ValueError, match="cell_m"):
        fl.floor_heatmap(store, _plan(cfg), DAY, 0)
    with pytest.raises(ValueError, match="too small"):
        fl.floor_heatmap(store, _plan(cfg), DAY, 0.001)
    with pytest.raises(ValueError, match="day"):
        fl.floor_heatmap(store, _plan(cfg), "2026-3-10", 1.0)


def test_no_calibrated_camera_is_not_ready_and_says_why(tmp_path: Path) -> None:
    cfg = parse_config(
        {
            "site_id": SITE,
            "cameras": [
                {"id": "a", "source": "a.mp4"},
                {"id": "b", "source": "b.mp4", "floor": {"points": _pairs(SCALE)}},
            ],
        }
    )
    store = _store(tmp_path, [("V1", "G1", "a", 0, 0.5, 0.5)])
    plan = _plan(cfg)
    with pytest.raises(fl.FloorNotReady, match="no camera is calibrated") as err:
        fl.floor_heatmap(store, plan, DAY)
    assert "a: no floor calibration" in str(err.value) and "b: no frame size" in str(err.value)
    with pytest.raises(fl.FloorNotReady):
        fl.floor_route(store, plan, DAY, "G1")


# ---- occupancy by area -----------------------------------------------------------------------
AREAS = [
    {"name": "front", "polygon": [[0, 0], [5, 0], [5, 5], [0, 5]]},
    {"name": "corner", "polygon": [[6, 0], [9, 0], [6, 3]]},  # a triangle
]


def test_occupancy_by_area(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, {"c1": SCALE}, floor_plan={"areas": AREAS})
    walk = [  # G1: 3 s in front, then 2 samples in the corner, then far away
        ("V1", "G1", 0, 1.0, 1.0),
        ("V1", "G1", 1, 2.0, 1.0),
        ("V1", "G1", 2, 4.0, 4.0),
        ("V1", "G1", 3, 6.5, 0.5),
        ("V1", "G1", 4, 7.0, 1.0),
        ("V1", "G1", 5, 8.5, 2.5),  # in the corner's box, outside the triangle
        ("V1", "G1", 40, 3.0, 3.0),  # back in front after 35 s unseen: no dwell carried
        ("V2", "G2", 1, 4.5, 0.5),
        ("V2", "G2", 2, 4.6, 0.6),
        ("V3", "S1", 1, 1.0, 1.0),  # staff: left out
    ]
    store = _store(
        tmp_path,
        [(v, g, "c1", t, *_px(SCALE, x, y)) for v, g, t, x, y in walk],
        staff=frozenset({"V3"}),
    )
    occ = fl.floor_occupancy(store, _plan(cfg), CAL, DAY, "15m")
    by = {a.area: a for a in occ.areas}
    assert [a.area for a in occ.areas] == ["front", "corner"]
    assert (by["front"].samples, by["front"].visitors) == (6, 2)
    assert by["front"].dwell_s == pytest.approx(3.0 + 1.0)  # G1 0→1→2→3, G2 1→2; 40 s: last
    assert (by["corner"].samples, by["corner"].visitors) == (2, 1)
    assert by["corner"].dwell_s == pytest.approx(2.0)
    assert (occ.total_samples, occ.outside_samples) == (9, 1)
    assert by["front"].share == pytest.approx(6 / 9)
    assert by["front"].peak_visitors == 2
    start = CAL.day_start(DAY)
    assert by["front"].peak_start_ts == pytest.approx(start + 40 * 900)  # 10:00 local
    with_staff = fl.floor_occupancy(store, _plan(cfg), CAL, DAY, "15m", include_staff=True)
    assert {a.area: a.visitors for a in with_staff.areas}["front"] == 3


def test_occupancy_needs_areas(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, {"c1": SCALE})
    store = _store(tmp_path, [("V1", "G1", "c1", 0, *_px(SCALE, 1, 1))])
    with pytest.raises(fl.FloorNotReady, match=r"floor_plan\.areas"):
        fl.floor_occupancy(store, _plan(cfg), CAL, DAY)


# ---- routes ------------------------------------------------------------------------------------
def test_route_follows_the_person_across_cameras_in_time_order(tmp_path: Path) -> None:
    shifted = np.array([[0.1, 0.0, 20.0], [0.0, 0.1, 0.0], [0.0, 0.0, 1.0]])  # c2: 20 m east
    cfg = _cfg(tmp_path, {"c1": SCALE, "c2": shifted}, others=("c3",))
    walk = [  # camera, t, floor x, floor y (c3 uncalibrated: in frame units)
        ("c1", 0, 1.0, 1.0),
        ("c1", 2, 2.0, 1.0),
        ("c3", 10, 0.5, 0.5),
        ("c3", 11, 0.5, 0.6),
        ("c2", 20, 21.0, 1.0),
        ("c2", 22, 24.0, 5.0),
        ("c1", 40, 3.0, 5.0),
    ]
    pts = []
    for cam, t, x, y in walk:
        xy = (x, y) if cam == "c3" else _px(SCALE if cam == "c1" else shifted, x, y)
        pts.append(("V1", "G7", cam, t, *xy))
    pts.append(("V9", "G8", "c1", 5, *_px(SCALE, 9.0, 9.0)))  # someone else
    store = _store(tmp_path, pts)
    route = fl.floor_route(store, _plan(cfg), DAY, "G7")
    assert route.cameras == ["c1", "c3", "c2", "c1"]
    assert [
        (leg.camera_id, leg.points, leg.floor_points, leg.calibrated) for leg in route.legs
    ] == [
        ("c1", 2, 2, True),
        ("c3", 2, 0, False),
        ("c2", 2, 2, True),
        ("c1", 1, 1, True),
    ]
    got = [(round(p.x_m, 6), round(p.y_m, 6)) for p in route.points]
    assert got == [(1.0, 1.0), (2.0, 1.0), (21.0, 1.0), (24.0, 5.0), (3.0, 5.0)]
    assert [p.ts - T0 for p in route.points] == [0, 2, 20, 22, 40]
    assert route.length_m == pytest.approx(1.0 + 19.0 + 5.0 + 21.0)
    assert list(route.uncalibrated) == ["c3"] and route.visits == ["V1"]


def test_route_of_an_unknown_visitor_is_not_found(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, {"c1": SCALE})
    store = _store(tmp_path, [("V1", "G1", "c1", 0, *_px(SCALE, 1, 1))])
    with pytest.raises(NotFound, match="'G404'"):
        fl.floor_route(store, _plan(cfg), DAY, "G404")


# ---- config ------------------------------------------------------------------------------------
def test_floor_plan_config_is_checked_and_its_image_resolved(tmp_path: Path) -> None:
    base = {"site_id": "s", "cameras": [{"id": "c", "source": "c.mp4"}]}
    with pytest.raises(ConfigError, match="px_per_m"):
        parse_config({**base, "floor_plan": {"image": "plan.png"}})
    with pytest.raises(ConfigError, match="duplicate area names"):
        parse_config({**base, "floor_plan": {"areas": [AREAS[0], AREAS[0]]}})
    line = {"name": "x", "polygon": [[0, 0], [1, 1], [2, 2]]}
    with pytest.raises(ConfigError, match="one line"):
        parse_config({**base, "floor_plan": {"areas": [line]}})
    (tmp_path / "site.yaml").write_text(
        "site_id: s\ncameras: [{id: c, source: c.mp4}]\n"
        "floor_plan: {image: plans/floor.png, px_per_m: 25}\n"
    )
    cfg = load_config(tmp_path / "site.yaml")
    assert cfg.floor_plan.image == str((tmp_path / "plans" / "floor.png").resolve())


def test_a_cameras_plan_image_is_the_fallback(tmp_path: Path) -> None:
    img = tmp_path / "p.png"
    cv2.imwrite(str(img), np.zeros((50, 80, 3), np.uint8))
    cfg = _cfg(tmp_path, {"c1": SCALE})
    cam = cfg.cameras[0]
    assert cam.floor is not None
    floor = cam.floor.model_copy(
        update={"plan_image": str(img), "plan_px_per_m": 10.0, "plan_origin_px": (0.0, 50.0)}
    )
    cfg = cfg.model_copy(update={"cameras": [cam.model_copy(update={"floor": floor})]})
    plan = _plan(cfg)
    assert plan.image == str(img) and plan.image_extent() == pytest.approx((0, 0, 8, 5))
