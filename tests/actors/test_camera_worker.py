"""CameraWorker on real footage with in-process models, feeding the real identity core.

The Ray path is covered in tests/e2e; here the same worker logic runs in this process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mcvision.actors.camera import BufferSink, CameraWorker, LocalModels, shrink
from mcvision.config import SiteConfig, parse_config
from mcvision.demo import write_trimmed_copy
from mcvision.identity.site import SiteIdentity
from support import frames_accounted

T0 = 1_764_000_000.0


@pytest.fixture(scope="module")
def clip(assets: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clip") / "first60.mp4"
    return write_trimmed_copy(assets / "footage" / "one-by-one-person-detection.mp4", out, 60.0)


def site_for(clip: Path, root: Path, **cams: Any) -> SiteConfig:
    return parse_config(
        {
            "site_id": "t",
            "cameras": [{"id": "cam", "source": str(clip), "fps": 5, **cams}],
            "storage": {"root": str(root)},
            "runtime": {"frames_per_batch": 4},
        }
    )


def test_shrink_keeps_aspect_and_scale() -> None:
    import numpy as np

    img = np.zeros((1080, 1920, 3), np.uint8)
    small, scale = shrink(img, 640)
    assert small.shape == (360, 640, 3) and scale == pytest.approx(1 / 3)
    same, s1 = shrink(np.zeros((100, 50, 3), np.uint8), 640)
    assert same.shape == (100, 50, 3) and s1 == 1.0


def test_worker_one_id_per_person_on_real_footage(clip: Path, tmp_path: Path) -> None:
    cfg = site_for(clip, tmp_path / "store")
    sink = BufferSink()
    worker = CameraWorker(cfg, "cam", LocalModels(cfg), sink, start_ts=T0)
    stats = worker.run()
    assert stats.status == "ended"
    assert frames_accounted(stats, read=300)  # 60 s at 5 fps, each detected or skipped
    updates = [u for b in sink.batches for u in b]
    # ReID runs per track, not per frame: far fewer embeddings than tracked boxes.
    live = [u for u in updates if not u.ended]
    assert 0 < stats.embeddings < len(live) / 3
    assert all(T0 <= u.ts < T0 + 60 for u in updates)
    # Three people walk through one after another (see tests/tracking/test_tracker.py).
    core = SiteIdentity(cfg)
    for b in sink.batches:
        core.ingest(b)
    core.close()
    rows = core.store.sql("SELECT global_id, in_ts, out_ts FROM visits ORDER BY in_ts")
    assert len(rows) == 3
    assert [round(r["in_ts"] - T0) for r in rows] == pytest.approx([7, 23, 51], abs=2)


def test_missing_source_is_an_event_not_a_crash(tmp_path: Path) -> None:
    cfg = site_for(tmp_path / "nope.mp4", tmp_path / "store")
    sink = BufferSink()

    class NoModels:
        def detect(self, frames):  # pragma: no cover - never reached
            raise AssertionError("no frames expected")

    worker = CameraWorker(cfg, "cam", NoModels(), sink, start_ts=T0)  # type: ignore[arg-type]
    stats = worker.run()
    assert stats.status == "failed"
    assert sink.statuses[0][:2] == ("cam", "offline")
    assert "video file not found" in sink.statuses[0][2] and "nope.mp4" in sink.statuses[0][2]


def test_faces_opt_in_attach_face_embeddings(assets: Path, tmp_path: Path) -> None:
    frames = assets / "footage" / "PRW_multicam_c1_c3" / "frames"
    base = {
        "site_id": "t",
        "cameras": [{"id": "cam", "source": str(frames), "fps": 1}],
        "storage": {"root": str(tmp_path / "store")},
        "models": {"tracker": {"match_thresh": 0.9}},
    }
    results = {}
    for enabled in (False, True):
        cfg = parse_config({**base, "face": {"enabled": enabled}})
        sink = BufferSink()
        CameraWorker(cfg, "cam", LocalModels(cfg), sink, start_ts=T0).run()
        ups = [u for b in sink.batches for u in b]
        results[enabled] = [u.face_embedding for u in ups if u.face_embedding is not None]
    assert results[False] == []  # off by default: no face is ever looked at
    faces = results[True]
    assert len(faces) >= 1
    assert all(f.shape == (128,) for f in faces)
    assert all(abs(float((f * f).sum()) - 1.0) < 1e-3 for f in faces)


def test_worker_passes_frames_when_a_fall_model_needs_crops(clip: Path, tmp_path: Path) -> None:
    """With ``activity.fall_model`` set, the camera loop hands each frame to the monitor."""
    base = site_for(clip, tmp_path / "store").model_dump(mode="json")
    activity = {"enabled": True, "fall_model": "fall_yolov8_normal_fall.pt"}
    cfg = parse_config({**base, "activity": activity})
    worker = CameraWorker(cfg, "cam", LocalModels(cfg), BufferSink(), start_ts=T0)
    assert worker.activity is not None and worker.activity.needs_images
    shapes: list[tuple[int, ...]] = []
    update = worker.activity.update

    def spy(*args: Any, image: Any = None, **kwargs: Any) -> Any:
        shapes.append(getattr(image, "shape", ()))
        return update(*args, image=image, **kwargs)

    worker.activity.update = spy  # type: ignore[method-assign]
    assert worker.run().frames_read == 300
    assert 100 < len(shapes) <= 300 and set(shapes) == {(432, 768, 3)}  # frames with people


def test_worker_keeps_a_reference_to_its_newest_frame_for_the_live_view(
    assets: Path, tmp_path: Path
) -> None:
    """After each batch the newest processed frame and its tracks are there, undrawn."""
    import numpy as np

    from mcvision.serve.live import encode_jpeg, render

    clip = write_trimmed_copy(
        assets / "footage" / "one-by-one-person-detection.mp4", tmp_path / "first12.mp4", 12.0
    )
    cfg = site_for(clip, tmp_path / "store")
    seen: list[Any] = []

    class Watching(BufferSink):
        def updates(self, updates: list[Any]) -> None:
            super().updates(updates)
            f = worker.newest
            seen.append((f, {u.local_id for u in updates if not u.ended and u.ts == f.ts}))

    worker = CameraWorker(cfg, "cam", LocalModels(cfg), Watching(), start_ts=T0)
    assert worker.newest is None
    worker.run()
    assert seen and worker.newest is not None
    seqs = [f.seq for f, _ in seen]
    assert seqs == sorted(seqs) and len(set(seqs)) > len(seqs) / 2  # one new frame a batch
    with_people = [(f, ids) for f, ids in seen if len(f.boxes)]
    assert with_people  # people walk through the clip
    sent = {u.local_id for b in worker.sink.batches for u in b}
    same = 0
    for f, ids in with_people:
        assert f.camera_id == "cam" and len(f.boxes) == len(f.local_ids) == len(f.activities)
        assert set(f.local_ids.tolist()) <= sent
        same += set(f.local_ids.tolist()) == ids  # the tracks sent for that very frame
    assert same >= len(with_people) / 2
    f = with_people[-1][0]
    before = f.image.copy()
    jpeg = encode_jpeg(render(f, cfg.cameras[0], max_px=480))
    assert jpeg[:2] == b"\xff\xd8" and np.array_equal(f.image, before)


def test_a_looped_file_camera_runs_like_a_live_one(assets: Path, tmp_path: Path) -> None:
    """``loop: true``: the clip plays again after its end, frames stamped by the wall clock,
    until the camera is stopped."""
    import threading
    import time

    clip = write_trimmed_copy(
        assets / "footage" / "one-by-one-person-detection.mp4", tmp_path / "first2.mp4", 2.0
    )
    cfg = site_for(clip, tmp_path / "store", loop=True)
    assert cfg.cameras[0].is_live
    sink = BufferSink()
    worker = CameraWorker(cfg, "cam", LocalModels(cfg), sink, start_ts=T0)
    t0 = time.time()
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (
        worker._source is None or getattr(worker._source, "loops", 0) < 2
    ):
        time.sleep(0.2)
    worker.stop()
    thread.join(timeout=20)
    assert not thread.is_alive() and worker.stats.status == "stopped"
    assert worker._source is not None and worker._source.loops >= 2  # past the end, twice
    assert worker.newest is not None and t0 <= worker.newest.ts <= time.time()
    assert worker.stats.frames > 0 and worker.stats.last_frame_ts is not None
    assert worker.stats.last_frame_ts >= t0  # wall clock, not start_ts + PTS
