"""Staff: enrolment from images (real detector + ReID), matching, marking through the API."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from mcvision.analytics import queries as q
from mcvision.config import EMBEDDER_THRESHOLDS, DetectorConfig, ReIDConfig
from mcvision.identity.staff import StaffRegistry, mark_staff_in_store, visits_of
from mcvision.serve.api import API_KEY_ENV, create_app
from seed import seed_store

KEY = "k3y"


def region(img: np.ndarray, box: tuple[int, int, int, int], pad: int = 60) -> np.ndarray:
    x1, y1, x2, y2 = box
    h, w = img.shape[:2]
    return img[max(0, y1 - pad) : min(h, y2 + pad), max(0, x1 - pad) : min(w, x2 + pad)].copy()


RETAIL = "reid_openvino/person-reidentification-retail-0286"
# (embedder, staff threshold): OSNet at a hand value, retail-0286 at its own default
EMBEDDERS = {
    "osnet": (ReIDConfig(backend="onnx", weights="osnet_x0_25_msmt17.onnx"), 0.7),
    "retail0286": (
        ReIDConfig(backend="openvino", weights=RETAIL),
        EMBEDDER_THRESHOLDS["person-reidentification-retail-0286"]["staff.match_threshold"],
    ),
}


@pytest.fixture(scope="module", params=sorted(EMBEDDERS))
def models(request: pytest.FixtureRequest, assets: Path) -> tuple[object, object, float]:
    from mcvision.vision.detector import PersonDetector
    from mcvision.vision.reid import build_reid

    det = PersonDetector.from_config(
        DetectorConfig(weights=str(assets / "models" / "yolo11n_int8_openvino_model"))
    )
    cfg, threshold = EMBEDDERS[request.param]
    return det, build_reid(cfg), threshold


def test_enrol_folder_and_match(assets: Path, models: tuple, tmp_path: Path) -> None:
    frames = assets / "footage" / "PRW_multicam_c1_c3" / "frames"
    f1 = cv2.imread(str(frames / "c1s1_002326.jpg"))
    f2 = cv2.imread(str(frames / "c1s1_014901.jpg"))
    folder = tmp_path / "staff"
    (folder / "anna").mkdir(parents=True)
    cv2.imwrite(str(folder / "anna" / "1.jpg"), region(f1, (773, 446, 871, 731)))
    cv2.imwrite(str(folder / "ben.jpg"), region(f2, (832, 350, 1084, 960), pad=0))
    cv2.imwrite(str(folder / "empty.png"), np.full((300, 200, 3), 127, np.uint8))
    (folder / "broken.jpg").write_bytes(b"not an image")
    det, reid, threshold = models
    reg = StaffRegistry(tmp_path / "db", dim=reid.dim, match_threshold=threshold)
    res = {Path(r.path).name: r for r in reg.enrol_folder(folder, det, reid)}  # type: ignore[arg-type]
    assert {n: (r.staff_id, r.ok) for n, r in res.items()} == {
        "1.jpg": ("anna", True),
        "ben.jpg": ("ben", True),
        "empty.png": ("empty", False),
        "broken.jpg": ("broken", False),
    }
    assert res["empty.png"].reason == "no person found"
    assert res["broken.jpg"].reason == "not a readable image"
    assert reg.staff() == ["anna", "ben"] and reg.count() == 2
    # the same woman in another frame is anna; the man in black is nobody
    anna_again = reid.embed([f2[438:834, 1097:1233]])  # type: ignore[attr-defined]
    hit = reg.match(anna_again[0])
    assert hit is not None and hit[0] == "anna" and hit[1] >= threshold
    stranger = reid.embed([f2[399:922, 630:837]])  # type: ignore[attr-defined]
    assert reg.match(stranger[0]) is None
    assert reg.remove("ben") == 1 and reg.staff() == ["anna"]


def test_enrol_folder_errors(tmp_path: Path) -> None:
    reg = StaffRegistry("memory://", dim=4)
    with pytest.raises(FileNotFoundError, match="staff folder not found"):
        reg.enrol_folder(tmp_path / "nope", None, None)  # type: ignore[arg-type]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no images"):
        reg.enrol_folder(tmp_path / "empty", None, None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="staff_id"):
        reg.enrol_vectors("", [[1.0, 0, 0, 0]])


def test_mark_in_store_excludes_from_summary(tmp_path: Path) -> None:
    seeded = seed_store(tmp_path)
    store, day = seeded["store"], seeded["days"][0]
    exp = seeded["expected"][day]
    before = q.day_summary(store, day)
    assert before.unique_visitors == exp["unique_visitors"]
    gid = next(
        r["global_id"]
        for r in store.sql(
            "SELECT global_id FROM visits WHERE NOT is_staff ORDER BY in_ts", day=day
        )
    )
    everyone = q.day_summary(store, day, include_staff=True).unique_visitors
    n = mark_staff_in_store(store, gid)
    assert n == len(visits_of(store, gid)) >= 1
    after = q.day_summary(store, day)
    assert after.unique_visitors == before.unique_visitors - 1
    assert q.day_summary(store, day, include_staff=True).unique_visitors == everyone
    with pytest.raises(KeyError, match="no visits"):
        mark_staff_in_store(store, "nobody")


def test_staff_route(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seeded = seed_store(tmp_path)
    store, day = seeded["store"], seeded["days"][1]
    monkeypatch.setenv(API_KEY_ENV, KEY)
    client = TestClient(create_app(seeded["cfg"], store=store))
    gid = next(
        r["global_id"]
        for r in store.sql(
            "SELECT global_id FROM visits WHERE NOT is_staff ORDER BY in_ts", day=day
        )
    )
    before = client.get("/api/v1/summary", params={"day": day}).json()["unique_visitors"]
    n_visits = len(visits_of(store, gid))  # every day's visits of that ID
    r = client.post("/api/v1/admin/staff", json={"global_id": gid}, headers={"X-API-Key": KEY})
    assert r.status_code == 200, r.text
    assert r.json() == {"global_id": gid, "visits_flagged": n_visits, "live": False}
    after = client.get("/api/v1/summary", params={"day": day}).json()["unique_visitors"]
    assert after == before - 1
    r = client.post("/api/v1/admin/staff", json={"global_id": "nobody"}, headers={"X-API-Key": KEY})
    assert r.status_code == 404
    r = client.post("/api/v1/admin/staff", json={"global_id": "a b"}, headers={"X-API-Key": KEY})
    assert r.status_code == 422


class FakeLive:
    def __init__(self) -> None:
        self.marked: list[str] = []

    def occupancy(self) -> dict:
        return {}

    def cameras(self) -> dict:
        return {}

    def reset(self, ts: float | None = None) -> int:
        return 0

    def batch_stats(self) -> dict:
        return {}

    def mark_staff(self, global_id: str) -> int:
        self.marked.append(global_id)
        return 2


def test_staff_route_reaches_the_live_pipeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded = seed_store(tmp_path)
    monkeypatch.setenv(API_KEY_ENV, KEY)
    live = FakeLive()
    client = TestClient(create_app(seeded["cfg"], live=live, store=seeded["store"]))
    r = client.post("/api/v1/admin/staff", json={"global_id": "G7"}, headers={"X-API-Key": KEY})
    assert r.json() == {"global_id": "G7", "visits_flagged": 2, "live": True}
    assert live.marked == ["G7"]
