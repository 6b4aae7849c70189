"""Tracker wrapper: synthetic behaviour tables and a real video with the real detector."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest

from mcvision.config import TrackerConfig
from mcvision.tracking.tracker import TRACKERS, Tracker
from mcvision.types import Detections

TYPES = sorted(TRACKERS)


def box(x: float, y: float = 100, w: float = 40, h: float = 120, conf: float = 0.9) -> Detections:
    return Detections(xyxy=np.array([[x, y, x + w, y + h]]), confidence=np.array([conf]))


def cat(*ds: Detections) -> Detections:
    return Detections(
        xyxy=np.concatenate([d.xyxy for d in ds]),
        confidence=np.concatenate([d.confidence for d in ds]),
    )


@pytest.mark.parametrize("kind", TYPES)
def test_two_walkers_keep_their_ids(kind: str) -> None:
    t = Tracker(TrackerConfig(type=kind), fps=10)
    seen: dict[int, list[float]] = defaultdict(list)
    for i in range(30):
        out = t.update(cat(box(50 + 3 * i), box(400 - 3 * i, y=300)))
        for tid, xy in zip(out.tracker_id, out.xyxy, strict=True):
            seen[int(tid)].append(float(xy[1]))
    assert sorted(seen) == [1, 2]
    assert {round(np.mean(v)) for v in seen.values()} == {100, 300}  # no ID swaps
    assert all(len(v) == 30 for v in seen.values())


@pytest.mark.parametrize(("kind", "buffer"), [(k, b) for k in TYPES for b in (5, 12)])
def test_lost_then_ended_after_track_buffer(kind: str, buffer: int) -> None:
    t = Tracker(TrackerConfig(type=kind, track_buffer=buffer), fps=10)
    for i in range(5):
        assert t.update(box(100 + i)).tracker_id.tolist() == [1]
    ended_at = None
    for k in range(1, buffer + 5):
        out = t.update(Detections.empty())
        assert len(out) == 0 and out.tracker_id is not None
        if t.ended_ids():
            ended_at = k
            break
        assert t.lost_ids() == (1,)
    assert ended_at == buffer + 1  # dropped once lost for more than track_buffer frames
    assert t.ended_ids() == (1,)
    assert t.lost_ids() == () and t.active_ids() == ()
    t.update(Detections.empty())
    assert t.ended_ids() == ()  # reported once


@pytest.mark.parametrize("kind", TYPES)
def test_refound_within_buffer_keeps_id(kind: str) -> None:
    t = Tracker(TrackerConfig(type=kind, track_buffer=10), fps=10)
    for i in range(5):
        t.update(box(100 + 2 * i))
    for _ in range(4):
        t.update(Detections.empty())
    assert t.update(box(118)).tracker_id.tolist() == [1]
    assert t.lost_ids() == ()


def test_unconfirmed_flicker_is_not_reported() -> None:
    t = Tracker(TrackerConfig(), fps=10)
    t.update(box(100))
    out = t.update(cat(box(102), box(500, y=300)))  # a one-frame blip appears
    assert out.tracker_id.tolist() == [1]
    t.update(box(104))
    for _ in range(40):
        t.update(box(104))
    assert t.active_ids() == (1,)


def test_rows_and_fields_are_the_detectors() -> None:
    t = Tracker(TrackerConfig(), fps=10)
    emb = np.eye(3, 4, dtype=np.float32)
    for i in range(3):
        d = cat(box(10 + i), box(200 + i), box(400 + i)).with_fields(embedding=emb)
        out = t.update(d)
    assert out.tracker_id.tolist() == [1, 2, 3]
    np.testing.assert_array_equal(out.xyxy, d.xyxy)  # detector boxes, not Kalman boxes
    np.testing.assert_array_equal(out.embedding, emb)


def test_low_confidence_box_does_not_start_a_track() -> None:
    t = Tracker(TrackerConfig(), fps=10)
    for _ in range(5):
        out = t.update(box(100, conf=0.05))
    assert len(out) == 0 and t.active_ids() == ()


@pytest.mark.parametrize("kind", TYPES)
def test_a_weak_box_extends_a_track_but_starts_none(kind: str) -> None:
    """Above track_low_thresh and under track_high_thresh: the second stage only."""
    cfg = TrackerConfig(type=kind, track_high_thresh=0.5, new_track_thresh=0.5)
    t = Tracker(cfg, fps=10)
    for i in range(4):
        t.update(box(100 + 2 * i))
    # the person half hidden: weak boxes keep the track
    for i in range(4, 10):
        assert t.update(box(100 + 2 * i, conf=0.3)).tracker_id.tolist() == [1]
    assert t.lost_ids() == ()
    # the same weak boxes alone, far away, never start a track
    other = Tracker(cfg, fps=10)
    for _ in range(6):
        assert len(other.update(box(400, conf=0.3))) == 0
    assert other.active_ids() == ()
    # under track_low_thresh the box is not even used to extend a track
    low = Tracker(TrackerConfig(type=kind, track_low_thresh=0.35, track_high_thresh=0.5), fps=10)
    for i in range(4):
        low.update(box(100 + 2 * i))
    assert len(low.update(box(108, conf=0.3))) == 0
    assert low.lost_ids() == (1,)


def test_new_track_thresh_gates_new_tracks() -> None:
    strict = Tracker(TrackerConfig(new_track_thresh=0.6), fps=10)
    loose = Tracker(TrackerConfig(), fps=10)
    for _ in range(4):
        out_strict = strict.update(box(100, conf=0.5))
        out_loose = loose.update(box(100, conf=0.5))
    assert len(out_strict) == 0 and out_loose.tracker_id.tolist() == [1]


def test_tracker_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValueError, match=r"track_low_thresh .* must be <= track_high_thresh"):
        TrackerConfig(track_low_thresh=0.5, track_high_thresh=0.3)


@pytest.mark.parametrize(("gmc", "method"), [(False, None), (True, "sparseOptFlow")])
def test_botsort_gmc_switch(gmc: bool, method: str | None) -> None:
    t = Tracker(TrackerConfig(type="botsort", gmc=gmc), fps=10)
    assert t._impl.gmc.method == method
    frame = np.zeros((240, 320, 3), np.uint8)
    for i in range(3):
        out = t.update(box(50 + i, y=50, h=100), frame)
    assert out.tracker_id.tolist() == [1]


def test_finish_and_reset() -> None:
    t = Tracker(TrackerConfig(), fps=10)
    for i in range(3):
        t.update(cat(box(10 + i), box(300 + i)))
    assert t.finish() == (1, 2)
    assert t.active_ids() == ()
    assert t.update(box(10)).tracker_id.tolist() == [1]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"fps": 0}, ValueError, "fps must be > 0"),
        ({"fps": -5}, ValueError, "fps must be > 0"),
    ],
)
def test_bad_arguments(kwargs: dict, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        Tracker(TrackerConfig(), **kwargs)


def test_update_needs_detections() -> None:
    with pytest.raises(TypeError, match="takes Detections, got ndarray"):
        Tracker().update(np.zeros((1, 4)))  # type: ignore[arg-type]


def test_max_lost_s() -> None:
    assert Tracker(TrackerConfig(track_buffer=30), fps=15).max_lost_s == 2.0


# ---- real footage ---------------------------------------------------------------

VIDEO = Path("footage/one-by-one-person-detection.mp4")
SECONDS = 60
STABLE_FRAMES = 20  # 2 s at 10 fps: a person walking through, not a blip


@pytest.fixture(scope="module")
def video_detections(assets: Path) -> list[Detections]:
    """The real detector's boxes for the first 60 s (600 frames), computed once."""
    from mcvision.vision.detector import PersonDetector

    cap = cv2.VideoCapture(str(assets / VIDEO))
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(10.0)
    det = PersonDetector("yolo11n_int8_openvino_model")
    out = []
    for _ in range(int(SECONDS * 10)):
        ok, frame = cap.read()
        assert ok
        out.append(det.detect([frame])[0])
    cap.release()
    return out


