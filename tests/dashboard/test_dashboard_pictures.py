"""The dashboard's pictures and live tiles without a browser: heat overlay, path drawing, tiles."""

from __future__ import annotations

import threading
import time

import cv2
import httpx
import live_tiles
import numpy as np
import overlay
import pytest
from client import ApiClient, ApiError

H, W = 180, 320


def picture() -> np.ndarray:
    """A mid-grey picture with a little texture (so blending is visible on it)."""
    img = np.full((H, W, 3), 120, np.uint8)
    img[::8] = 90
    return img


def test_heat_overlay_colours_only_cells_with_points_and_hotter_where_busier() -> None:
    img = picture()
    counts = np.zeros((9, 16), int)
    counts[2, 3] = 1  # a quiet cell
    counts[6, 12] = 40  # the busiest cell
    out = overlay.heat_overlay(img, counts)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert not np.array_equal(out, img) and np.array_equal(img, picture())  # input untouched
    cell_h, cell_w = H // 9, W // 16

    def cell(a: np.ndarray, iy: int, ix: int) -> np.ndarray:
        return a[iy * cell_h + 2 : (iy + 1) * cell_h - 2, ix * cell_w + 2 : (ix + 1) * cell_w - 2]

    assert np.array_equal(cell(out, 0, 0), cell(img, 0, 0))  # empty cells: the picture as it is
    assert np.array_equal(cell(out, 8, 15), cell(img, 8, 15))
    quiet = np.abs(cell(out, 2, 3).astype(int) - cell(img, 2, 3)).mean()
    busy = np.abs(cell(out, 6, 12).astype(int) - cell(img, 6, 12)).mean()
    assert busy > quiet > 5  # a single point still shows; the busy cell changes the most
    hot = cell(out, 6, 12).reshape(-1, 3).mean(axis=0)
    assert hot[0] > hot[2]  # inferno's top end is yellow-white over the grey: more red than blue


def test_heat_overlay_of_no_points_is_the_picture() -> None:
    img = picture()
    assert np.array_equal(overlay.heat_overlay(img, [[0, 0], [0, 0]]), img)


@pytest.mark.parametrize(
    ("image", "counts", "message"),
    [
        (np.zeros((10, 10), np.uint8), [[1]], "H×W×3 uint8"),
        (np.zeros((10, 10, 3), np.float32), [[1]], "H×W×3 uint8"),
        (np.zeros((10, 10, 3), np.uint8), [1, 2], "non-empty 2-D grid"),
        (np.zeros((10, 10, 3), np.uint8), [[1, -2]], ">= 0"),
    ],
)
def test_heat_overlay_refuses_bad_input(image, counts, message) -> None:
    with pytest.raises(ValueError, match=message):
        overlay.heat_overlay(image, counts)


def line_pixels(out: np.ndarray, img: np.ndarray) -> np.ndarray:
    return (out == overlay.PATH_LINE).all(axis=2) & ~(img == overlay.PATH_LINE).all(axis=2)


def test_draw_path_draws_the_line_start_and_end_in_time_order() -> None:
    img = np.zeros((H, W, 3), np.uint8)
    # given out of order: drawn by time, from (0.1, 0.5) to (0.9, 0.5)
    pts = [
        {"ts": 3.0, "x": 0.9, "y": 0.5},
        {"ts": 1.0, "x": 0.1, "y": 0.5},
        {"ts": 2.0, "x": 0.5, "y": 0.5},
    ]
    out = overlay.draw_path(img, pts)
    assert not img.any()  # input untouched
    row = round(0.5 * (H - 1))
    on_line = line_pixels(out, img)[row - 1 : row + 2].any(axis=0)
    assert on_line[int(0.3 * W) : int(0.7 * W)].all()  # the line runs between the points
    assert not on_line[: int(0.05 * W)].any() and not on_line[int(0.95 * W) :].any()
    start = out[row, round(0.1 * (W - 1))]
    end = out[row, round(0.9 * (W - 1))]
    assert tuple(start) == overlay.PATH_START and tuple(end) == overlay.PATH_END
    assert not line_pixels(out, img)[: row - 20].any()  # nothing far above the line


def test_draw_path_leaves_time_gaps_undrawn() -> None:
    img = np.zeros((H, W, 3), np.uint8)
    pts = [(0.0, 0.1, 0.2), (1.0, 0.3, 0.2), (60.0, 0.7, 0.8), (61.0, 0.9, 0.8)]
    out = overlay.draw_path(img, pts, gap_s=10.0)
    drawn = line_pixels(out, img)
    assert drawn[round(0.2 * (H - 1)) - 1 : round(0.2 * (H - 1)) + 2].any()  # first stretch
    assert drawn[round(0.8 * (H - 1)) - 1 : round(0.8 * (H - 1)) + 2].any()  # second stretch
    mid_row = round(0.5 * (H - 1))
    assert not drawn[mid_row - 3 : mid_row + 3, round(0.5 * (W - 1))].any()  # no jump across
    joined = line_pixels(overlay.draw_path(img, pts, gap_s=100.0), img)
    assert joined[
        mid_row - 3 : mid_row + 3, round(0.5 * (W - 1)) - 3 : round(0.5 * (W - 1)) + 4
    ].any()


