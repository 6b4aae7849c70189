"""Zone membership of foot points and directed entrance-line crossings."""

from __future__ import annotations

import numpy as np
import pytest

from mcvision.config import CameraConfig, LineConfig, ZoneConfig
from mcvision.tracking.zones import LineCrossingDetector, ZoneMap
from mcvision.types import Detections, Direction, LineCrossing

SQUARE = [(100, 100), (300, 100), (300, 300), (100, 300)]
TRIANGLE = [(200, 200), (400, 200), (400, 400)]


def camera(*zones: dict, resolution: tuple[int, int] | None = None) -> CameraConfig:
    return CameraConfig(id="c1", source="v.mp4", zones=list(zones), resolution=resolution)


@pytest.fixture
def zmap() -> ZoneMap:
    return ZoneMap(
        camera({"name": "shelf", "polygon": SQUARE}, {"name": "till", "polygon": TRIANGLE}),
        (640, 480),
    )


@pytest.mark.parametrize(
    ("point", "zones"),
    [
        ((150, 150), ("shelf",)),
        ((50, 50), ()),
        ((100, 200), ("shelf",)),  # on an edge: inside
        ((100, 100), ("shelf",)),  # on a corner: inside
        ((299.9, 110), ("shelf",)),
        ((250, 250), ("shelf", "till")),  # on the triangle's hypotenuse: inside both
        ((300.1, 150), ()),
        ((250, 220), ("shelf", "till")),  # where they overlap
        ((350, 300), ("till",)),
        ((300, 350), ()),  # below the triangle's hypotenuse
        ((600, 470), ()),
    ],
)
def test_zones_at(zmap: ZoneMap, point: tuple[float, float], zones: tuple[str, ...]) -> None:
    assert zmap.zones_at(np.array([point])) == [zones]


def test_vectorized_over_detections(zmap: ZoneMap) -> None:
    dets = Detections(xyxy=np.array([[130, 50, 170, 150], [330, 200, 370, 300], [0, 0, 10, 10]]))
    assert zmap.zones_at(dets.foot_points) == [("shelf",), ("till",), ()]
    assert zmap.zones_at(np.zeros((0, 2))) == []


@pytest.mark.parametrize(
    ("frame_size", "point", "zones"),
    [
        ((640, 480), (300, 200), ("half",)),
        ((640, 480), (330, 200), ()),
        ((1280, 720), (630, 700), ("half",)),
        ((1280, 720), (660, 700), ()),
    ],
)
def test_normalized_polygon_scaled_by_frame(
    frame_size: tuple[int, int], point: tuple[float, float], zones: tuple[str, ...]
) -> None:
    cam = camera(
        {"name": "half", "polygon": [(0, 0), (0.5, 0), (0.5, 1), (0, 1)], "normalized": True}
    )
    assert ZoneMap(cam, frame_size).zones_at(np.array([point])) == [zones]


def test_normalized_uses_camera_resolution() -> None:
    cam = camera(
        {"name": "half", "polygon": [(0, 0), (0.5, 0), (0.5, 1), (0, 1)], "normalized": True},
        resolution=(200, 100),
    )
    assert ZoneMap(cam).zones_at(np.array([[99, 50], [101, 50]])) == [("half",), ()]


def test_normalized_without_frame_size_is_an_error() -> None:
    cam = camera({"name": "half", "polygon": [(0, 0), (0.5, 0), (0.5, 1)], "normalized": True})
    with pytest.raises(ValueError, match="zone 'half' is normalized"):
        ZoneMap(cam)


def test_same_name_twice_reported_once() -> None:
    zm = ZoneMap(
        [ZoneConfig(name="aisle", polygon=SQUARE), ZoneConfig(name="aisle", polygon=TRIANGLE)]
    )
    assert zm.zones_at(np.array([[250, 220]])) == [("aisle",)]


def test_self_intersecting_polygon_still_works() -> None:
    bowtie = [(0, 0), (100, 100), (100, 0), (0, 100)]
    zm = ZoneMap([ZoneConfig(name="x", polygon=bowtie)])
    # make_valid keeps both lobes (left and right triangles), not the top and bottom ones
    got = zm.zones_at(np.array([[20, 50], [80, 50], [50, 20], [50, 80]]))
    assert got == [("x",), ("x",), (), ()]


