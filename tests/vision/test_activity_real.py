"""Activity labels on real footage, and the Normal/Fall model as a confirmer of ``fallen``.

The one-by-one video (768x432, 10 fps): people come in from the bottom edge, walk away
from the camera to a table, stand there 10-25 s and walk out sideways. Walking in, the
foot point barely moves in the image; the box shrinks/grows instead (the depth cue).

Measured on 90-137 s at 5 fps (detector + ByteTrack + ActivityMonitor, no pose): two
people, labelled person-frames walking 0.14 / standing 0.86 (the speed-only rule, depth
cue off: walking 0.06 — it misses the walk-in of the person at 93 s: image speed
0.11 h/s, depth rate 0.46 /s). Whole video, 6 people: 66 frames walking, 431 standing,
24 warming up; every walk-in is labelled. The fall model gives upright crops Fall
scores of 0 and 90 % of the crops turned 90 degrees ≥ 0.5.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest

from mcvision.capture.pipeline import CameraPipeline
from mcvision.config import parse_config
from mcvision.types import Detections, Frame
from mcvision.vision.activity import (
    ActivityMonitor,
    FallModel,
    Observation,
    RuleClassifier,
    Thresholds,
    crop_person,
)

pytestmark = [pytest.mark.assets, pytest.mark.slow]

VIDEO = Path("footage/one-by-one-person-detection.mp4")
START_S, END_S, STEP = 90.0, 137.0, 2  # 10 fps video, every 2nd frame: 5 fps


@dataclass
class Run:
    """Per track: (ts, box) in order; labels per variant; sample crops of upright people."""

    boxes: dict[int, list[tuple[float, np.ndarray]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    labels: dict[str, dict[int, list[str | None]]] = field(default_factory=dict)
    crops: list[np.ndarray] = field(default_factory=list)


@pytest.fixture(scope="module")
def run(assets: Path) -> Run:
    from mcvision.vision.detector import PersonDetector

    site = parse_config({"site_id": "s", "cameras": [{"id": "c", "source": "v.mp4", "fps": 5}]})
    pipe = CameraPipeline(site.camera("c"), site)
    det = PersonDetector(site.models.detector.weights)
    monitors = {
        "motion": ActivityMonitor(RuleClassifier(Thresholds())),
        "speed_only": ActivityMonitor(RuleClassifier(Thresholds(walk_depth_rate=1e9))),
    }
    out = Run(labels={k: defaultdict(list) for k in monitors})
    cap = cv2.VideoCapture(str(assets / VIDEO))
    cap.set(cv2.CAP_PROP_POS_FRAMES, round(START_S * 10))
    index = round(START_S * 10)
    try:
        while index < END_S * 10:
            ok, image = cap.read()
            if not ok:
                break
            if index % STEP == 0:
                frame = Frame("c", index, index / 10, image)
                [d] = det.detect([image])
                step = pipe.step(frame, d)
                tracked: Detections = step.tracked
                for name, mon in monitors.items():
                    for tid, lab in mon.update(frame.ts, tracked).items():
                        out.labels[name][tid].append(lab)
                for i, tid in enumerate(tracked.tracker_id.tolist() if len(tracked) else []):
                    out.boxes[tid].append((frame.ts, tracked.xyxy[i].copy()))
                if index % 20 == 0 and len(tracked):  # one frame every 2 s
                    big = tracked.xyxy[(tracked.xyxy[:, 3] - tracked.xyxy[:, 1]) > 150]
                    out.crops += crop_person(image, big) if len(big) else []
            index += 1
    finally:
        cap.release()
    return out


def shares(labels: dict[int, list[str | None]]) -> dict[str, float]:
    c = Counter(lab for labs in labels.values() for lab in labs if lab is not None)
    n = sum(c.values())
    return {k: v / n for k, v in c.items()}


def test_walking_in_and_standing_are_both_labelled(run: Run) -> None:
    long_tracks = [t for t, labs in run.labels["motion"].items() if len(labs) >= 25]  # >= 5 s
    assert len(long_tracks) >= 2  # the people at 93-120 s and 124-136 s
    share = shares({t: run.labels["motion"][t] for t in long_tracks})
    assert 0.05 <= share.get("walking", 0.0) <= 0.4
    assert share.get("standing", 0.0) >= 0.55
    for t in long_tracks:
        first = [lab for lab in run.labels["motion"][t][:15] if lab is not None]  # first 3 s
        assert "walking" in first, f"track {t}: walk-in not labelled: {first}"
        assert run.labels["motion"][t][-1] is not None


def test_depth_cue_labels_the_walk_the_image_speed_misses(run: Run) -> None:
    motion = shares(run.labels["motion"]).get("walking", 0.0)
    speed_only = shares(run.labels["speed_only"]).get("walking", 0.0)
    assert motion > speed_only


def test_standing_people_stay_below_the_walking_boundary(run: Run) -> None:
    """Seconds 5-10 of each long track: the person stands at the table; box jitter only."""
    from mcvision.vision.activity import depth_rate, motion, speed

    th = Thresholds()
    checked = 0
    for boxes in run.boxes.values():
        if len(boxes) < 60:
            continue
        t0 = boxes[0][0]
        for k in range(5, 10):
            w = [Observation(ts=t, box=b) for t, b in boxes if k <= t - t0 <= k + 1]
            assert speed(w) < 0.5 * th.walk_speed
            assert depth_rate(w) < 0.5 * th.walk_depth_rate
            assert motion(w, th) < 0.6
            checked += 1
    assert checked >= 5


@pytest.fixture(scope="module")
def fall_model(assets: Path) -> FallModel:
    return FallModel("fall_yolov8_normal_fall.pt", conf=0.5)


def test_fall_model_never_confirms_upright_people(run: Run, fall_model: FallModel) -> None:
    assert len(run.crops) >= 15
    scores = fall_model.scores(run.crops)
    assert max(scores) < fall_model.conf


@pytest.fixture(scope="module")
def turned(run: Run, fall_model: FallModel) -> tuple[list[np.ndarray], np.ndarray]:
    """The crops turned 90 degrees (a person lying) and their Fall scores."""
    crops = [cv2.rotate(c, cv2.ROTATE_90_CLOCKWISE) for c in run.crops]
    return crops, np.array(fall_model.scores(crops))


def test_fall_model_sees_a_fall_in_crops_turned_on_their_side(
    turned: tuple[list[np.ndarray], np.ndarray], fall_model: FallModel
) -> None:
    _, scores = turned
    assert (scores >= fall_model.conf).mean() >= 0.75


def test_fall_model_gates_the_rules_fallen(
    run: Run, fall_model: FallModel, turned: tuple[list[np.ndarray], np.ndarray]
) -> None:
    """A lying box keeps ``fallen`` with a lying person's crop, falls back without one."""
    crops, scores = turned
    best = int(np.argmax(scores))
    lying_crop, upright_crop = crops[best], run.crops[best]
    clf = RuleClassifier(fall_confirmer=fall_model)
    box = np.array([100, 300, 400, 400], np.float32)  # w/h = 3: the box rule says fallen

    def window(c: np.ndarray | None) -> list[Observation]:
        return [Observation(ts=t, box=box, crop=c if t == 1.0 else None) for t in (0, 0.5, 1.0)]

    assert RuleClassifier().classify(window(upright_crop)) == "fallen"  # the rules alone
    calls = fall_model.calls
    assert clf.classify(window(lying_crop)) == "fallen"
    assert clf.classify(window(upright_crop)) == "standing"  # not confirmed: the next rule
    assert fall_model.calls == calls + 2
    assert clf.classify(window(None)) == "fallen"  # no image to look at: the rules stand
    assert fall_model.calls == calls + 2
