"""Learned activity models: input contracts, known sequences of real keypoints, the hybrid.

Contract tests build keypoints by hand and need no weights. The rest run the real ONNX
models from the assets and the real pose model on the first seconds of UP-Fall subject-1
clips (trial 2, side view: held out from the hybrid's tuning on trial 1), at 9 fps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mcvision.config import parse_config
from mcvision.types import Detections
from mcvision.vision.activity import (
    ActivityMonitor,
    HybridClassifier,
    LabelSmoother,
    Observation,
    build_classifier,
    classifier_needs_keypoints,
)
from mcvision.vision.activity.learned import (
    NFDHead,
    PostureLSTM,
    StandingFallHead,
    nfd_features,
    posture_features,
    resample,
    standing_fall_features,
)

CLIPS = Path("footage/har/upfall_subject1")


def person(
    x: float = 300.0, top: float = 100.0, h: float = 300.0, score: float = 0.9
) -> np.ndarray:
    """(17, 3) keypoints of an upright person ``h`` px tall, centred at ``x``."""
    kp = np.zeros((17, 3), np.float32)
    kp[:, 2] = score
    ys = {
        0: 0.05,
        5: 0.2,
        6: 0.2,
        7: 0.35,
        8: 0.35,
        9: 0.48,
        10: 0.48,
        11: 0.52,
        12: 0.52,
        13: 0.75,
        14: 0.75,
        15: 1.0,
        16: 1.0,
    }
    for j in range(17):
        side = -1 if j % 2 else 1
        kp[j, 0] = x + side * 0.07 * h * (j >= 5)
        kp[j, 1] = top + ys.get(j, 0.05) * h
    return kp


def obs(ts: float, kp: np.ndarray, size: tuple[int, int] = (640, 480)) -> Observation:
    x0, y0 = kp[:, :2].min(axis=0)
    x1, y1 = kp[:, :2].max(axis=0)
    return Observation(
        ts=ts,
        box=np.array([x0 - 10, y0 - 10, x1 + 10, y1 + 5], np.float32),
        keypoints=kp,
        frame_size=size,
    )


# ---- contracts (no weights) ------------------------------------------------------------------
def test_resample_holds_the_newest_frame_and_pads_with_the_first() -> None:
    h = [obs(t, person()) for t in (10.0, 10.5, 11.0)]
    got = [o.ts for o in resample(h, 5, 2.0)]
    assert got == [10.0, 10.0, 10.0, 10.5, 11.0]  # 9.0 and 9.5 are before the history
    with pytest.raises(ValueError, match="empty"):
        resample([], 3, 1.0)


def test_posture_input_is_hip_relative_with_missing_joints_at_zero() -> None:
    a = posture_features([obs(0, person(x=200))])
    b = posture_features([obs(0, person(x=450, top=150))])
    assert a.shape == (1, 20)
    np.testing.assert_allclose(a, b, atol=1e-4)  # the same pose anywhere in the frame
    kp = person()
    kp[13, 2] = 0.2  # left knee at the training filter's threshold: missing
    f = posture_features([obs(0, kp)])[0].reshape(10, 2)
    hip = kp[[11, 12], :2].mean(axis=0)
    np.testing.assert_allclose(f[6], -hip, atol=1e-4)  # (0, 0) minus the mid-hip
    np.testing.assert_allclose(f[4], kp[11, :2] - hip, atol=1e-4)


def test_standing_fall_input_is_absolute_at_640_wide() -> None:
    kp = person(x=300)
    f = standing_fall_features([obs(0, kp)])[0].reshape(12, 2)
    np.testing.assert_allclose(f, kp[5:17, :2], atol=1e-4)  # absolute, joints 5-16
    moved = standing_fall_features([obs(0, person(x=400))])[0]
    assert not np.allclose(moved, f.reshape(-1))  # position matters, unlike the posture input
    big = kp.copy()
    big[:, :2] *= 2
    f2 = standing_fall_features([obs(0, big, size=(1280, 960))])[0].reshape(12, 2)
    np.testing.assert_allclose(f2, f, atol=1e-3)  # a 1280 px frame is scaled to 640


def test_nfd_features_follow_the_package_layout() -> None:
    kp = person(x=320, top=120, h=240)
    o = obs(0, kp)
    f = nfd_features(o)
    assert f.shape == (60,) and f.dtype == np.float32
    x1, y1, x2, y2 = o.box / [640, 480, 640, 480]
    cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
    np.testing.assert_allclose(f[0:2], [(320 / 640 - cx) / w, (kp[0, 1] / 480 - cy) / h], atol=1e-5)
    np.testing.assert_allclose(f[34:51], 0.9, atol=1e-6)  # scores
    np.testing.assert_allclose(f[51:56], [cx, cy, w, h, w / h], atol=1e-5)
    np.testing.assert_allclose(
        f[56:59], [kp[5, 1] / 480, kp[11, 1] / 480, kp[15, 1] / 480], atol=1e-5
    )
    assert f[59] == 1.0  # every joint visible
    with pytest.raises(ValueError, match="frame size"):
        nfd_features(Observation(ts=0, box=o.box, keypoints=kp))


def test_smoother_holds_fallen_while_lying_and_keeps_onsets() -> None:
    s = LabelSmoother(min_s=2.0, period_s=1.0)
    out = [
        s.update(t, lab)
        for t, lab in enumerate(["standing", "fallen", "lying", "lying", "standing", "standing"])
    ]
    assert out == ["standing", "fallen", "fallen", "fallen", "fallen", "standing"]
    assert s.onset == 4  # standing took over at 5, after starting at 4
    first = LabelSmoother()
    assert [first.update(t, "lying") for t in range(3)] == ["lying"] * 3  # first seen lying


def test_monitor_batches_due_tracks_and_keeps_the_classifier_history() -> None:
    calls: list[int] = []
    lengths: list[float] = []

    class Batching:
        history_s = 3.0

        def classify(self, window: Any) -> str:
            raise AssertionError("the monitor should batch")

        def classify_batch(self, windows: Any) -> list[str]:
            calls.append(len(windows))
            lengths.extend(w[-1].ts - w[0].ts for w in windows)
            return ["standing"] * len(windows)

    mon = ActivityMonitor(Batching())  # type: ignore[arg-type]
    for i in range(26):
        t = i / 5
        boxes = np.array([[0, 0, 40, 100], [100, 0, 140, 100], [200, 0, 240, 100]], np.float32)
        mon.update(t, Detections(xyxy=boxes, tracker_id=np.array([1, 2, 3])))
    assert calls and set(calls) == {3}  # one batch of three tracks per tick
    assert max(lengths) == pytest.approx(3.0)  # the classifier's history, not window_s


def test_without_pose_a_learned_classifier_config_runs_the_rules() -> None:
    assert classifier_needs_keypoints("hybrid") and not classifier_needs_keypoints("rules")
    cfg = parse_config(
        {
            "site_id": "s",
            "cameras": [{"id": "c", "source": "a.mp4"}],
            "activity": {"enabled": True, "classifier": "hybrid"},
        }
    )
    mon = ActivityMonitor.from_config(cfg.activity, keypoints=False)
    assert type(mon.classifier).__name__ == "RuleClassifier"


# ---- real models on real keypoints --------------------------------------------------------------
def clip_history(assets: Path, name: str, seconds: float, fps: float = 9.0) -> list[Observation]:
    """The tallest person's keypoints in the clip's first ``seconds`` at ``fps`` (real pose)."""
    import cv2

    pose = _poser()
    cap = cv2.VideoCapture(str(assets / CLIPS / name))
    src_fps = cap.get(cv2.CAP_PROP_FPS)
    step = max(1, round(src_fps / fps))
    out: list[Observation] = []
    i = 0
    while i < seconds * src_fps:
        ok, img = cap.read()
        if not ok:
            break
        if i % step == 0:
            [d] = pose.estimate([img])
            if len(d):
                j = int(np.argmax(d.xyxy[:, 3] - d.xyxy[:, 1]))
                out.append(
                    Observation(
                        ts=i / src_fps,
                        box=d.xyxy[j],
                        keypoints=d.keypoints[j],
                        frame_size=(img.shape[1], img.shape[0]),
                    )
                )
        i += 1
    cap.release()
    assert out, f"no person found in {name}"
    return out


_POSER: list[Any] = []


def _poser() -> Any:
    from mcvision.vision.pose import PoseEstimator

    if not _POSER:
        _POSER.append(PoseEstimator())
    return _POSER[0]


@pytest.fixture(scope="module")
def real(assets: Path) -> dict[str, list[Observation]]:
    return {
        "sitting": clip_history(assets, "Activity8/Subject1/Trial2Cam1.mp4", 3.0),
        "standing": clip_history(assets, "Activity7/Subject1/Trial2Cam1.mp4", 3.0),
        "lying": clip_history(assets, "Activity11/Subject1/Trial2Cam1.mp4", 3.0),
        "fall": clip_history(assets, "Activity1/Subject1/Trial2Cam1.mp4", 5.0),  # onset 0.8 s
        "pickup": clip_history(assets, "Activity9/Subject1/Trial2Cam1.mp4", 4.0),
    }


@pytest.mark.assets
@pytest.mark.slow
def test_posture_lstm_names_real_postures(real: dict[str, list[Observation]]) -> None:
    model = PostureLSTM()
    hists = [real["standing"], real["sitting"], real["lying"]]
    x = model.inputs(hists)
    assert x.shape == (3, 30, 20) and x.dtype == np.float32
    p = model.predict(hists)
    assert p.shape == (3, 3)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-4)
    assert p.argmax(axis=1).tolist() == [0, 1, 2]  # standing, sitting (chair), lying (bed)
    singles = np.concatenate([model.predict([h]) for h in hists])
    np.testing.assert_allclose(singles, p, atol=1e-5)  # a batch gives each track its own answer


@pytest.mark.assets
@pytest.mark.slow
def test_standing_fall_head_sees_the_real_fall_and_not_standing(
    real: dict[str, list[Observation]],
) -> None:
    model = StandingFallHead()
    after_fall = [o for o in real["fall"] if o.ts <= 2.0]  # the descent was 0.8-1.5 s
    assert model.inputs([after_fall]).shape == (1, 60, 24)
    p_fall, p_stand = model.predict([after_fall, real["standing"]]).tolist()
    assert p_fall >= 0.5 > p_stand


@pytest.mark.assets
@pytest.mark.slow
def test_nfd_head_calls_a_real_standing_person_normal(real: dict[str, list[Observation]]) -> None:
    model = NFDHead()
    assert model.inputs([real["standing"]]).shape == (1, 32, 60)
    p = model.predict([real["standing"], real["lying"]])
    assert p.shape == (2, 4)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-4)
    assert int(p[0].argmax()) == 0  # normal


def replay(clf: Any, hist: list[Observation]) -> list[tuple[float, str | None]]:
    mon = ActivityMonitor(clf)
    out = []
    for o in hist:
        dets = Detections(xyxy=o.box[None], tracker_id=np.array([1]), keypoints=o.keypoints[None])
        out.append((o.ts, mon.update(o.ts, dets, frame_size=o.frame_size)[1]))
    return out


@pytest.mark.assets
@pytest.mark.slow
def test_hybrid_on_real_clips_fall_lying_pickup_sitting(real: dict[str, list[Observation]]) -> None:
    clf = build_classifier("hybrid")
    assert isinstance(clf, HybridClassifier)
    fall = replay(clf, real["fall"])
    alert = next(t for t, lab in fall if lab == "fallen")
    assert 0.8 <= alert <= 0.8 + 3.0  # within 3 s of the onset
    assert fall[-1][1] == "fallen"  # and held while they lie there
    lying = [lab for _, lab in replay(clf, real["lying"]) if lab]
    assert lying and "fallen" not in lying and lying[-1] == "lying"  # on purpose: no alert
    assert "bending" in [lab for _, lab in replay(clf, real["pickup"])]
    assert replay(clf, real["sitting"])[-1][1] == "sitting"


def test_a_track_born_where_one_was_just_lost_takes_over_its_history() -> None:
    class Long:
        history_s = 3.0

        def classify(self, window: Any) -> str:
            return "standing"

    mon = ActivityMonitor(Long(), succession_s=1.5)  # type: ignore[arg-type]
    tall = np.array([[300, 100, 360, 400]], np.float32)
    for i in range(10):  # track 1 standing for 2 s
        mon.update(i / 5, Detections(xyxy=tall, tracker_id=np.array([1])))
    down = np.array([[200, 330, 480, 400]], np.float32)  # lost; a new track on the floor
    mon.update(2.4, Detections(xyxy=down, tracker_id=np.array([2])))
    assert mon.successions == 1 and 1 not in mon.tracks
    assert len(mon.tracks[2].window) == 11  # the upright frames came along
    far = np.array([[0, 0, 30, 60]], np.float32)  # someone elsewhere starts afresh
    mon.update(2.6, Detections(xyxy=far, tracker_id=np.array([3])))
    assert mon.successions == 1 and len(mon.tracks[3].window) == 1
    plain = ActivityMonitor(Long())  # type: ignore[arg-type]  # off by default
    plain.update(0.0, Detections(xyxy=tall, tracker_id=np.array([1])))
    plain.update(0.4, Detections(xyxy=down, tracker_id=np.array([2])))
    assert plain.successions == 0
