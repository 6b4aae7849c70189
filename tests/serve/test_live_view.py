"""The live camera view: drawing (no Ray), the snapshot and the MJPEG stream over real HTTP."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from mcvision.config import ApiConfig, SiteConfig, parse_config
from mcvision.serve import live as lv
from mcvision.summarize.blur import FaceBlurrer
from seed import api_server, seed_store

W, H = 1920, 1080
BOX = (800.0, 300.0, 1000.0, 900.0)


def camera_cfg() -> SiteConfig:
    return parse_config(
        {
            "site_id": "s",
            "cameras": [
                {
                    "id": "cam1",
                    "source": "x.mp4",
                    "zones": [
                        {
                            "name": "promo",
                            "polygon": [[0.1, 0.1], [0.4, 0.1], [0.4, 0.5]],
                            "normalized": True,
                        }
                    ],
                    "lines": [{"name": "door", "points": [[0, 1000], [1900, 1000]]}],
                }
            ],
        }
    )


def noise(seed: int = 0) -> np.ndarray:
    """Blocks of 8 px of random colour: their detail survives shrinking to half size."""
    small = np.random.default_rng(seed).integers(0, 255, (H // 8, W // 8, 3), dtype=np.uint8)
    return cv2.resize(small, (W, H), interpolation=cv2.INTER_NEAREST)


def frame(seq: int = 1, image: np.ndarray | None = None) -> lv.LiveFrame:
    return lv.LiveFrame(
        camera_id="cam1",
        seq=seq,
        ts=1000.0 + seq,
        image=noise() if image is None else image,
        boxes=np.array([BOX], np.float32),
        local_ids=np.array([7]),
        activities=("walking",),
    )


def head_std(img: np.ndarray, scale: float) -> float:
    x1, y1, x2, y2 = (np.array(BOX) * scale).astype(int)
    head = img[y1 + 4 : y1 + int(0.18 * (y2 - y1)), x1 + 4 : x2 - 4]
    return float(head.std())


def test_render_caps_size_draws_overlays_and_leaves_the_frame_alone() -> None:
    cam = camera_cfg().cameras[0]
    f = frame(image=np.zeros((H, W, 3), np.uint8))
    out = lv.render(f, cam, {7: "20261124-000042"}, blur=None, max_px=960)
    assert out.shape == (540, 960, 3)
    assert not f.image.any()  # the camera's frame is never drawn on
    x1, y1, _, y2 = (np.array(BOX) / 2).astype(int)
    assert (out[y1 + 20 : y2 - 20, x1] == lv._BOX).all(axis=1).any()  # the box edge
    assert (
        (out[int(0.1 * 540) + 10 : int(0.5 * 540) - 10, int(0.4 * 960)] == lv._ZONE)
        .all(axis=1)
        .any()
    )  # the zone's vertical edge at x = 0.4
    assert (out[500, 100:900] == lv._LINE).all(axis=1).mean() > 0.9  # the door line at y=1000
    label = out[max(0, y1 - 20) : y1, x1 : x1 + 120]
    assert (label == lv._BOX).all(axis=2).sum() > 30  # the label text above the box
    small = lv.render(f, cam, max_px=4000)
    assert small.shape == (H, W, 3)  # never enlarged


def test_render_blurs_heads_when_asked() -> None:
    cam = camera_cfg().cameras[0]
    blurrer = FaceBlurrer(None)  # the head-region fallback only: deterministic

    def blur(img: np.ndarray, boxes: np.ndarray, kps: np.ndarray | None) -> np.ndarray:
        return blurrer.apply(img, boxes=boxes, keypoints=kps)

    plain = lv.render(frame(), cam, blur=None, max_px=960)
    hidden = lv.render(frame(), cam, blur=blur, max_px=960)
    assert head_std(plain, 0.5) > 50 and head_std(hidden, 0.5) < 0.3 * head_std(plain, 0.5)


def region_cover(face: np.ndarray, regions: np.ndarray) -> float:
    """Fraction of ``face`` (x1, y1, x2, y2) inside the union of ``regions``."""
    x1, y1, x2, y2 = np.rint(face[:4]).astype(int).tolist()
    mask = np.zeros((max(1, y2 - y1), max(1, x2 - x1)), bool)
    for a, b, c, d in np.rint(regions).astype(int):
        mask[max(0, b - y1) : max(0, d - y1), max(0, a - x1) : max(0, c - x1)] = True
    return float(mask.mean())


def test_tracked_blur_hides_every_boxed_head_seen_or_not() -> None:
    """No detector at all: the top quarter of every box, and a keypoint head lower down."""
    img = noise()
    boxes = np.array([BOX, (100.0, 200.0, 300.0, 700.0)], np.float32)
    kps = np.zeros((2, 17, 3), np.float32)
    kps[1, :5] = [[200, 500, 0.9]] * 5  # the second person bends: head halfway down
    blurrer = FaceBlurrer(None)
    out = blurrer.apply_tracked(img, boxes, kps, search_px=320)
    assert not np.array_equal(out, img) and np.array_equal(img, noise())  # a copy
    assert head_std(out, 1.0) < 0.3 * head_std(img, 1.0)
    bent = (slice(480, 520), slice(180, 220))
    assert out[bent].std() < 0.3 * img[bent].std()  # the keypoint head, below the top quarter
    below = (slice(int(300 + 0.3 * 600), 880), slice(810, 990))
    assert np.array_equal(out[below], img[below])  # the rest of the body is left alone
    regions = blurrer.tracked_regions(img, boxes, kps)
    assert region_cover(np.array([800, 300, 1000, 450]), regions) == 1.0  # the top quarter
    assert np.array_equal(FaceBlurrer(None, enabled=False).apply_tracked(img, boxes), img)


#: Frames of the footage where YuNet (full size and 2x) finds a real face.
FACE_FRAMES = (240, 270, 360, 435, 690, 750, 765, 855, 1350)


def test_tracked_blur_covers_every_face_the_full_detector_finds(assets: Path) -> None:
    """The live view's cheap blur (heads of the real detector's person boxes and one
    320 px YuNet pass) hides every face that the summaries' full search finds."""
    from mcvision.config import DetectorConfig
    from mcvision.vision.detector import PersonDetector

    cap = cv2.VideoCapture(str(assets / "footage" / "one-by-one-person-detection.mp4"))
    images = []
    for i in FACE_FRAMES:
        cap.set(cv2.CAP_PROP_POS_FRAMES, i)
        ok, img = cap.read()
        assert ok
        images.append(img)
    cap.release()
    people = PersonDetector.from_config(DetectorConfig()).detect(images)
    full = FaceBlurrer()
    assert full.has_detector
    faces = 0
    for img, dets in zip(images, people, strict=True):
        found = full.detect(img)
        regions = full.tracked_regions(img, dets.xyxy, None, search_px=320)
        for face in found:
            faces += 1
            assert region_cover(face, regions) >= 0.9, (face, regions)
    assert faces >= len(FACE_FRAMES)
    # Without person boxes the small search alone still finds the larger faces.
    alone = sum(len(full.detect_small(img, 320)) for img in images)
    assert 0 < alone < faces


