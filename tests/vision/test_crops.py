"""Crop extraction and crop quality."""

from __future__ import annotations

import numpy as np
import pytest

from mcvision.vision.crops import (
    IMAGENET_MEAN_BGR,
    clip_boxes,
    crop_boxes,
    crop_qualities,
    crop_quality,
)

H, W = 100, 200


def ramp_frame() -> np.ndarray:
    """Pixel (y, x) holds (x, y, 7) so a crop's origin can be read back."""
    frame = np.zeros((H, W, 3), dtype=np.uint8)
    frame[..., 0] = np.arange(W, dtype=np.uint8)[None, :]
    frame[..., 1] = np.arange(H, dtype=np.uint8)[:, None]
    frame[..., 2] = 7
    return frame


@pytest.mark.parametrize(
    ("box", "pad", "expected"),
    [
        ([10, 20, 50, 90], 0.0, [10, 20, 50, 90]),
        ([10.4, 20.6, 49.2, 89.1], 0.0, [10, 20, 50, 90]),  # snapped outwards
        ([10, 20, 50, 60], 0.25, [0, 10, 60, 70]),  # 10 px each side in x, 10 in y
        ([-30, -5, 40, 500], 0.0, [0, 0, 40, 100]),  # clipped
        ([250, 10, 300, 50], 0.0, [200, 10, 200, 50]),  # wholly outside: no width
        ([60, 40, 20, 80], 0.0, [60, 40, 60, 80]),  # inverted: no width
    ],
)
def test_clip_boxes(box: list[float], pad: float, expected: list[int]) -> None:
    assert clip_boxes([box], (H, W, 3), pad).tolist() == [expected]


def test_crop_boxes_cuts_the_right_pixels_in_order() -> None:
    frame = ramp_frame()
    crops = crop_boxes(frame, np.array([[10, 20, 50, 90], [150, 0, 210, 30]]))
    assert [c.shape for c in crops] == [(70, 40, 3), (30, 50, 3)]
    assert crops[0][0, 0].tolist() == [10, 20, 7]
    assert crops[0][-1, -1].tolist() == [49, 89, 7]
    assert crops[1][0, 0].tolist() == [150, 0, 7]
    assert all(c.dtype == np.uint8 and c.flags.c_contiguous for c in crops)


@pytest.mark.parametrize("box", [[5, 5, 5, 30], [300, 10, 400, 50], [10, 10, 20, 10]])
def test_degenerate_box_gives_one_fill_pixel(box: list[float]) -> None:
    crops = crop_boxes(ramp_frame(), [[0, 0, 10, 10], box])
    assert len(crops) == 2
    assert crops[1].shape == (1, 1, 3)
    assert crops[1][0, 0].tolist() == list(IMAGENET_MEAN_BGR)


def test_empty_box_list() -> None:
    assert crop_boxes(ramp_frame(), np.zeros((0, 4))) == []


def test_mask_blanks_background_to_fill() -> None:
    frame = ramp_frame()
    masks = np.zeros((1, H, W), dtype=bool)
    masks[0, 30:60, 20:30] = True  # left quarter of the box, 30 rows
    crop = crop_boxes(frame, [[20, 30, 60, 70]], masks=masks)[0]
    assert crop.shape == (40, 40, 3)
    assert crop[0, 0].tolist() == [20, 30, 7]  # kept
    assert crop[0, 10].tolist() == list(IMAGENET_MEAN_BGR)  # right of the mask
    assert crop[35, 5].tolist() == list(IMAGENET_MEAN_BGR)  # below the mask
    kept = (crop != np.array(IMAGENET_MEAN_BGR, np.uint8)).any(axis=2)
    assert int(kept.sum()) == 30 * 10


def test_mask_empty_inside_box_falls_back_to_plain_crop() -> None:
    frame = ramp_frame()
    masks = np.zeros((1, H, W), dtype=bool)
    masks[0, 0:5, 0:5] = True  # outside the box
    crop = crop_boxes(frame, [[20, 30, 60, 70]], masks=masks)[0]
    np.testing.assert_array_equal(crop, frame[30:70, 20:60])


def test_padding_and_fill_colour() -> None:
    masks = np.zeros((1, H, W), dtype=bool)
    masks[0, 50, 50] = True
    crop = crop_boxes(ramp_frame(), [[40, 40, 60, 60]], masks=masks, pad=0.5, fill=(1, 2, 3))[0]
    assert crop.shape == (40, 40, 3)
    assert crop[0, 0].tolist() == [1, 2, 3]
    assert crop[20, 20].tolist() == [50, 50, 7]


@pytest.mark.parametrize(
    ("frame", "boxes", "masks", "message"),
    [
        (np.zeros((H, W), np.uint8), [[0, 0, 1, 1]], None, "frame must be an"),
        (np.zeros((H, W, 3), np.float32), [[0, 0, 1, 1]], None, "uint8"),
        (np.zeros((H, W, 3), np.uint8), [[0, 0, 1]], None, "boxes must be"),
        (np.zeros((H, W, 3), np.uint8), [[0, 0, np.nan, 1]], None, "NaN"),
        (np.zeros((H, W, 3), np.uint8), [[0, 0, 1, 1]], np.zeros((1, 10, 10), bool), "masks"),
    ],
)
def test_bad_input_is_named(frame, boxes, masks, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        crop_boxes(frame, boxes, masks=masks)


def test_negative_pad_rejected() -> None:
    with pytest.raises(ValueError, match="pad"):
        crop_boxes(ramp_frame(), [[0, 0, 5, 5]], pad=-0.1)


FRAME = (1080, 1920)


@pytest.mark.parametrize(
    ("box", "conf", "expected"),
    [
        ([100, 100, 160, 356], 1.0, 1.0),  # tall, inside, sure
        ([100, 100, 160, 356], 0.5, 0.5),  # confidence scales
        ([100, 100, 130, 164], 1.0, 0.5),  # 64 px tall: half size
        ([0, 100, 60, 356], 1.0, 0.8),  # touches the left edge
        ([0, 0, 60, 356], 1.0, 0.6),  # touches left and top
        ([-60, 100, 60, 356], 1.0, 0.4),  # half outside + touching: 0.5 * 0.8
        ([100, 900, 160, 1180], 1.0, 180 / 280 * 0.8),  # 180 of 280 px inside, bottom edge
        ([2000, 100, 2060, 356], 1.0, 0.0),  # outside
        ([100, 100, 100, 356], 1.0, 0.0),  # no width
    ],
)
def test_crop_quality_table(box: list[float], conf: float, expected: float) -> None:
    assert crop_quality(box, FRAME, conf) == pytest.approx(expected, abs=1e-9)


def test_crop_qualities_vectorised_matches_scalar() -> None:
    boxes = np.array([[100, 100, 160, 356], [0, 0, 60, 356], [100, 100, 130, 164]], float)
    conf = np.array([0.9, 0.8, 0.7])
    got = crop_qualities(boxes, FRAME, conf)
    want = [crop_quality(b, FRAME, c) for b, c in zip(boxes, conf, strict=True)]
    np.testing.assert_allclose(got, want)
    assert crop_qualities(np.zeros((0, 4)), FRAME).shape == (0,)


def test_crop_quality_ranks_better_crop_higher() -> None:
    small = crop_quality([500, 500, 520, 560], FRAME, 0.9)
    big = crop_quality([500, 300, 580, 560], FRAME, 0.9)
    cut = crop_quality([0, 300, 80, 560], FRAME, 0.9)
    assert big > cut > small