def test_draw_path_of_no_points_is_the_picture_and_bad_points_are_refused() -> None:
    img = picture()
    assert np.array_equal(overlay.draw_path(img, []), img)
    with pytest.raises(ValueError, match="normalized"):
        overlay.draw_path(img, [(0.0, 640.0, 360.0)])


def test_decode_jpeg_gives_rgb_and_names_bad_bytes() -> None:
    bgr = np.zeros((20, 30, 3), np.uint8)
    bgr[..., 2] = 255  # red in OpenCV's BGR
    ok, buf = cv2.imencode(".jpg", bgr)
    assert ok
    rgb = overlay.decode_jpeg(buf.tobytes())
    assert rgb.shape == (20, 30, 3) and rgb[..., 0].mean() > 240 and rgb[..., 2].mean() < 15
    with pytest.raises(ValueError, match="not a readable image"):
        overlay.decode_jpeg(b"<html>")


# ---- live tiles ---------------------------------------------------------------------
JPEG = b"\xff\xd8\xff\xe0" + b"0" * 20


def snapshots(status: int | None, body: bytes = JPEG) -> ApiClient:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/cameras/door/snapshot"
        if status is None:
            return httpx.Response(200, content=body, headers={"content-type": "image/jpeg"})
        return httpx.Response(status, json={"detail": f"status {status}"})

    return ApiClient("http://api.test", transport=httpx.MockTransport(handler), key="")


STATUS = {"camera_id": "door", "status": "online", "people_in_view": 3, "fps": 4.96}


def test_a_tile_with_a_frame() -> None:
    t = live_tiles.tile(STATUS, snapshots(None).snapshot)
    assert (t.camera_id, t.jpeg, t.message) == ("door", JPEG, None)
    assert t.caption == "online · 3 in view · 5.0 fps" and not t.no_pipeline


@pytest.mark.parametrize(
    ("status", "needle", "no_pipeline"),
    [
        (409, "No pipeline is running", True),
        (503, "has no frame yet", False),
        (404, "not known to the API", False),
        (500, "HTTP 500: status 500", False),
    ],
)
def test_a_tile_without_a_frame_says_why(status: int, needle: str, no_pipeline: bool) -> None:
    t = live_tiles.tile(STATUS, snapshots(status).snapshot)
    assert t.jpeg is None and needle in (t.message or "") and t.no_pipeline is no_pipeline


def test_a_snapshot_that_is_not_a_jpeg_is_an_api_error() -> None:
    with pytest.raises(ApiError, match="not a JPEG"):
        snapshots(None, body=b"<html>proxy login</html>").snapshot("door")


def test_captions_leave_out_what_is_unknown() -> None:
    assert live_tiles.caption({"camera_id": "a"}) == "unknown"
    assert live_tiles.caption({"status": "failed", "reason": "cannot open rtsp://x"}) == (
        "failed · cannot open rtsp://x"
    )
    assert live_tiles.element_key("heatmap", "cam 1/a") == "heatmap-cam_1_a"


def test_tiles_keep_the_camera_order_while_fetching_together() -> None:
    inside = []
    lock = threading.Lock()

    def snapshot(cam: str) -> bytes:
        with lock:
            inside.append(cam)
        time.sleep(0.2 if cam == "a" else 0.0)  # the first camera answers last
        return cam.encode()

    statuses = [{"camera_id": c, "status": "online"} for c in ("a", "b", "c")]
    got = live_tiles.tiles(statuses, snapshot)
    assert [t.camera_id for t in got] == ["a", "b", "c"]
    assert [t.jpeg for t in got] == [b"a", b"b", b"c"] and sorted(inside) == ["a", "b", "c"]


def test_a_snapshot_waits_longer_than_a_json_route() -> None:
    seen: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"]["read"])
        raise httpx.ReadTimeout("slow", request=request)

    api = ApiClient("http://api.test", transport=httpx.MockTransport(handler), key="")
    with pytest.raises(ApiError, match=r"no answer within 20 s"):
        api.snapshot("door")
    with pytest.raises(ApiError, match=r"no answer within 5 s"):
        api.cameras()
    assert seen == [20.0, 5.0]