def test_short_ids() -> None:
    assert lv.short_id("20261124-000042") == "42"
    assert lv.short_id("g_0007") == "7" and lv.short_id("abc") == "abc"


def test_jpeg_decodes() -> None:
    img = lv.render(frame(), camera_cfg().cameras[0], max_px=640)
    back = cv2.imdecode(np.frombuffer(lv.encode_jpeg(img), np.uint8), cv2.IMREAD_COLOR)
    assert back is not None and back.shape == img.shape


def test_jpeg_cache_draws_each_frame_once_for_every_viewer() -> None:
    seq = [1]
    fetched: list[int] = []
    drawn: list[int] = []

    def fetch(camera_id: str, after: int) -> lv.LiveFrame | None:
        fetched.append(after)
        return None if seq[0] == after else frame(seq[0])

    def draw(f: lv.LiveFrame) -> bytes:
        time.sleep(0.05)  # viewers arriving meanwhile wait for this one
        drawn.append(f.seq)
        return b"jpeg%d" % f.seq

    cache = lv.JpegCache(fetch, draw)
    got: list[Any] = []
    viewers = [threading.Thread(target=lambda: got.append(cache.newest("cam1"))) for _ in range(4)]
    for v in viewers:
        v.start()
    for v in viewers:
        v.join()
    assert got == [(1, b"jpeg1")] * 4 and drawn == [1]
    assert fetched.count(-1) == 1 and fetched.count(1) == 3  # the frame crossed once
    assert cache.newest("cam1", after_seq=1) is None  # this viewer has it
    assert cache.newest("cam1") == (1, b"jpeg1")  # a snapshot still gets it
    seq[0] = 2
    assert cache.newest("cam1", after_seq=1) == (2, b"jpeg2") and drawn == [1, 2]
    assert cache.drawn == 2


