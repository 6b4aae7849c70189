"""Mask backends behind one interface: none, yolo-seg (real weights), Meta SAM (tiny random
model). The ONNX ``sam`` backend on real weights: tests/vision/test_sam_onnx.py."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from mcvision.config import SegmenterConfig
from mcvision.types import Detections
from mcvision.vision.crops import crop_boxes
from mcvision.vision.segmenter import (
    SEGMENTERS,
    NoSegmenter,
    OnnxSamSegmenter,
    SamSegmenter,
    Segmenter,
    UltralyticsSamSegmenter,
    YoloSegSegmenter,
    box_iou,
    box_masks,
    build_segmenter,
    tiny_random_sam,
)
from mcvision.vision.weights import WeightsNotFound

PRW = "footage/PRW_multicam_c1_c3"


def test_registry_names() -> None:
    assert sorted(SEGMENTERS) == ["meta_sam", "mobile_sam", "none", "sam", "sam2", "yolo-seg"]
    assert SEGMENTERS["sam"] is OnnxSamSegmenter
    assert SEGMENTERS["meta_sam"] is SamSegmenter
    assert SEGMENTERS["sam2"] is UltralyticsSamSegmenter


@pytest.mark.parametrize(
    ("a", "b", "iou"),
    [
        ([0, 0, 10, 10], [0, 0, 10, 10], 1.0),
        ([0, 0, 10, 10], [5, 0, 15, 10], 50 / 150),
        ([0, 0, 10, 10], [20, 20, 30, 30], 0.0),
        ([0, 0, 10, 10], [2, 2, 4, 4], 4 / 100),
        ([0, 0, 0, 10], [0, 0, 0, 10], 0.0),  # no area
    ],
)
def test_box_iou(a: list[float], b: list[float], iou: float) -> None:
    assert box_iou(np.array([a]), np.array([b]))[0, 0] == pytest.approx(iou)


def test_box_masks_clip_to_frame() -> None:
    m = box_masks([[2, 3, 6, 5], [-5, 8, 100, 100]], (10, 12))
    assert m.shape == (2, 10, 12) and m.dtype == bool
    assert m.sum(axis=(1, 2)).tolist() == [8, 24]
    assert m[0, 3:5, 2:6].all()


def test_none_leaves_mask_unset() -> None:
    seg = build_segmenter(SegmenterConfig(backend="none"))
    assert isinstance(seg, NoSegmenter)
    frame = np.zeros((30, 40, 3), np.uint8)
    dets = Detections(xyxy=[[1, 2, 10, 20]], confidence=[0.7])
    out = seg.segment(frame, dets)
    assert out.mask is None
    assert out.confidence.tolist() == pytest.approx([0.7])
    assert seg.segment(frame, Detections.empty()).mask is None


class BoxSeg(Segmenter):
    name = "boxes"

    def _masks(self, frame: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        return box_masks(xyxy, frame.shape[:2])


class WrongShape(Segmenter):
    name = "wrong"

    def _masks(self, frame: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        return np.zeros((len(xyxy), 5, 5), bool)


def test_base_contract_and_batch() -> None:
    frames = [np.zeros((20, 30, 3), np.uint8), np.zeros((40, 10, 3), np.uint8)]
    dets = [Detections(xyxy=[[0, 0, 5, 5], [10, 10, 20, 15]]), Detections.empty()]
    out = BoxSeg().segment_batch(frames, dets)
    assert out[0].mask.shape == (2, 20, 30) and out[0].mask.sum() == 25 + 50
    assert out[1].mask.shape == (0, 40, 10)
    np.testing.assert_array_equal(out[0].xyxy, dets[0].xyxy)
    with pytest.raises(ValueError, match="2 frames but 1 detection sets"):
        BoxSeg().segment_batch(frames, dets[:1])
    with pytest.raises(RuntimeError, match="'wrong' returned masks"):
        WrongShape().segment(frames[0], dets[0])
    with pytest.raises(ValueError, match="frame must be"):
        BoxSeg().segment(np.zeros((20, 30), np.uint8), dets[0])


# ------------------------------------------------------------------ Meta SAM (tiny random model)


@pytest.fixture
def sam_spy() -> tuple[SamSegmenter, dict[str, list]]:
    seg = SamSegmenter(tiny_random_sam())
    calls: dict[str, list] = {"set_image": [], "predict_torch": []}
    p = seg.predictor
    set_image, predict_torch = p.set_image, p.predict_torch

    def spy_set_image(image, image_format="RGB"):
        calls["set_image"].append(image.shape)
        return set_image(image, image_format)

    def spy_predict(*args, **kwargs):
        calls["predict_torch"].append((tuple(kwargs["boxes"].shape), kwargs["multimask_output"]))
        return predict_torch(*args, **kwargs)

    p.set_image, p.predict_torch = spy_set_image, spy_predict
    return seg, calls


def test_sam_one_embedding_per_frame_all_boxes_in_one_call(sam_spy) -> None:
    seg, calls = sam_spy
    rng = np.random.default_rng(0)
    frames = [
        rng.integers(0, 256, (120, 200, 3), dtype=np.uint8),
        rng.integers(0, 256, (90, 160, 3), dtype=np.uint8),
    ]
    dets = [
        Detections(xyxy=[[10, 10, 60, 110], [100, 5, 190, 100], [0, 0, 30, 30]]),
        Detections(xyxy=[[20, 20, 80, 85]]),
    ]
    out = seg.segment_batch(frames, dets)
    assert calls["set_image"] == [(120, 200, 3), (90, 160, 3)]
    assert calls["predict_torch"] == [((3, 4), False), ((1, 4), False)]
    assert [o.mask.shape for o in out] == [(3, 120, 200), (1, 90, 160)]
    assert all(o.mask.dtype == bool for o in out)
    np.testing.assert_array_equal(out[0].xyxy, dets[0].xyxy)


def test_sam_no_boxes_skips_the_model(sam_spy) -> None:
    seg, calls = sam_spy
    out = seg.segment(np.zeros((50, 60, 3), np.uint8), Detections.empty())
    assert out.mask.shape == (0, 50, 60)
    assert calls == {"set_image": [], "predict_torch": []}


def test_sam_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs a model or a weights path"):
        SamSegmenter()
    with pytest.raises(WeightsNotFound, match="sam_vit_b"):
        SamSegmenter(weights=tmp_path / "sam_vit_b_01ec64.pth")


@pytest.mark.parametrize("backend", ["sam", "meta_sam", "mobile_sam", "sam2", "yolo-seg"])
def test_missing_weights_fail_clearly(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCVISION_ASSETS", str(tmp_path / "no-assets"))
    monkeypatch.chdir(tmp_path)
    cfg = SegmenterConfig(backend=backend, weights=f"missing-{backend}.pt")
    with pytest.raises(WeightsNotFound, match=f"missing-{backend}"):
        build_segmenter(cfg, cache_dir=tmp_path, download=False)


def test_ultralytics_sam_never_downloads(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFound, match=r"mobile_sam\.pt"):
        UltralyticsSamSegmenter(tmp_path / "mobile_sam.pt")


# ------------------------------------------------------------------ yolo-seg (synthetic)


def test_letterboxed_mask_maps_back_to_frame() -> None:
    # a 1920x1080 frame letterboxed into 320x320: gain 1/6, 70 px of padding top and bottom
    mask = np.zeros((320, 320), np.float32)
    mask[70 + 30 : 70 + 60, 100:150] = 1.0  # frame rows 180..360, columns 600..900
    full = YoloSegSegmenter._to_frame(mask, (1080, 1920))
    ys, xs = np.nonzero(full)
    assert full.shape == (1080, 1920)
    assert abs(ys.min() - 180) <= 3 and abs(ys.max() - 359) <= 3
    assert abs(xs.min() - 600) <= 3 and abs(xs.max() - 899) <= 3
    region = YoloSegSegmenter._to_frame(mask, (1080, 1920), np.array([700, 0, 1920, 1080]))
    assert region[:, :700].sum() == 0
    np.testing.assert_array_equal(region[:, 700:], full[:, 700:])


def test_yolo_seg_matching_by_iou(monkeypatch: pytest.MonkeyPatch) -> None:
    seg = YoloSegSegmenter.__new__(YoloSegSegmenter)  # no model: instances are injected
    seg.min_iou = 0.3
    h, w = 64, 64
    inst = np.zeros((2, h, w), np.float32)  # model-size masks, same size as the frame
    inst[0, 10:30, 10:20] = 1  # instance A inside box [8, 8, 22, 32]
    inst[1, 40:60, 40:50] = 1  # instance B inside box [38, 38, 52, 62]
    inst_boxes = np.array([[10, 10, 20, 30], [40, 40, 50, 60]], np.float32)
    monkeypatch.setattr(seg, "_predict", lambda frame: (inst_boxes, inst))
    given = [[38, 38, 52, 62], [0, 40, 10, 50], [8, 8, 22, 32]]  # B, nobody, A
    out = seg.segment(np.zeros((h, w, 3), np.uint8), Detections(xyxy=given))
    assert out.mask.sum(axis=(1, 2)).tolist() == [200, 100, 200]
    assert out.mask[0, 40:60, 40:50].all() and out.mask[2, 10:30, 10:20].all()
    np.testing.assert_array_equal(out.mask[1], box_masks([given[1]], (h, w))[0])
    monkeypatch.setattr(seg, "_predict", lambda frame: (np.zeros((0, 4)), np.zeros((0, 1, 1))))
    none_found = seg.segment(np.zeros((h, w, 3), np.uint8), Detections(xyxy=given))
    np.testing.assert_array_equal(none_found.mask, box_masks(given, (h, w)))


# ------------------------------------------------------------------ yolo-seg (real weights)


@pytest.fixture(scope="module")
def yolo_seg(assets: Path) -> YoloSegSegmenter:
    seg = build_segmenter(
        SegmenterConfig(
            backend="yolo-seg", weights=str(assets / "models/yolov8n-seg_int8_320.onnx")
        )
    )
    assert isinstance(seg, YoloSegSegmenter)
    return seg


def _handpicked(assets: Path) -> dict:
    return json.loads((assets / PRW / "approx_boxes_handpicked.json").read_text())


@pytest.mark.assets
def test_yolo_seg_masks_cover_the_people(assets: Path, yolo_seg: YoloSegSegmenter) -> None:
    hp = _handpicked(assets)
    name = "frames/c1s1_014901.jpg"
    frame = cv2.imread(str(assets / PRW / name))
    people = [hp["person_0001"][name], *hp["other_people"][name].values()]
    sky = [10, 10, 110, 60]  # nobody there: no instance to match
    out = yolo_seg.segment(frame, Detections(xyxy=[*people, sky]))
    assert out.mask.shape == (4, 1080, 1920) and out.mask.dtype == bool
    for i, (x1, y1, x2, y2) in enumerate(people):
        area = (x2 - x1) * (y2 - y1)
        inside = int(out.mask[i, y1:y2, x1:x2].sum())
        assert inside == int(out.mask[i].sum())  # kept inside its box
        assert 0.3 <= inside / area < 0.95, (i, inside / area)  # a person, not the box
    np.testing.assert_array_equal(out.mask[3], box_masks([sky], (1080, 1920))[0])


@pytest.mark.assets
def test_masked_crop_still_ranks_0001_first(assets: Path, yolo_seg: YoloSegSegmenter) -> None:
    from mcvision.vision.reid import OnnxReID

    hp = _handpicked(assets)
    name = "frames/c1s1_014901.jpg"
    frame = cv2.imread(str(assets / PRW / name))
    labels = ["0001", *hp["other_people"][name]]
    dets = yolo_seg.segment(
        frame, Detections(xyxy=[hp["person_0001"][name], *hp["other_people"][name].values()])
    )
    reid = OnnxReID(assets / "models/osnet_x0_25_msmt17.onnx")
    gallery = reid.embed_detections(frame, dets)  # masked crops (dets.mask)
    # queries: 0001 seen elsewhere (camera 3 and the two Market-1501 crops)
    c3 = "frames/c3s1_000551.jpg"
    queries = crop_boxes(cv2.imread(str(assets / PRW / c3)), [hp["person_0001"][c3]])
    queries += [cv2.imread(str(q)) for q in sorted((assets / PRW / "query").glob("0001_*.jpg"))]
    sim = reid.embed(queries) @ gallery.T
    assert [labels[j] for j in sim.argmax(axis=1)] == ["0001"] * 3, sim.round(3)
    assert (sim[:, 0] - sim[:, 1:].max(axis=1)).min() > 0.1, sim.round(3)
