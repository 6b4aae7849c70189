"""Floor-plane geometry: homographies, the walkable-transit gate, the overlap coincidence."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytest

from mcvision.business_day import BusinessCalendar
from mcvision.config import ConfigError, FloorConfig, SiteConfig, parse_config
from mcvision.identity.gallery import Gallery, normalize
from mcvision.identity.geometry import (
    FloorCalibration,
    FloorCalibrationError,
    FloorTrack,
    SiteFloor,
    coincidence_term,
    floor_distance,
    homography_from_pairs,
    walkable,
)
from mcvision.identity.manager import IdentityManager
from mcvision.types import EventKind, TrackletUpdate

DIM = 64
T0 = 1_795_000_000.0
CAL = BusinessCalendar("00:00", "Asia/Kolkata")
PX_PER_M = 50.0  # every test camera: 50 px per metre, frame origin at floor (0, 0)

# A perspective homography (image px -> floor m) with a known answer.
H_TRUE = np.array([[0.02, 0.001, -3.0], [0.0005, 0.03, -1.0], [0.0, 0.0008, 1.0]])


def _apply(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    q = np.hstack([pts, np.ones((len(pts), 1))]) @ h.T
    return q[:, :2] / q[:, 2:3]


def _square_floor(offset: tuple[float, float] = (0.0, 0.0)) -> dict[str, Any]:
    """A camera seeing floor (x, y) m at pixel (50 x, 50 y) (plus ``offset`` m)."""
    img = [(0, 0), (500, 0), (500, 400), (0, 400), (250, 200)]
    return {
        "points": [
            {"image": list(p), "floor": [p[0] / PX_PER_M + offset[0], p[1] / PX_PER_M + offset[1]]}
            for p in img
        ]
    }


def site(calibrated: tuple[str, ...] = ("A", "B"), **identity: Any) -> SiteConfig:
    ident = {"match_threshold": 0.7, "min_frames": 3, "max_pending_s": 5.0, "use_geometry": True}
    ident.update(identity)
    cams = []
    for c in ("A", "B"):
        cam: dict[str, Any] = {"id": c, "source": f"{c}.mp4"}
        if c in calibrated:
            cam["floor"] = _square_floor()
        cams.append(cam)
    return SiteConfig.model_validate(
        {
            "site_id": "geo",
            "cameras": cams,
            "topology": {"transits": [{"a": "A", "b": "B", "overlap": True}]},
            "identity": ident,
        }
    )


def person(seed: int) -> np.ndarray:
    return normalize(np.random.default_rng(seed).normal(size=DIM))[0]


def mix(a: np.ndarray, b: np.ndarray, cos: float) -> np.ndarray:
    """A unit vector with cosine ``cos`` to unit ``a`` (``b`` gives the orthogonal part)."""
    o = b - (b @ a) * a
    o /= np.linalg.norm(o)
    return (cos * a + np.sqrt(1 - cos**2) * o).astype(np.float32)


def walk(
    cam: str,
    lid: int,
    start: float,
    floor: list[tuple[float, float]],
    emb: np.ndarray,
    dt: float = 0.2,
    ended: bool = False,
) -> list[TrackletUpdate]:
    """One track standing/walking through floor points (m), one update every ``dt`` s."""
    out = []
    for i, (x, y) in enumerate(floor):
        foot = np.array([x * PX_PER_M, y * PX_PER_M], np.float32)
        box = np.array([foot[0] - 20, foot[1] - 120, foot[0] + 20, foot[1]], np.float32)
        out.append(
            TrackletUpdate(
                cam,
                lid,
                T0 + start + i * dt,
                box,
                foot,
                embedding=emb,
                ended=ended and i == len(floor) - 1,
            )
        )
    return out


def together(*walks: list[TrackletUpdate]) -> list[TrackletUpdate]:
    """Several cameras' updates as they arrive: one batch in ts order."""
    return sorted((u for w in walks for u in w), key=lambda u: (u.ts, u.camera_id))


def manager(cfg: SiteConfig) -> IdentityManager:
    return IdentityManager(cfg, Gallery("memory://", dim=DIM), CAL)


def ids(mgr: IdentityManager, *keys: tuple[str, int]) -> list[str | None]:
    return [mgr.global_id_of(c, lid) for c, lid in keys]