@pytest.mark.parametrize("bad", [np.zeros((3,)), np.zeros((2, 3))])
def test_bad_points(zmap: ZoneMap, bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"points must be \(N, 2\)"):
        zmap.zones_at(bad)


@pytest.mark.parametrize("size", [(0, 480), (640, -1)])
def test_bad_frame_size(size: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="frame_size must be"):
        ZoneMap(camera({"name": "s", "polygon": SQUARE}), size)


# ---- lines ------------------------------------------------------------------------

# A horizontal door line drawn left to right at y=200 between x=100 and x=300.
# In image coordinates "right" of that direction is below the line (larger y).
DOOR = ((100.0, 200.0), (300.0, 200.0))
IN_, OUT_ = Direction.IN, Direction.OUT


@pytest.mark.parametrize(
    ("inside", "path", "expected"),
    [
        ("right", [(200, 150), (200, 250)], [(), (IN_,)]),  # down: into the right side
        ("right", [(200, 250), (200, 150)], [(), (OUT_,)]),
        ("left", [(200, 150), (200, 250)], [(), (OUT_,)]),
        ("left", [(200, 250), (200, 150)], [(), (IN_,)]),
        ("right", [(200, 150), (200, 250), (200, 150)], [(), (IN_,), (OUT_,)]),
        ("right", [(150, 150), (250, 150)], [(), ()]),  # parallel to the line
        ("right", [(150, 200), (250, 200)], [(), ()]),  # along the line itself
        ("right", [(50, 150), (50, 250)], [(), ()]),  # beyond the left end
        ("right", [(350, 150), (350, 250)], [(), ()]),  # beyond the right end
        ("right", [(350, 150), (350, 250), (200, 250)], [(), (), ()]),  # around the end
        ("right", [(350, 250), (200, 150)], [(), (OUT_,)]),  # diagonal back through it
        ("right", [(200, 150), (200, 200), (200, 250)], [(), (), (IN_,)]),  # stops on it
        ("right", [(200, 150), (200, 200), (200, 150)], [(), (), ()]),  # touches, goes back
        ("right", [(90, 150), (310, 250)], [(), (IN_,)]),  # diagonal through the middle
        ("right", [(200, 150), (200, 180), (200, 199)], [(), (), ()]),  # approaches only
    ],
)
def test_crossings(
    inside: str,
    path: list[tuple[float, float]],
    expected: list[tuple[Direction, ...]],
) -> None:
    det = LineCrossingDetector([LineConfig(name="door", points=DOOR, inside=inside)])
    got = [tuple(c.direction for c in det.update(1, p)) for p in path]
    assert got == expected


def test_tracks_are_independent_and_forgotten() -> None:
    det = LineCrossingDetector([LineConfig(name="door", points=DOOR, inside="right")])
    det.update(1, (200, 150))
    det.update(2, (200, 250))
    assert det.update(1, (200, 250)) == (LineCrossing("door", Direction.IN),)
    assert det.update(2, (200, 150)) == (LineCrossing("door", Direction.OUT),)
    det.forget(1)
    assert det.tracks == {2}
    assert det.update(1, (200, 150)) == ()  # a fresh start, not a crossing


def test_several_lines_and_normalized() -> None:
    lines = [
        LineConfig(name="a", points=((0.25, 0.0), (0.25, 1.0)), inside="left", normalized=True),
        LineConfig(name="b", points=((0.75, 0.0), (0.75, 1.0)), inside="right", normalized=True),
    ]
    # vertical lines drawn downwards: "left" (image) is the larger-x side
    det = LineCrossingDetector(lines, frame_size=(400, 100))
    det.update(5, (50, 50))
    assert det.update(5, (390, 50)) == (
        LineCrossing("a", Direction.IN),
        LineCrossing("b", Direction.OUT),
    )


def test_for_camera_and_errors() -> None:
    cam = CameraConfig(
        id="c",
        source="v.mp4",
        resolution=(100, 100),
        lines=[{"name": "d", "points": [(0, 0.5), (1, 0.5)], "normalized": True}],
    )
    det = LineCrossingDetector.for_camera(cam)
    det.update(1, (50, 40))
    assert det.update(1, (50, 60)) == (LineCrossing("d", Direction.OUT),)  # default inside=left
    with pytest.raises(ValueError, match="line 'd' is normalized"):
        LineCrossingDetector(cam.lines)
    with pytest.raises(ValueError, match="finite"):
        det.update(1, (np.nan, 3))