def test_jpeg_cache_hands_out_a_young_jpeg_without_asking_the_camera() -> None:
    now = [0.0]
    fetched: list[int] = []

    def fetch(camera_id: str, after: int) -> lv.LiveFrame:
        fetched.append(after)
        return frame(int(now[0] * 30) + 1)  # a 30 fps camera: always a newer frame

    cache = lv.JpegCache(fetch, lambda f: b"%d" % f.seq, max_age_s=0.1, clock=lambda: now[0])
    for _ in range(20):  # 20 viewers within the same 0.1 s
        assert cache.newest("cam1") == (1, b"1")
    assert len(fetched) == 1
    assert cache.newest("cam1", after_seq=1) is None  # that viewer has it: wait for a newer
    now[0] = 0.15
    assert cache.newest("cam1", after_seq=1) == (5, b"5") and cache.drawn == 2


def test_stream_paces_and_stops_when_disconnected() -> None:
    """With a fake clock: at most fps parts per second, the same frame never twice."""
    now = [0.0]
    calls: list[int] = []

    async def newest(last: int) -> tuple[int, bytes] | None:
        calls.append(last)
        seq = int(now[0] * 30)  # a 30 fps camera
        return None if seq == last else (seq, b"jpeg%d" % seq)

    async def disconnected() -> bool:
        return now[0] >= 10.0

    async def main() -> list[bytes]:
        real_sleep = asyncio.sleep

        async def fake_sleep(s: float) -> None:
            now[0] += s
            await real_sleep(0)

        asyncio.sleep = fake_sleep  # type: ignore[assignment]
        try:
            return [
                p async for p in lv.mjpeg_stream(newest, 5.0, disconnected, clock=lambda: now[0])
            ]
        finally:
            asyncio.sleep = real_sleep  # type: ignore[assignment]

    parts = asyncio.run(main())
    assert 48 <= len(parts) <= 51  # 10 s at 5 fps
    assert all(p.startswith(f"--{lv.BOUNDARY}\r\nContent-Type: image/jpeg".encode()) for p in parts)
    assert len(calls) == len(parts)  # drawn only as often as sent