# ---------------------------------------------------------------- homography
def test_homography_from_point_pairs_known_answer() -> None:
    img = np.array([(10, 20), (600, 30), (620, 350), (15, 340), (300, 180), (450, 90)], float)
    flr = _apply(H_TRUE, img)
    h = homography_from_pairs(img, flr)
    np.testing.assert_allclose(h, H_TRUE / H_TRUE[2, 2], rtol=1e-6, atol=1e-9)
    cal = FloorCalibration.from_pairs("c1", img, flr)
    assert cal.mean_error_m < 1e-6 and cal.mean_error_px < 1e-4 and cal.ok
    probe = np.array([[123.0, 222.0]])
    np.testing.assert_allclose(cal.project(probe), _apply(H_TRUE, probe), atol=1e-6)
    back, front = cal.to_image(_apply(H_TRUE, probe))
    np.testing.assert_allclose(back, probe, atol=1e-4)
    assert front.all()


def test_reprojection_error_is_reported_and_a_bad_calibration_warned(caplog) -> None:
    img = np.array([(0, 0), (500, 0), (500, 400), (0, 400), (250, 200)], float)
    flr = img / PX_PER_M
    flr[4] += (3.0, 0.0)  # one pair 3 m off
    cal = FloorCalibration.from_pairs("c1", img, flr)
    rep = cal.report()
    assert rep["max_error_m"] > 1.0 and rep["max_error_px"] > 10 and rep["mean_error_m"] > 0.5
    assert not cal.ok
    cfg = parse_config(
        {
            "site_id": "s",
            "cameras": [
                {
                    "id": "cam9",
                    "source": "x.mp4",
                    "floor": {
                        "points": [
                            {"image": list(p), "floor": list(q)}
                            for p, q in zip(img, flr, strict=True)
                        ]
                    },
                }
            ],
        }
    )
    with caplog.at_level(logging.WARNING, logger="mcvision.identity.geometry"):
        SiteFloor.from_config(cfg)
    assert "cam9" in caplog.text and "reprojection error" in caplog.text


def test_degenerate_pairs_raise_naming_the_camera() -> None:
    with pytest.raises(FloorCalibrationError, match=r"'c7'.*>= 4"):
        homography_from_pairs([(0, 0), (1, 0), (0, 1)], [(0, 0), (1, 0), (0, 1)], "c7")
    line = [(0, 0), (1, 1), (2, 2), (3, 3)]
    with pytest.raises(FloorCalibrationError, match=r"'c7'.*degenerate"):
        homography_from_pairs(line, [(0, 0), (1, 0), (0, 1), (1, 1)], "c7")


# ---------------------------------------------------------------- config validation
def _cfg_with_floor(floor: dict[str, Any]) -> dict[str, Any]:
    return {
        "site_id": "s",
        "cameras": [
            {"id": "door", "source": "a.mp4"},
            {"id": "aisle", "source": "b.mp4", "floor": floor},
        ],
    }


@pytest.mark.parametrize(
    ("floor", "message"),
    [
        (
            {
                "points": [
                    {"image": [0, 0], "floor": [0, 0]},
                    {"image": [9, 0], "floor": [1, 0]},
                    {"image": [0, 9], "floor": [0, 1]},
                ]
            },
            "needs >= 4 image-floor point pairs, got 3",
        ),
        (
            {"points": [{"image": [i, 2 * i], "floor": [i, i * i]} for i in range(5)]},
            "image points all lie on one line",
        ),
        (
            {"points": [{"image": [i * 7, i * i], "floor": [i, 0.5]} for i in range(5)]},
            "floor points all lie on one line",
        ),
        (
            {
                "points": [{"image": [0, 0], "floor": [0, 0]}] * 4
                + [{"image": [5, 5], "floor": [1, 1]}]
            },
            "needs >= 4 distinct image points",
        ),
        ({**_square_floor(), "plan_image": "plan.png"}, "plan_px_per_m: needed with plan_image"),
    ],
)
def test_floor_config_errors_name_the_camera(floor: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(_cfg_with_floor(floor))
    text = str(err.value)
    line = next(ln for ln in text.splitlines() if ln.startswith("cameras[1].floor"))
    assert message in line and line.endswith("(camera 'aisle')")


def test_identity_floor_distances_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"floor_apart_m .* must be >= floor_match_m"):
        parse_config(
            {
                "site_id": "s",
                "cameras": [{"id": "a", "source": "a.mp4"}],
                "identity": {"floor_match_m": 2.0, "floor_apart_m": 1.0},
            }
        )
    ok = FloorConfig.model_validate({**_square_floor(), "plan_image": "p.png", "plan_px_per_m": 20})
    assert ok.plan_px_per_m == 20 and len(ok.points) == 5


