"""The floor routes over real HTTP, over the seeded shop put on a floor plan (``floor_seed``).

Expected numbers come from the store's own track points and zones: the fixture
places every aisle zone inside one floor area and the whole entrance view in another.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from floor_seed import AREAS, floor_config
from seed import api_server, seed_store

DAY = "2026-03-10"
CUSTOMERS = "visit_id NOT IN (SELECT visit_id FROM visits WHERE is_staff)"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("floor-api")
    seeded = seed_store(root)
    seeded["floor_cfg"] = floor_config(seeded["cfg"], root)
    return seeded


@pytest.fixture(scope="module")
def url(seeded: dict[str, Any]) -> Iterator[str]:
    with api_server(seeded["floor_cfg"], seeded["store"]) as url:
        yield url


def get(url: str, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{url}/api/v1{path}", params=params, timeout=30.0)


def ok(url: str, path: str, **params: Any) -> Any:
    r = get(url, path, **params)
    assert r.status_code == 200, r.text
    return r.json()


def raw_count(store: Any, where: str) -> int:
    rows = store.sql(
        f"SELECT count(*) AS n FROM track_points WHERE day = $day AND {CUSTOMERS} AND {where}",
        {"day": DAY},
        day=DAY,
    )
    return int(rows[0]["n"])


def test_plan_describes_picture_areas_and_cameras(url: str) -> None:
    plan = ok(url, "/floor/plan")
    assert plan["has_image"] and (plan["image_width_px"], plan["image_height_px"]) == (600, 500)
    assert plan["extent_m"] == pytest.approx([0, 0, 12, 10])
    assert [c["camera_id"] for c in plan["cameras"]] == ["aisle", "entrance"]
    assert all(c["ok"] and c["mean_error_m"] < 0.01 for c in plan["cameras"])
    assert list(plan["uncalibrated"]) == ["till"]
    assert [a["name"] for a in plan["areas"]] == list(AREAS)
    img = get(url, "/floor/plan/image")
    assert img.status_code == 200 and img.headers["content-type"] == "image/png"
    pic = cv2.imdecode(np.frombuffer(img.content, np.uint8), cv2.IMREAD_COLOR)
    assert pic.shape[:2] == (500, 600)


def test_floor_heatmap_combines_the_calibrated_cameras(url: str, seeded: dict[str, Any]) -> None:
    store = seeded["store"]
    hm = ok(url, "/floor/heatmap", day=DAY, cell_m=1.0)
    assert (hm["x0_m"], hm["y0_m"], hm["columns"], hm["rows"]) == (0.0, 0.0, 12, 10)
    n_entrance = raw_count(store, "camera_id = 'entrance'")
    n_aisle = raw_count(store, "camera_id = 'aisle'")
    assert n_entrance > 0 and n_aisle > 0
    assert hm["cameras"] == {"aisle": n_aisle, "entrance": n_entrance}
    assert hm["total"] == n_entrance + n_aisle and hm["outside"] == 0
    counts = np.array(hm["counts"])
    assert counts.sum() == hm["total"]
    assert counts[:4].sum() == n_entrance  # the entrance sees y 0..4 m only
    assert counts[4:, 8:].sum() == 0  # nobody east of the aisle camera's view
    assert "till" in hm["uncalibrated"]
    staff_day = ok(url, "/floor/heatmap", day="2026-03-09", cell_m=1.0, include_staff=True)
    assert staff_day["total"] == ok(url, "/floor/heatmap", day="2026-03-09", cell_m=1.0)["total"]


def test_occupancy_by_area_matches_the_zones_it_contains(url: str, seeded: dict[str, Any]) -> None:
    store = seeded["store"]
    occ = ok(url, "/floor/occupancy", day=DAY, bucket="1h")
    by = {a["area"]: a for a in occ["areas"]}
    assert list(by) == list(AREAS)
    assert by["entry"]["samples"] == raw_count(store, "camera_id = 'entrance'")
    assert by["shelves"]["samples"] == raw_count(store, "camera_id = 'aisle' AND zone = 'shelves'")
    assert by["promo"]["samples"] == raw_count(
        store, "camera_id = 'aisle' AND (zone = 'promo' OR zone IS NULL)"
    )
    (shelf_visitors,) = store.sql(
        f"SELECT count(DISTINCT global_id) AS n FROM track_points WHERE day = $day AND {CUSTOMERS}"
        " AND camera_id = 'aisle' AND zone = 'shelves'",
        {"day": DAY},
        day=DAY,
    )
    assert by["shelves"]["visitors"] == shelf_visitors["n"]
    assert occ["outside_samples"] == 0 and occ["bucket_s"] == 3600
    # every seeded sample is 2 s apart within a leg: a shelves stay of n samples dwells 2(n-1) s
    assert by["shelves"]["dwell_s"] > 0 and by["shelves"]["peak_visitors"] >= 1


def test_route_across_cameras_in_order(url: str) -> None:
    route = ok(url, "/visitors/G2/floor_route", day=DAY)
    assert route["cameras"] == ["entrance", "aisle", "till", "entrance"]
    assert [leg["calibrated"] for leg in route["legs"]] == [True, True, False, True]
    ts = [p["ts"] for p in route["points"]]
    assert ts == sorted(ts) and len(ts) == sum(leg["floor_points"] for leg in route["legs"])
    first, last = route["points"][0], route["points"][-1]
    assert first["cameras"] == ["entrance"] and first["y_m"] < 4
    assert last["cameras"] == ["entrance"] and last["y_m"] < 4
    on_aisle = [p for p in route["points"] if p["cameras"] == ["aisle"]]
    assert on_aisle and all(4 <= p["y_m"] <= 10 and p["x_m"] < 4 for p in on_aisle)  # shelves
    assert list(route["uncalibrated"]) == ["till"]
    assert route["length_m"] > 0


@pytest.mark.parametrize(
    ("path", "params", "status", "words"),
    [
        ("/visitors/G999/floor_route", {"day": DAY}, 404, "'G999'"),
        ("/visitors/G2/floor_route", {"day": "2026-3-10"}, 422, "day"),
        ("/floor/heatmap", {"cell_m": 0}, 422, "cell_m"),
        ("/floor/heatmap", {"cell_m": 0.001}, 422, "too small"),
        ("/floor/occupancy", {"bucket": "soon"}, 422, "bucket"),
    ],
)
def test_bad_requests_name_the_problem(
    url: str, path: str, params: dict[str, Any], status: int, words: str
) -> None:
    r = get(url, path, **params)
    assert r.status_code == status, r.text
    assert words in r.text


def test_without_calibrated_cameras_the_floor_is_409(seeded: dict[str, Any]) -> None:
    with api_server(seeded["cfg"], seeded["store"]) as url:
        for path in (
            "/floor/plan",
            "/floor/heatmap",
            "/floor/occupancy",
            "/visitors/G2/floor_route",
        ):
            r = get(url, path)
            assert r.status_code == 409, (path, r.text)
            detail = r.json()["detail"]
            assert "no camera is calibrated" in detail and "cameras[].floor" in detail
        assert get(url, "/floor/plan/image").status_code == 404


def test_without_areas_occupancy_is_409_and_a_broken_picture_503(
    seeded: dict[str, Any], tmp_path: Path
) -> None:
    cfg = floor_config(seeded["cfg"], tmp_path, areas=False)
    Path(cfg.floor_plan.image).write_bytes(b"\x89PNG broken")
    with api_server(cfg, seeded["store"]) as url:
        r = get(url, "/floor/occupancy", day=DAY)
        assert r.status_code == 409 and "floor_plan.areas" in r.json()["detail"]
        img = get(url, "/floor/plan/image")
        assert img.status_code == 503 and "plan.png" in img.json()["detail"]
        plan = ok(url, "/floor/plan")
        assert not plan["has_image"] and "not a readable image" in plan["image_error"]
        assert ok(url, "/floor/heatmap", day=DAY)["total"] > 0  # the grid follows the data
