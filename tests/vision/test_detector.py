"""PersonDetector on real weights and a real PRW frame (hand-picked boxes as reference)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from mcvision.config import DetectorConfig
from mcvision.vision.detector import PersonDetector, export_info
from mcvision.vision.pose import box_iou
from mcvision.vision.weights import WeightsNotFound

PRW = Path("footage/PRW_multicam_c1_c3")
FRAME = "frames/c1s1_014901.jpg"


def handpicked(assets: Path, frame: str) -> np.ndarray:
    """The hand-picked person boxes of one PRW frame (file format: see its ``_note``)."""
    data = json.loads((assets / PRW / "approx_boxes_handpicked.json").read_text())
    boxes = []
    if frame in data["person_0001"]:
        boxes.append(data["person_0001"][frame])
    boxes += list(data["other_people"].get(frame, {}).values())
    return np.array(boxes, dtype=np.float32)


def matched(found: np.ndarray, truth: np.ndarray, thr: float = 0.5) -> int:
    """How many truth boxes have a found box with IoU >= thr (each found box used once)."""
    from scipy.optimize import linear_sum_assignment

    if len(found) == 0 or len(truth) == 0:
        return 0
    iou = box_iou(truth, found)
    r, c = linear_sum_assignment(-iou)
    return int((iou[r, c] >= thr).sum())


@pytest.fixture(scope="module")
def frames(assets: Path) -> list[np.ndarray]:
    names = [FRAME, "frames/c1s1_002326.jpg", "frames/c3s1_000551.jpg"]
    out = [cv2.imread(str(assets / PRW / n)) for n in names]
    assert all(f is not None for f in out)
    return out


@pytest.fixture(scope="module")
def openvino(assets: Path) -> PersonDetector:
    return PersonDetector("yolo11n_int8_openvino_model")


@pytest.fixture(scope="module")
def onnx320(assets: Path) -> PersonDetector:
    return PersonDetector("yolo11n_int8_320.onnx", imgsz=640)


def test_handpicked_format(assets: Path) -> None:
    truth = handpicked(assets, FRAME)
    assert truth.shape == (3, 4)
    assert (truth[:, 2] > truth[:, 0]).all() and (truth[:, 3] > truth[:, 1]).all()


@pytest.mark.parametrize("which", ["openvino", "onnx320"])
def test_finds_handpicked_people(
    which: str, request: pytest.FixtureRequest, frames: list[np.ndarray], assets: Path
) -> None:
    det: PersonDetector = request.getfixturevalue(which)
    [d] = det.detect([frames[0]])
    truth = handpicked(assets, FRAME)
    assert matched(d.xyxy, truth) == 3
    assert set(d.class_id.tolist()) == {0}
    assert (d.confidence >= 0.35).all()
    assert len(d) <= 5  # 3 hand-picked + one small far-away person; nothing spurious


@pytest.mark.parametrize(
    ("name", "imgsz", "batch"),
    [("yolo11n_int8_openvino_model", (640, 640), 1), ("yolo11n_int8_320.onnx", (320, 320), 1)],
)
def test_export_info(assets: Path, name: str, imgsz: tuple[int, int], batch: int) -> None:
    info = export_info(assets / "models" / name)
    assert (info.imgsz, info.batch, info.static, info.task) == (imgsz, batch, True, "detect")


def test_static_export_overrides_imgsz(onnx320: PersonDetector) -> None:
    assert onnx320.imgsz == 320  # asked for 640; the fixed 320 export wins
    assert onnx320.batch_limit == 1


def test_batch_api(openvino: PersonDetector, frames: list[np.ndarray]) -> None:
    batch = openvino.detect(frames)
    assert len(batch) == 3
    singles = [openvino.detect([f])[0] for f in frames]
    for b, s in zip(batch, singles, strict=True):
        assert len(b) == len(s)
        np.testing.assert_allclose(b.xyxy, s.xyxy, atol=1.0)
    assert openvino.detect([]) == []


def test_batch_with_frames_of_different_sizes(
    openvino: PersonDetector, frames: list[np.ndarray]
) -> None:
    small = cv2.resize(frames[0], (960, 540))
    full, half = openvino.detect([frames[0], small])
    assert matched(half.xyxy * 2, full.xyxy, thr=0.7) >= 3  # boxes are in each frame's pixels


def test_unknown_class_name(assets: Path) -> None:
    with pytest.raises(ValueError, match=r"\['persn'\] not in model .*0: 'person'"):
        PersonDetector("yolo11n_int8_320.onnx", classes=("persn",))


def test_custom_class_names_on_torch_model(assets: Path, frames: list[np.ndarray]) -> None:
    det = PersonDetector("fall_yolov8_normal_fall.pt", classes=("Normal", "Fall"))
    assert det.info.format == "pt"
    assert det.names == {0: "Normal", 1: "Fall"}
    assert det.class_ids == [0, 1]
    [d] = det.detect([frames[0]])
    assert matched(d.xyxy, handpicked(assets, FRAME)) == 3
    with pytest.raises(ValueError, match="'Normal'"):
        PersonDetector("fall_yolov8_normal_fall.pt")  # no class called "person" there


def test_from_config(assets: Path) -> None:
    det = PersonDetector.from_config(
        DetectorConfig(weights="yolo11n_int8_320.onnx", conf=0.6, classes=["person", "car"])
    )
    assert (det.conf, det.class_ids, det.imgsz) == (0.6, [0, 2], 320)


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (np.zeros((10, 10), np.uint8), r"frame 0: expected an \(H, W, 3\)"),
        ("image.jpg", "frame 0: expected"),
    ],
)
def test_bad_frame(onnx320: PersonDetector, frame: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        onnx320.detect([frame])  # type: ignore[list-item]


def test_missing_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCVISION_WEIGHTS_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("MCVISION_CACHE", str(tmp_path))
    with pytest.raises(WeightsNotFound, match=r"no_such_detector\.onnx"):
        PersonDetector("no_such_detector.onnx")