# ---------------------------------------------------------------- pieces
def test_walkable_and_coincidence_terms() -> None:
    assert walkable((0, 0), (4, 3), gap_s=2.0, max_speed=2.5)  # 5 m in 2 s at 2.5 m/s
    assert not walkable((0, 0), (4, 3), gap_s=1.0, max_speed=2.5)
    assert walkable((0, 0), (4, 3), gap_s=1.0, max_speed=2.5, slack_m=2.5)
    assert not walkable((0, 0), (0.5, 0), gap_s=-1.0, max_speed=2.5)  # negative gap: none
    assert coincidence_term(0.0, 1.0, 2.5, 0.3) == pytest.approx(-0.3)
    assert coincidence_term(1.0, 1.0, 2.5, 0.3) == pytest.approx(0.0)
    assert coincidence_term(2.2, 1.0, 2.5, 0.3) == pytest.approx(0.3)
    assert coincidence_term(3.0, 1.0, 2.5, 0.3) is None


def test_floor_distance_compares_the_same_moments() -> None:
    a, b, late = FloorTrack(), FloorTrack(), FloorTrack()
    for k in range(10):
        a.add(k * 0.2, (k * 0.1, 0.0))
        b.add(k * 0.2 + 0.1, (k * 0.1 + 0.05, 3.0))  # interleaved timestamps, 3 m to the side
        late.add(100 + k, (0.0, 0.0))
    assert floor_distance(a, [b]) == pytest.approx(3.0, abs=0.01)
    assert floor_distance(a, [late]) is None


# ---------------------------------------------------------------- in the identity
def _overlap_case(
    cfg: SiteConfig, b_floor: tuple[float, float], emb_b: np.ndarray
) -> IdentityManager:
    """Person on A at (4, 4) m; at the same moments (A still in view) a track on B at ``b_floor``."""
    mgr = manager(cfg)
    mgr.update(walk("A", 1, 0.0, [(4.0, 4.0)] * 5, person(1)))
    mgr.update(
        together(
            walk("A", 1, 1.0, [(4.0, 4.0)] * 5, person(1)), walk("B", 1, 1.0, [b_floor] * 5, emb_b)
        )
    )
    return mgr


def test_overlap_one_floor_point_is_one_person_even_below_the_threshold() -> None:
    emb_b = mix(person(1), person(2), 0.55)  # below match_threshold 0.7 on appearance alone
    mgr = _overlap_case(site(), (4.0, 4.0), emb_b)
    a, b = ids(mgr, ("A", 1), ("B", 1))
    assert a is not None and a == b
    # the same sightings without calibration: appearance alone, two IDs
    plain = _overlap_case(site(calibrated=()), (4.0, 4.0), emb_b)
    a, b = ids(plain, ("A", 1), ("B", 1))
    assert a is not None and b is not None and a != b


def test_overlap_two_points_three_metres_apart_are_two_people() -> None:
    same_look = person(1)  # identical embeddings: appearance alone says one person
    mgr = _overlap_case(site(), (4.0, 7.0), same_look)
    a, b = ids(mgr, ("A", 1), ("B", 1))
    assert a is not None and b is not None and a != b
    plain = _overlap_case(site(calibrated=()), (4.0, 7.0), same_look)
    a, b = ids(plain, ("A", 1), ("B", 1))
    assert a is not None and a == b


def test_one_uncalibrated_camera_keeps_appearance_only() -> None:
    mgr = _overlap_case(site(calibrated=("A",)), (4.0, 7.0), person(1))
    a, b = ids(mgr, ("A", 1), ("B", 1))
    assert a is not None and a == b