class FakeLive:
    """A running site's live state: a 30 fps camera whose newest frame changes all the time."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.asked = 0
        self.sent = 0
        self.lock = threading.Lock()
        self.image = noise(1)

    def newest_frame(self, camera_id: str, after_seq: int = -1) -> lv.LiveFrame | None:
        with self.lock:
            self.asked += 1
        seq = int((time.monotonic() - self.t0) * 30)
        if seq == after_seq:
            return None
        with self.lock:
            self.sent += 1
        return lv.LiveFrame(
            camera_id=camera_id,
            seq=seq,
            ts=time.time(),
            image=self.image,
            boxes=np.array([BOX], np.float32),
            local_ids=np.array([3]),
        )

    def global_ids(self, camera_id: str, local_ids: list[int]) -> dict[int, str]:
        return {i: f"20261124-{i:06d}" for i in local_ids}

    def occupancy(self) -> dict[str, Any]:
        return {"in_store": 0, "global_ids": [], "ts": None}

    def cameras(self) -> dict[str, dict[str, Any]]:
        return {}

    def reset(self, ts: float | None = None) -> int:
        return 0

    def batch_stats(self) -> dict[str, Any]:
        return {}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return seed_store(tmp_path_factory.mktemp("live-view"))


def site(seeded: dict[str, Any], **api: Any) -> SiteConfig:
    return seeded["cfg"].model_copy(update={"api": ApiConfig(**api)})


@pytest.fixture(autouse=True)
def _no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MCVISION_READ_KEY", raising=False)
    monkeypatch.delenv("MCVISION_API_KEY", raising=False)


def test_snapshot_is_a_jpeg_capped_in_size(seeded: dict[str, Any]) -> None:
    cfg = site(seeded, live_max_px=800)
    cam = cfg.cameras[0].id
    with api_server(cfg, seeded["store"], live=FakeLive()) as url:
        r = httpx.get(f"{url}/api/v1/cameras/{cam}/snapshot", timeout=20)
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
        img = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
        assert img is not None and max(img.shape[:2]) == 800
        assert head_std(img, 800 / W) < 20  # faces blurred by default (the picture's std ~70)
        for path in ("/api/v1/cameras/nope/snapshot", "/api/v1/cameras/nope/live"):
            r = httpx.get(url + path, timeout=10)
            assert r.status_code == 404 and "nope" in r.json()["detail"]
    allowed = cfg.model_copy(
        update={"summaries": cfg.summaries.model_copy(update={"blur_faces": False})}
    )
    with api_server(allowed, seeded["store"], live=FakeLive()) as url:
        r = httpx.get(f"{url}/api/v1/cameras/{cam}/snapshot", timeout=20)
        img = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
        assert head_std(img, 800 / W) > 50  # the site allows faces


def test_without_a_pipeline_the_live_routes_say_so(seeded: dict[str, Any]) -> None:
    cam = seeded["cfg"].cameras[0].id
    with api_server(seeded["cfg"], seeded["store"]) as url:
        for kind in ("snapshot", "live"):
            r = httpx.get(f"{url}/api/v1/cameras/{cam}/{kind}", timeout=10)
            assert r.status_code == 409 and "mcvision run" in r.json()["detail"]


def test_live_stream_is_mjpeg_capped_in_fps_and_stops_with_the_client(
    seeded: dict[str, Any],
) -> None:
    cfg = site(seeded, live_fps=5.0, live_max_px=480)
    cam = cfg.cameras[0].id
    fake = FakeLive()
    seconds = 3.0
    with api_server(cfg, seeded["store"], live=fake) as url:
        buf = b""
        with httpx.stream("GET", f"{url}/api/v1/cameras/{cam}/live", timeout=20) as r:
            assert r.status_code == 200
            ctype = r.headers["content-type"]
            assert ctype == f"multipart/x-mixed-replace; boundary={lv.BOUNDARY}"
            t0 = time.monotonic()
            for chunk in r.iter_bytes():
                buf += chunk
                if time.monotonic() - t0 >= seconds:
                    break
        elapsed = time.monotonic() - t0
        parts = buf.split(f"--{lv.BOUNDARY}\r\n".encode())[1:]
        assert 0.5 * seconds * 5 <= len(parts) <= elapsed * 5 + 2  # the 5 fps cap holds
        body = parts[0].split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n", 1)[0]
        img = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
        assert img is not None and max(img.shape[:2]) == 480
        time.sleep(1.0)  # the server notices the client has gone
        before = fake.asked
        time.sleep(1.5)
        assert fake.asked == before  # nothing is drawn for nobody


def test_viewers_of_one_camera_share_its_drawn_frames(seeded: dict[str, Any]) -> None:
    """Three viewers and a snapshot of one 30 fps camera: at most 2 x live_fps frames a
    second cross from the camera (and are drawn), however many watch."""
    cfg = site(seeded, live_fps=5.0, live_max_px=320)
    cam = cfg.cameras[0].id
    fake = FakeLive()
    seconds = 3.0
    parts = [0, 0, 0]

    def watch(i: int) -> None:
        with httpx.stream("GET", f"{url}/api/v1/cameras/{cam}/live", timeout=20) as r:
            t0 = time.monotonic()
            for chunk in r.iter_bytes():
                parts[i] += chunk.count(f"--{lv.BOUNDARY}".encode())
                if time.monotonic() - t0 >= seconds:
                    return

    with api_server(cfg, seeded["store"], live=fake) as url:
        viewers = [threading.Thread(target=watch, args=(i,)) for i in range(3)]
        t0 = time.monotonic()
        for v in viewers:
            v.start()
        snap = httpx.get(f"{url}/api/v1/cameras/{cam}/snapshot", timeout=20)
        for v in viewers:
            v.join()
        elapsed = time.monotonic() - t0
    assert snap.status_code == 200
    assert min(parts) >= 0.5 * seconds * 5  # every viewer got its frames
    assert fake.sent <= 2 * 5 * elapsed + 2 < sum(parts)  # drawn once, shared


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="per-thread niceness is Linux-only")
def test_live_pool_threads_run_at_a_lower_priority_than_the_server() -> None:
    def nice_of_this_thread() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    base = nice_of_this_thread()
    pool = lv.low_priority_pool(5, workers=2)
    try:
        got = {pool.submit(nice_of_this_thread).result() for _ in range(4)}
    finally:
        pool.shutdown()
    assert got == {min(base + 5, 19)}
    assert nice_of_this_thread() == base  # the caller's own priority is untouched
    same = lv.low_priority_pool(0, workers=1)
    try:
        assert same.submit(nice_of_this_thread).result() == base
    finally:
        same.shutdown()


def test_face_search_runs_at_most_every_interval_per_camera() -> None:
    seen: list[tuple[int, ...]] = []

    def search(img: np.ndarray) -> np.ndarray:
        seen.append(img.shape)
        return np.array([[len(seen), 0, 10, 10, 0.9]], np.float32)

    fs = lv.FaceSearch(search, every_s=0.5)
    small, big = np.zeros((90, 160, 3), np.uint8), np.zeros((180, 320, 3), np.uint8)
    assert fs.faces("a", 10.0, small)[0, 0] == 1
    assert fs.faces("a", 10.4, small)[0, 0] == 1  # reused: younger than 0.5 s
    assert fs.faces("b", 10.4, small)[0, 0] == 2  # another camera has its own
    assert fs.faces("a", 10.5, small)[0, 0] == 3  # 0.5 s on: searched again
    assert fs.faces("a", 3.0, small)[0, 0] == 4  # a frame from before (a looped file)
    assert fs.faces("a", 3.1, big)[0, 0] == 5  # another picture size
    assert fs.searches == 5 == len(seen)
    every = lv.FaceSearch(search, every_s=0.0)
    for ts in (1.0, 1.0, 1.1):
        every.faces("a", ts, small)
    assert every.searches == 3
    with pytest.raises(ValueError, match="every_s"):
        lv.FaceSearch(search, every_s=-1)


def test_reused_faces_are_blurred_without_a_new_search() -> None:
    img = np.random.default_rng(0).integers(0, 255, (120, 160, 3), np.uint8)
    blurrer = FaceBlurrer(None)
    faces = np.array([[100, 20, 130, 50, 0.9]], np.float32)
    out = blurrer.apply_tracked(img, np.zeros((0, 4), np.float32), None, faces=faces)
    assert out[30:40, 110:120].std() < img[30:40, 110:120].std() / 2  # the face is blurred
    assert np.array_equal(out[80:, :60], img[80:, :60])  # the rest is not
