"""PoseEstimator on a real PRW frame, and keypoint-to-box matching."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from mcvision.types import Detections
from mcvision.vision.pose import KEYPOINT_NAMES, PoseEstimator, attach_keypoints, box_iou

FRAME = Path("footage/PRW_multicam_c1_c3/frames/c1s1_014901.jpg")
NOSE, L_ANKLE, R_ANKLE, L_SHOULDER, L_HIP = 0, 15, 16, 5, 11


@pytest.fixture(scope="module")
def frame(assets: Path) -> np.ndarray:
    img = cv2.imread(str(assets / FRAME))
    assert img is not None
    return img


@pytest.fixture(scope="module")
def people(assets: Path, frame: np.ndarray) -> Detections:
    return PoseEstimator().estimate([frame])[0]


def test_people_with_17_plausible_keypoints(people: Detections) -> None:
    assert len(people) >= 3  # the three large people of this frame
    kp = people.keypoints
    assert kp is not None and kp.shape == (len(people), 17, 3)
    big = people[people.area > 50_000]
    assert len(big) == 3
    k = big.keypoints
    # head above shoulders above hips above ankles (image y grows downwards)
    assert (k[:, NOSE, 1] < k[:, L_SHOULDER, 1]).all()
    assert (k[:, L_SHOULDER, 1] < k[:, L_HIP, 1]).all()
    assert (k[:, L_HIP, 1] < k[:, [L_ANKLE, R_ANKLE], 1].min(axis=1)).all()
    # keypoints lie inside (or at the edge of) their person's box
    x1, y1, x2 = (big.xyxy[:, i, None] for i in range(3))
    inside = (k[..., 0] >= x1 - 5) & (k[..., 0] <= x2 + 5) & (k[..., 1] >= y1 - 5)
    assert inside.mean() > 0.95
    assert (k[:, NOSE, 2] > 0.5).all()


def test_attach_to_given_detections(assets: Path, frame: np.ndarray, people: Detections) -> None:
    big = people[people.area > 50_000]
    far_away = np.array([[0, 0, 40, 40]], np.float32)  # no person there
    given = Detections(
        xyxy=np.concatenate([big.xyxy[::-1] + 3, far_away]),
        tracker_id=np.array([7, 8, 9, 10]),
    )
    pose = PoseEstimator()
    [out] = pose.estimate([frame], detections=[given])
    assert len(out) == 4
    assert out.tracker_id.tolist() == [7, 8, 9, 10]
    np.testing.assert_allclose(out.keypoints[:3], big.keypoints[::-1], atol=2.0)
    assert (out.keypoints[3] == 0).all()
    with pytest.raises(ValueError, match="2 frames but 1 detections"):
        pose.estimate([frame, frame], detections=[given])


def test_attach_keypoints_matching() -> None:
    kp = np.arange(2 * 17 * 3, dtype=np.float32).reshape(2, 17, 3)
    pose = Detections(xyxy=np.array([[0, 0, 10, 10], [100, 100, 110, 110]]), keypoints=kp)
    dets = Detections(xyxy=np.array([[101, 101, 111, 111], [1, 0, 11, 10], [50, 50, 60, 60]]))
    out = attach_keypoints(dets, pose)
    assert out.keypoints is not None
    np.testing.assert_array_equal(out.keypoints[0], kp[1])
    np.testing.assert_array_equal(out.keypoints[1], kp[0])
    assert (out.keypoints[2] == 0).all()
    empty = attach_keypoints(Detections.empty(), pose)
    assert empty.keypoints.shape == (0, 17, 3)


@pytest.mark.parametrize(
    ("a", "b", "iou"),
    [
        ([0, 0, 10, 10], [0, 0, 10, 10], 1.0),
        ([0, 0, 10, 10], [5, 0, 15, 10], 1 / 3),
        ([0, 0, 10, 10], [10, 0, 20, 10], 0.0),
        ([0, 0, 10, 10], [2, 2, 4, 4], 0.04),
        ([0, 0, 0, 0], [0, 0, 0, 0], 0.0),
    ],
)
def test_box_iou(a: list[float], b: list[float], iou: float) -> None:
    assert box_iou(np.array([a]), np.array([b]))[0, 0] == pytest.approx(iou)


def test_keypoint_names() -> None:
    assert len(KEYPOINT_NAMES) == 17
    assert KEYPOINT_NAMES[NOSE] == "nose" and KEYPOINT_NAMES[L_ANKLE] == "left_ankle"