def test_geometry_is_off_by_default() -> None:
    cfg = SiteConfig.model_validate(
        {
            "site_id": "s",
            "cameras": [
                {"id": "A", "source": "a.mp4", "floor": _square_floor()},
                {"id": "B", "source": "b.mp4", "floor": _square_floor()},
            ],
        }
    )
    assert cfg.identity.use_geometry is False
    mgr = manager(cfg)
    mgr.update(walk("A", 1, 0.0, [(4.0, 4.0)] * 5, person(1)))
    mgr.update(walk("B", 1, 1.0, [(4.0, 7.0)] * 5, person(1)))  # 3 m apart, same look
    a, b = ids(mgr, ("A", 1), ("B", 1))
    assert a is not None and a == b  # appearance alone


def test_geometry_off_matches_like_uncalibrated() -> None:
    mgr = _overlap_case(site(use_geometry=False), (4.0, 7.0), person(1))
    a, b = ids(mgr, ("A", 1), ("B", 1))
    assert a is not None and a == b


def test_coincidence_picks_the_person_on_the_spot_among_two_lookalikes() -> None:
    """Two people on A; a track on B where one of them stands: it gets that one's ID."""
    mgr = manager(site())
    mgr.update(
        walk("A", 1, 0.0, [(2.0, 2.0)] * 8, person(1))
        + walk("A", 2, 0.0, [(6.0, 2.0)] * 8, mix(person(1), person(3), 0.9))
    )
    emb = mix(person(1), person(4), 0.8)  # closer to person 1's look, but standing by person 2
    mgr.update(walk("B", 5, 0.6, [(6.2, 2.1)] * 5, emb))
    a1, a2, b = ids(mgr, ("A", 1), ("A", 2), ("B", 5))
    assert len({a1, a2}) == 2 and b == a2


def _transit_case(cfg: SiteConfig, gap: float, dist: float) -> IdentityManager:
    """A track ends on A at (1, 1) m; ``gap`` s later one starts on B ``dist`` m away."""
    mgr = manager(cfg)
    a = walk("A", 1, 0.0, [(1.0, 1.0)] * 5, person(1), ended=True)
    mgr.update(a)
    start = (a[-1].ts - T0) + gap
    mgr.update(walk("B", 1, start, [(1.0 + dist, 1.0)] * 5, person(1)))
    return mgr


def _non_overlap_site(**identity: Any) -> SiteConfig:
    data = site(**identity).model_dump()
    data["topology"] = {"transits": [], "unlisted": "allow"}
    return SiteConfig.model_validate(data)


@pytest.mark.parametrize(
    ("gap", "dist", "same"),
    [
        (1.0, 8.0, False),  # 8 m in 1 s: not walkable (2.5 m/s + 1 m slack)
        (4.0, 8.0, True),  # 8 m in 4 s: walkable
        (1.0, 3.0, True),  # 3 m in 1 s: within speed + slack
    ],
)
def test_walkable_transit_gate(gap: float, dist: float, same: bool) -> None:
    mgr = _transit_case(_non_overlap_site(), gap, dist)
    a, b = ids(mgr, ("A", 1), ("B", 1))
    assert a is not None and b is not None
    assert (a == b) is same
    plain = _transit_case(_non_overlap_site(use_geometry=False), gap, dist)
    assert len(set(ids(plain, ("A", 1), ("B", 1)))) == 1  # appearance alone: always one


def test_walkable_gate_on_one_camera_stops_a_teleporting_reacquisition() -> None:
    cfg = _non_overlap_site()
    mgr = manager(cfg)
    mgr.update(walk("A", 1, 0.0, [(1.0, 1.0)] * 5, person(1), ended=True))
    mgr.update(walk("A", 2, 1.2, [(9.0, 1.0)] * 5, person(1)))  # 8 m away 0.4 s later
    a1, a2 = ids(mgr, ("A", 1), ("A", 2))
    assert a1 is not None and a2 is not None and a1 != a2