@pytest.mark.parametrize("kind", TYPES)
def test_people_walking_through(kind: str, video_detections: list[Detections]) -> None:
    """Three people walk through the first 60 s, one after another.

    Counted by eye from a contact sheet of every 10th frame (with the detector's
    boxes drawn): a woman in a grey cardigan enters at ~7 s and leaves at ~19.5 s;
    the scene is empty until a man in black enters at ~23 s and leaves at ~44.5 s;
    empty again until a long-haired woman in black enters at ~51 s and is still in
    view at 60 s. Never two people at once. So: 3 stable tracks, in that order,
    without overlap, and each gap between people (≥ 3 s) is longer than the
    track buffer, so nobody inherits the previous person's ID.
    """
    t = Tracker(TrackerConfig(type=kind, track_buffer=30), fps=10)
    frames_of: dict[int, list[int]] = defaultdict(list)
    ended: list[int] = []
    for i, d in enumerate(video_detections):
        out = t.update(d)
        for tid in out.tracker_id.tolist():
            frames_of[tid].append(i)
        ended += t.ended_ids()
    stable = {k: v for k, v in frames_of.items() if len(v) >= STABLE_FRAMES}
    assert len(stable) == 3
    spans = sorted((v[0], v[-1]) for v in stable.values())
    assert spans[0][1] < spans[1][0] and spans[1][1] < spans[2][0]  # one after another
    # entry / exit times (frames at 10 fps) within 1.5 s of what the contact sheet shows
    expected = [(70, 195), (230, 445), (510, 599)]
    for (start, end), (exp_start, exp_end) in zip(spans, expected, strict=True):
        assert abs(start - exp_start) <= 15 and abs(end - exp_end) <= 15
    # the first two left and were reported ended; the third is still active
    first_two = [k for k, v in stable.items() if v[-1] < 500]
    assert sorted(ended) == sorted(first_two)
    assert t.active_ids() == tuple(k for k, v in stable.items() if v[-1] >= 500)
