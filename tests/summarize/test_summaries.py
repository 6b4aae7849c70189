"""Summaries on real footage: evidence recording → highlights, keyframes, storyboards, digest.

The first 40 s of ``one-by-one-person-detection.mp4`` run at 5 fps through
CameraWorker + LocalModels (with pose and activity) + SiteIdentity with
``record: true``; the day's summaries are then made from the recording and the store.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from mcvision.actors.camera import CameraWorker, LocalModels
from mcvision.analytics.store import EventStore
from mcvision.config import SiteConfig, parse_config
from mcvision.demo import write_trimmed_copy
from mcvision.identity.site import SiteIdentity
from mcvision.summarize import list_media, summarize_day
from mcvision.summarize.blur import FaceBlurrer
from mcvision.summarize.evidence import read_evidence, segments
from mcvision.types import TrackletUpdate

T0 = 1_767_600_000.0  # 2026-01-05 08:00 UTC
DAY = "2026-01-05"


class CoreSink:
    def __init__(self, core: SiteIdentity) -> None:
        self.core = core
        self.seen: list[TrackletUpdate] = []

    def updates(self, updates: list[TrackletUpdate]) -> None:
        self.core.ingest(updates)
        self.seen.extend(updates)

    def status(self, camera_id: str, status: str, ts: float, reason: str) -> None:
        self.core.camera_status(camera_id, status, ts, reason)

    def stats(self, camera_id: str, stats: dict[str, Any]) -> None:
        pass


@pytest.fixture(scope="module")
def run(assets: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("summ")
    clip = write_trimmed_copy(
        assets / "footage" / "one-by-one-person-detection.mp4", root / "clip.mp4", 40.0
    )
    cfg = parse_config(
        {
            "site_id": "shop",
            "cameras": [
                {
                    "id": "cam",
                    "source": str(clip),
                    "fps": 5,
                    "record": True,
                    "zones": [
                        {
                            "name": "floor",
                            "polygon": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]],
                            "normalized": True,
                        }
                    ],
                }
            ],
            "storage": {"root": str(root / "data")},
            "reset": {"timezone": "UTC"},
            "runtime": {"frames_per_batch": 4},
            "models": {"pose": {"enabled": True}},
            "activity": {"enabled": True},
            "recording": {"width": 640, "fps": 5},
        }
    )
    core = SiteIdentity(cfg)
    sink = CoreSink(core)
    stats = CameraWorker(cfg, "cam", LocalModels(cfg), sink, start_ts=T0).run()
    core.close()
    result = summarize_day(cfg, DAY)
    return {
        "cfg": cfg,
        "clip": clip,
        "stats": stats,
        "result": result,
        "root": root,
        "updates": sink.seen,
    }


def test_evidence_recording_has_every_frame_with_boxes(run: dict[str, Any]) -> None:
    cfg: SiteConfig = run["cfg"]
    [(_, header)] = segments(cfg.storage.root, "cam")
    assert header["width"] == 640 and header["height"] == 360
    assert header["scale"] == pytest.approx(640 / 768)
    frames = list(read_evidence(cfg.storage.root, "cam", T0, T0 + 100))
    assert len(frames) == run["stats"].frames_read == 200  # 40 s at 5 fps, gated or not
    assert frames[0].image.shape == (360, 640, 3)
    seen_ts = {round(u.ts, 3) for u in run["updates"] if not u.ended}
    boxed_ts = {round(f.ts, 3) for f in frames if len(f.boxes)}
    assert boxed_ts == seen_ts


def test_activity_labels_reach_updates_and_store(run: dict[str, Any]) -> None:
    labels = [u.activity for u in run["updates"] if not u.ended and u.activity]
    assert len(labels) > 50
    assert set(labels) <= {"walking", "standing", "browsing", "sitting", "bending", "fallen"}
    store = EventStore.from_config(run["cfg"])
    rows = store.sql(
        "SELECT activity, sum(dwell_s) AS s FROM activities GROUP BY activity", day=DAY
    )
    assert rows and sum(r["s"] for r in rows) > 5.0


def test_highlight_is_shorter_and_keeps_every_frame_with_a_person(run: dict[str, Any]) -> None:
    [h] = run["result"].highlights
    assert h.path is not None and h.path.exists()
    assert h.frames_in == 200 and 0 < h.frames_out < h.frames_in
    assert set(h.active_ts) <= set(h.kept_ts) and len(h.active_ts) > 0
    cap = cv2.VideoCapture(str(h.path))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    assert n == h.frames_out
    src = cv2.VideoCapture(str(run["clip"]))
    src_s = src.get(cv2.CAP_PROP_FRAME_COUNT) / src.get(cv2.CAP_PROP_FPS)
    src.release()
    assert n / run["cfg"].recording.fps < src_s


def test_keyframes_are_distinct_and_written(run: dict[str, Any]) -> None:
    kfs = run["result"].keyframes
    assert len(kfs) >= 2
    assert all(k.path is not None and k.path.exists() for k in kfs)
    assert len({k.frame_ts for k in kfs}) == len(kfs)
    imgs = [cv2.imread(str(k.path)) for k in kfs]
    for a, b in itertools.pairwise(imgs):
        assert float(np.mean(cv2.absdiff(a, b))) > 1.0
    assert any(r.startswith("visit_start") for k in kfs for r in k.reasons)


def test_storyboards_have_one_crop_per_camera_seen(run: dict[str, Any]) -> None:
    store = EventStore.from_config(run["cfg"])
    visits = {v["visit_id"]: v for v in store.sql("SELECT * FROM visits", day=DAY)}
    boards = run["result"].storyboards
    assert len(boards) == len(visits) > 0
    for b in boards:
        assert b.cameras == sorted(visits[b.visit_id]["cameras"])  # one camera here
        assert b.path is not None and b.path.exists()
        assert "dwell" in b.caption and b.global_id in b.caption


def test_digest_and_media_listing(run: dict[str, Any]) -> None:
    text = run["result"].digest
    store = EventStore.from_config(run["cfg"])
    n = store.sql("SELECT count(DISTINCT global_id) AS n FROM visits", day=DAY)[0]["n"]
    assert f"Visitors: {n} " in text and "Peak occupancy" in text
    media = list_media(run["cfg"], DAY)
    assert f"{DAY}/highlights/cam.mp4" in media and f"{DAY}/digest.txt" in media
    assert len(media) == len(run["result"].files)


def test_a_detected_face_is_blurred(assets: Path) -> None:
    """A frame of the video where YuNet finds a face: its variance drops after blurring."""
    cap = cv2.VideoCapture(str(assets / "footage" / "one-by-one-person-detection.mp4"))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 270)
    ok, img = cap.read()
    cap.release()
    assert ok
    blur = FaceBlurrer()
    assert blur.has_detector
    faces = blur.detect(img)
    assert len(faces) >= 1
    x1, y1, x2, y2 = (int(v) for v in faces[0, :4])
    out = blur.apply(img)
    before = float(img[y1:y2, x1:x2].astype(np.float64).var())
    after = float(out[y1:y2, x1:x2].astype(np.float64).var())
    assert after < 0.5 * before  # only the coarse light/dark layout is left

    def detail(im: np.ndarray) -> float:  # variance of the Laplacian: fine detail
        grey = cv2.cvtColor(im[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY)
        return float(cv2.Laplacian(grey, cv2.CV_64F).var())

    assert detail(out) < 0.05 * detail(img)
    assert len(FaceBlurrer().detect(out)) < len(faces)  # the blurred face is not found again
    assert np.array_equal(out[300:, :200], img[300:, :200])  # elsewhere untouched
    assert np.array_equal(FaceBlurrer(enabled=False).apply(img), img)


def test_highlight_frames_have_heads_blurred(run: dict[str, Any]) -> None:
    """Head regions of tracked boxes are smoother in the highlight than in the recording."""
    cfg = run["cfg"]
    [h] = run["result"].highlights
    rec = {round(f.ts, 3): f for f in read_evidence(cfg.storage.root, "cam", T0, T0 + 100)}
    cap = cv2.VideoCapture(str(h.path))
    drops = []
    for ts in h.kept_ts:
        ok, img = cap.read()
        assert ok
        f = rec[round(ts, 3)]
        for x1, y1, x2, y2 in f.boxes:
            if y2 - y1 < 60 or y1 < 25:
                continue  # small, or under the clock/label drawings
            hx1, hx2 = int(x1) + 3, int(x2) - 3
            hy1, hy2 = int(y1) + 3, int(y1 + 0.18 * (y2 - y1))
            a = f.image[hy1:hy2, hx1:hx2].astype(np.float64).var()
            b = img[hy1:hy2, hx1:hx2].astype(np.float64).var()
            if a > 50:
                drops.append(b / a)
    cap.release()
    assert len(drops) > 10
    assert float(np.median(drops)) < 0.5


def test_evidence_retention_deletes_old_segments(tmp_path: Path) -> None:
    from mcvision.summarize.evidence import EvidenceRecorder
    from mcvision.types import Detections, Frame

    img = np.zeros((48, 64, 3), np.uint8)
    none = Detections.empty().with_fields(tracker_id=np.zeros(0, np.int64))
    rec = EvidenceRecorder(tmp_path, "cam", width=64, fps=5, segment_s=60, retention_days=1)
    rec.write(Frame("cam", 0, T0, img), none)
    rec.write(Frame("cam", 1, T0 + 120, img), none)
    rec.close()
    assert len(segments(tmp_path, "cam")) == 2
    later = T0 + 2 * 86400 + 30
    rec = EvidenceRecorder(tmp_path, "cam", width=64, fps=5, segment_s=60, retention_days=1)
    rec.write(Frame("cam", 2, later, img), none)
    rec.close()
    left = [h["segment_start"] for _, h in segments(tmp_path, "cam")]
    assert left == [later - later % 60]
    assert [f.ts for f in read_evidence(tmp_path, "cam", 0, later + 1)] == [later]