def test_assignment_event_says_the_floor_distance() -> None:
    mgr = manager(site())
    mgr.update(walk("A", 1, 0.0, [(4.0, 4.0)] * 5, person(1)))
    res = mgr.update(
        together(
            walk("A", 1, 1.0, [(4.0, 4.0)] * 5, person(1)),
            walk("B", 1, 1.0, [(4.3, 4.0)] * 5, person(1)),
        )
    )
    ev = [e for e in res.events if e.kind == EventKind.TRACK_ASSIGNED and e.camera_id == "B"]
    assert ev and ev[0].payload["reason"] == "reid"
    assert ev[0].payload["floor_m"] == pytest.approx(0.3, abs=1e-3)
    plain = manager(site(calibrated=()))
    plain.update(walk("A", 1, 0.0, [(4.0, 4.0)] * 5, person(1)))
    res = plain.update(walk("B", 1, 1.0, [(4.3, 4.0)] * 5, person(1)))
    ev = [e for e in res.events if e.kind == EventKind.TRACK_ASSIGNED and e.camera_id == "B"]
    assert "floor_m" not in ev[0].payload


# ---------------------------------------------------------------- tracker mix-ups
def _at(cam: str, lid: int, ts: list[float], xy: tuple[float, float], emb: np.ndarray) -> list:
    return [walk(cam, lid, t, [xy], emb)[0] for t in ts]


@pytest.mark.parametrize("shared_frame", [False, True])
def test_one_camera_holds_a_person_twice_only_in_one_frame(shared_frame: bool) -> None:
    """A lost track that lay in wait (one sighting at 0 s) picks the person up at 2 s
    while the person's own track (0.4-1.6 s) was lost: spans overlap, frames do not."""
    mgr = manager(site(calibrated=()))
    own = _at("A", 2, [0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6], (4.0, 4.0), person(1))
    lurk = _at(
        "A", 1, [0.0] + ([1.0] if shared_frame else []) + [2.0, 2.2, 2.4], (4.0, 4.0), person(1)
    )
    mgr.update(together(own, lurk))
    a1, a2 = ids(mgr, ("A", 1), ("A", 2))
    assert a1 is not None and a2 is not None
    assert (a1 == a2) is not shared_frame  # seen in one frame together: two people


def test_a_stray_end_point_does_not_veto_a_walkable_transit() -> None:
    """The track on A ends with one foot point 8 m off (a box merged with someone
    else's); the track on B starts 1 s later 1 m from where A really last saw them."""
    cfg = _non_overlap_site()
    mgr = manager(cfg)
    a = walk("A", 1, 0.0, [(1.0, 1.0)] * 5 + [(9.0, 1.0)] * 2, person(1), ended=True)
    mgr.update(a)
    mgr.update(walk("B", 1, (a[-1].ts - T0) + 1.0, [(2.0, 1.0)] * 5, person(1)))
    a_id, b_id = ids(mgr, ("A", 1), ("B", 1))
    assert a_id is not None and a_id == b_id


def test_a_box_cut_by_the_frame_edge_gives_no_floor_point() -> None:
    cfg = site()
    data = cfg.model_dump(mode="json")
    for cam in data["cameras"]:
        cam["resolution"] = [640, 360]
    floor = SiteFloor.from_config(SiteConfig.model_validate(data))
    foot = np.array([100.0, 300.0])
    assert floor.foot_on_floor("A", [80, 180, 120, 300], foot) == pytest.approx((2.0, 6.0))
    assert floor.foot_on_floor("A", [80, 240, 120, 360], [100.0, 360.0]) is None  # bottom
    assert floor.foot_on_floor("A", [0, 180, 40, 300], [20.0, 300.0]) is None  # left side
    assert floor.foot_on_floor("A", [600, 180, 640, 300], [620.0, 300.0]) is None  # right


@pytest.mark.parametrize("split_s", [0.0, 1.0])
def test_a_lost_track_that_picks_up_someone_else_is_split(split_s: float) -> None:
    """Track 1 follows P (0-0.8 s), is lost, and 3 s later the tracker hands it Q (the gap
    split alone: the appearance split, on for the default embedder, is off here)."""
    mgr = manager(site(calibrated=(), track_split_gap_s=split_s, track_split_similarity=None))
    mgr.update(walk("A", 1, 0.0, [(2.0, 2.0)] * 5, person(1)))
    first = mgr.global_id_of("A", 1)
    res = mgr.update(walk("A", 1, 3.8, [(2.0, 2.0)] * 5, person(2)))
    later = mgr.global_id_of("A", 1)
    assert first is not None and later is not None
    if split_s:
        assert later != first  # Q is not counted as P
        assert [e.global_id for e in res.events if e.kind == EventKind.IDENTITY_NEW] == [later]
    else:
        assert later == first and not res.events  # today's behaviour without the split
