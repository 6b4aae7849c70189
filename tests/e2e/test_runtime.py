"""The whole pipeline through real Ray, real Serve, real weights and real HTTP.

One local Ray cluster is shared by the module; each test deploys the site's Serve
application, runs its cameras to the end and shuts Serve down again.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest
import ray

from mcvision.analytics.store import EventStore
from mcvision.config import SiteConfig, load_config, parse_config
from mcvision.demo import demo_site, write_trimmed_copy
from mcvision.runner import SiteRunner, init_ray
from seed import free_port
from support import frames_accounted

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
T0 = 1_764_000_000.0  # 2025-11-24 21:30 IST: all of the footage falls on one business day


@pytest.fixture(scope="module")
def footage(assets: Path) -> Path:
    return assets / "footage" / "one-by-one-person-detection.mp4"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Any:
    sizing = parse_config(
        {"site_id": "x", "cameras": [{"id": f"c{i}", "source": f"{i}.mp4"} for i in range(4)]}
    )
    init_ray(sizing)
    yield
    ray.shutdown()


def run_to_end(cfg: SiteConfig, before_stop: Any = None, start_ts: float = T0) -> dict[str, Any]:
    runner = SiteRunner(cfg, start_ts=start_ts)
    runner.start()
    try:
        runner.wait(until_end=True, timeout_s=420)
        ray.get(runner.identity.close.remote())  # flush and close visits, API still up
        extra = before_stop(runner) if before_stop else None
    finally:
        summary = runner.stop()
    summary["extra"] = extra
    return summary


def test_two_cameras_one_global_id_per_person(cluster: Any, footage: Path, tmp_path: Path) -> None:
    """The second camera replays the first 20 s later: three people, each seen on both."""
    path = demo_site(tmp_path, footage, fps=5, max_s=60, delay_s=20, port=free_port())
    cfg = load_config(path)
    cfg = cfg.model_copy(
        update={
            "visits": cfg.visits.model_copy(update={"track_point_every_s": 0.2}),
        }
    )

    def ask_api(runner: SiteRunner) -> dict[str, Any]:
        with httpx.Client(base_url=runner.api_url, timeout=30) as c:
            return {
                "summary": c.get("/api/v1/summary").json(),
                "health": c.get("/api/v1/health").json(),
                "cameras": c.get("/api/v1/cameras").json(),
                "visits": c.get("/api/v1/visits").json(),
                "bad_day": c.get("/api/v1/summary", params={"day": "2025-13-45"}).status_code,
                "bad_dwell": c.get("/api/v1/visits", params={"min_dwell_s": -1}).status_code,
                "snapshot": c.get("/api/v1/cameras/floor/snapshot"),
                "live": first_part(c, "/api/v1/cameras/entrance/live"),
            }

    def first_part(c: httpx.Client, path: str) -> tuple[str, bytes]:
        buf = b""
        with c.stream("GET", path) as r:
            for chunk in r.iter_bytes():
                buf += chunk
                if buf.count(b"\xff\xd9"):  # the end of the first JPEG
                    return r.headers["content-type"], buf
        return r.headers.get("content-type", ""), buf

    summary = run_to_end(cfg, ask_api)
    api = summary["extra"]
    store = EventStore.from_config(cfg)
    visits = store.sql("SELECT global_id, in_ts, out_ts, cameras FROM visits ORDER BY in_ts")
    assert len(visits) == 3
    assert len({v["global_id"] for v in visits}) == 3
    assert all(sorted(v["cameras"]) == ["entrance", "floor"] for v in visits)
    # in/out are the first/last sightings (track points every 0.2 s = every sampled frame)
    spans = store.sql(
        "SELECT global_id, min(ts) AS first, max(ts) AS last FROM track_points GROUP BY global_id"
    )
    by_gid = {r["global_id"]: r for r in spans}
    for v in visits:
        assert v["in_ts"] == pytest.approx(by_gid[v["global_id"]]["first"], abs=0.21)
        assert v["out_ts"] == pytest.approx(by_gid[v["global_id"]]["last"], abs=0.21)
    # People enter at ~7 s, ~23 s and ~51 s of the footage (tests/tracking/test_tracker.py)
    assert [round(v["in_ts"] - T0) for v in visits] == pytest.approx([7, 23, 51], abs=2)
    # The API answers the numbers `mcvision report` prints
    out = subprocess.run(
        [sys.executable, "-m", "mcvision.cli", "report", "--config", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    report = json.loads(out)
    for key in ("unique_visitors", "visits", "closed_visits", "dwell_mean_s", "dwell_median_s"):
        assert api["summary"][key] == report[key], key
    assert api["summary"]["unique_visitors"] == 3
    assert api["health"]["live"] is True
    assert {c["camera_id"]: c["status"] for c in api["cameras"]} == {
        "entrance": "ended",
        "floor": "ended",
    }
    assert api["visits"]["total"] == 3
    assert api["bad_day"] == 422 and api["bad_dwell"] == 422
    # The live view: the camera actors' newest frames, drawn by the API ingress
    import cv2
    import numpy as np

    snap = api["snapshot"]
    assert snap.status_code == 200 and snap.headers["content-type"] == "image/jpeg"
    img = cv2.imdecode(np.frombuffer(snap.content, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None and max(img.shape[:2]) <= cfg.api.live_max_px
    ctype, part = api["live"]
    assert ctype.startswith("multipart/x-mixed-replace; boundary=")
    assert part.startswith(b"--" + ctype.split("boundary=")[1].encode())
    # Motion gating (on by default): every sampled frame of the files is accounted for,
    # detected or skipped with a reason; the floor camera's first 20 s are empty, so it
    # skips frames there, and the replay pacing held it back for the entrance camera (it
    # would race ahead in data time through its empty stretch otherwise).
    for cam, n in (("entrance", 300), ("floor", 400)):
        st = summary["cameras"][cam]
        assert frames_accounted(st, read=n)
        assert st["frames"] == sum(st["processed"].values())
    assert summary["cameras"]["floor"]["frames"] < 400
    assert summary["cameras"]["floor"]["paced_s"] > 0
    by_cam = {c["camera_id"]: c for c in api["cameras"]}
    assert by_cam["floor"]["frames_read"] == 400
    assert by_cam["floor"]["gate"] in ("active", "idle")
    assert by_cam["floor"]["skipped"] == summary["cameras"]["floor"]["skipped"]


def test_four_cameras_batch_on_the_detector(cluster: Any, footage: Path, tmp_path: Path) -> None:
    clip = write_trimmed_copy(footage, tmp_path / "clip.mp4", 20.0)
    cfg = parse_config(
        {
            "site_id": "four",
            "cameras": [{"id": f"cam{i}", "source": str(clip), "fps": 5} for i in range(4)],
            "storage": {"root": str(tmp_path / "store")},
            "gating": {"enabled": False},  # every frame to the detector: 400 items, known
            "runtime": {
                "api_port": free_port(),
                "frames_per_batch": 4,
                "detector": {"max_batch_size": 8, "batch_wait_timeout_s": 0.05},
            },
        }
    )

    def batches(runner: SiteRunner) -> dict[str, Any]:
        return httpx.get(f"{runner.api_url}/api/v1/stats/batches", timeout=30).json()

    stats = run_to_end(cfg, batches)["extra"]
    det = stats["Detector"]
    assert det["items"] == 4 * 100  # 20 s at 5 fps, four cameras
    # One request per camera batch (4 frames); Serve merges several cameras' requests
    # (how often depends on timing: 1.18 requests a batch seen during a full-suite run).
    assert det["max_requests"] > 1 and det["mean_requests"] > 1.1
    assert det["max_requests"] <= 8  # max_batch_size counts requests
    assert 4 < det["max_batch"] <= 8 * 4


def test_bad_sources_are_events_and_the_others_keep_going(
    cluster: Any, footage: Path, tmp_path: Path
) -> None:
    clip = write_trimmed_copy(footage, tmp_path / "clip.mp4", 25.0)
    rtsp = f"rtsp://127.0.0.1:{free_port()}/gone"
    cfg = parse_config(
        {
            "site_id": "bad",
            "cameras": [
                {"id": "good", "source": str(clip), "fps": 5},
                {"id": "missing", "source": str(tmp_path / "missing.mp4"), "fps": 5},
                {"id": "offline", "source": rtsp, "fps": 5},
            ],
            "storage": {"root": str(tmp_path / "store")},
            "runtime": {"api_port": free_port()},
        }
    )
    # A live camera makes the site tick on the wall clock: the files start now too.
    summary = run_to_end(cfg, lambda r: r.camera_stats(), start_ts=time.time())
    cams = summary["extra"]
    good = cams["good"]
    assert good["status"] == "ended" and frames_accounted(good, read=125)
    assert cams["missing"]["status"] == "offline"
    assert "video file not found" in cams["missing"]["reason"]
    assert cams["offline"]["status"] == "offline"
    assert f"cannot open {rtsp}" in cams["offline"]["reason"]
    store = EventStore.from_config(cfg)
    events = store.sql("SELECT kind, camera_id, payload FROM events WHERE kind LIKE 'camera_%'")
    kinds: dict[str, list[str]] = defaultdict(list)
    for e in events:
        kinds[e["camera_id"]].append(e["kind"])
    assert kinds["missing"] == ["camera_offline"]
    assert kinds["offline"] == ["camera_offline"]
    assert "camera_online" in kinds["good"]
    assert store.sql("SELECT count(*) AS n FROM visits")[0]["n"] == 2  # people 1 and 2 in 25 s


def test_pose_and_segmenter_deployments_serve_a_camera(
    cluster: Any, footage: Path, tmp_path: Path
) -> None:
    """Pose keypoints and masks through their Serve deployments: activity labels come out."""
    clip = write_trimmed_copy(footage, tmp_path / "clip.mp4", 20.0)  # the woman, ~7-19 s
    cfg = parse_config(
        {
            "site_id": "posed",
            "cameras": [{"id": "door", "source": str(clip), "fps": 5}],
            "storage": {"root": str(tmp_path / "store")},
            "models": {
                "pose": {"enabled": True},
                "segmenter": {"backend": "yolo-seg", "weights": "yolov8n-seg_int8_320.onnx"},
            },
            "activity": {"enabled": True},
            "gating": {"enabled": False},  # every frame to the detector: 100 items, known
            "runtime": {"api_port": free_port()},
        }
    )

    def batches(runner: SiteRunner) -> dict[str, Any]:
        return httpx.get(f"{runner.api_url}/api/v1/stats/batches", timeout=30).json()

    stats = run_to_end(cfg, batches)["extra"]
    assert stats["Detector"]["items"] == 100  # 20 s at 5 fps
    assert stats["Pose"]["items"] > 20  # frames with a person, sent per camera batch
    assert stats["Pose"]["max_batch"] > 1
    assert stats["Segmenter"]["items"] >= 1  # frames with a track due for ReID
    store = EventStore.from_config(cfg)
    assert len(store.sql("SELECT visit_id FROM visits")) == 1
    acts = store.sql("SELECT activity, end_ts - start_ts AS s FROM activities")
    assert acts and sum(a["s"] for a in acts) > 3.0


def test_sam_segmenter_serves_a_camera_within_its_budget(
    cluster: Any, footage: Path, tmp_path: Path
) -> None:
    """The ONNX SAM on real weights behind the Segmenter deployment, CPU budget applied."""
    clip = write_trimmed_copy(footage, tmp_path / "clip.mp4", 16.0)  # the woman, ~7-16 s
    cfg = parse_config(
        {
            "site_id": "sam",
            "cameras": [{"id": "door", "source": str(clip), "fps": 5}],
            "storage": {"root": str(tmp_path / "store")},
            "identity": {"embed_every_frames": 2},
            "models": {"segmenter": {"backend": "sam", "max_per_second": 0.5}},
            "gating": {"enabled": False},
            "runtime": {"api_port": free_port()},
        }
    )

    def batches(runner: SiteRunner) -> dict[str, Any]:
        return httpx.get(f"{runner.api_url}/api/v1/stats/batches", timeout=30).json()

    summary = run_to_end(cfg, batches)
    seg, cam = summary["extra"]["Segmenter"], summary["cameras"]["door"]
    assert cam["frames"] == 80 and cam["embeddings"] > cam["segmented"]
    # frames with a due track, at most 1 + 0.5 per second of the 16 s
    assert 2 <= seg["items"] == cam["segmented"] <= 9
    store = EventStore.from_config(cfg)
    assert len(store.sql("SELECT visit_id FROM visits")) == 1
