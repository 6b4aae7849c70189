"""Face detection and embedding on real PRW frames (the assets).

PRW is 1080p campus footage: faces of people near the camera are 20–50 px wide,
far ones 8–15 px. YuNet finds both on the upscaled head region; below
``min_face_px`` (20) no embedding is made, because a 13-px face embeds poorly
(measured: the woman 0001's 13-px face in c3s1_000551 scores 0.10 against her own
23-px face in c1s1_002326, no better than strangers).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from mcvision.config import FaceConfig
from mcvision.vision.face import FACE_SIZE, FaceEmbedder, align

# person boxes (x1, y1, x2, y2) in PRW frames (detector boxes, see MANIFEST.md)
WOMAN = {  # Market-1501 ID 0001, the woman in the white dress, walking left in camera 1
    "c1s1_002326.jpg": (773, 446, 871, 731),
    "c1s1_014901.jpg": (1097, 438, 1233, 834),
    "c1s1_002376.jpg": (594, 451, 709, 797),
}
OTHERS = {
    "man_white_shirt": ("c1s1_014901.jpg", (832, 350, 1084, 960)),
    "man_black_shirt": ("c1s1_014901.jpg", (630, 399, 837, 922)),
    "purple_shirt_woman": ("c1s1_002326.jpg", (1461, 429, 1714, 1077)),
    "man_c1s1_009376": ("c1s1_009376.jpg", (208, 486, 387, 915)),
}


@pytest.fixture(scope="module")
def faces(assets: Path) -> FaceEmbedder:
    cfg = FaceConfig(enabled=True)
    models = assets / "models"
    return FaceEmbedder(
        models / cfg.detector_weights,
        models / cfg.embedder_weights,
        min_face_px=cfg.min_face_px,
        score_threshold=cfg.score_threshold,
        head_fraction=cfg.head_fraction,
    )


@pytest.fixture(scope="module")
def frames(assets: Path) -> Path:
    return assets / "footage" / "PRW_multicam_c1_c3" / "frames"


def crop(frames: Path, name: str, box: tuple[int, int, int, int]) -> np.ndarray:
    img = cv2.imread(str(frames / name))
    assert img is not None
    x1, y1, x2, y2 = box
    return img[y1:y2, x1:x2]


def test_faces_found_in_head_region(faces: FaceEmbedder, frames: Path) -> None:
    found = [faces.find_face(crop(frames, n, b)) for n, b in WOMAN.items()]
    assert all(f is not None for f in found)
    for f, (_, b) in zip(found, WOMAN.items(), strict=True):
        assert f is not None
        w, h = b[2] - b[0], b[3] - b[1]
        x, y, fw, fh = f.box
        assert x >= 0 and x + fw <= w + 2 and y + fh <= 0.4 * h + 2  # inside the head region
        assert 20 <= f.size <= 60 and f.score >= 0.6


def test_one_persons_faces_are_closer_than_others(faces: FaceEmbedder, frames: Path) -> None:
    woman = faces.embed_people([crop(frames, n, b) for n, b in WOMAN.items()])
    others = faces.embed_people([crop(frames, n, b) for n, b in OTHERS.values()])
    assert all(v is not None for v in woman + others)
    W = np.stack(woman)  # type: ignore[arg-type]
    oth = np.stack(others)  # type: ignore[arg-type]
    assert W.shape == (3, 128)
    assert np.allclose(np.linalg.norm(W, axis=1), 1.0, atol=1e-5)
    same = W @ W.T
    same_min = min(same[i, j] for i in range(3) for j in range(3) if i < j)
    cross_max = float((W @ oth.T).max())
    # measured: same person 0.43–0.55, against others at most 0.26
    assert same_min > cross_max + 0.1, (same.round(2), (W @ oth.T).round(2))


def test_small_faces_are_not_embedded(faces: FaceEmbedder, frames: Path) -> None:
    far = crop(frames, "c3s1_000551.jpg", (1154, 422, 1220, 617))  # the woman, far away
    f = faces.find_face(far)
    assert f is not None and f.size < faces.min_face_px  # seen, but too small
    assert faces.embed_people([far]) == [None]


def test_no_face_in_a_blank_crop(faces: FaceEmbedder) -> None:
    assert faces.embed_people([np.full((300, 120, 3), 128, np.uint8)]) == [None]


def test_align_gives_template_size() -> None:
    img = np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)
    lm = np.array([[80, 90], [120, 90], [100, 115], [85, 140], [115, 140]], np.float32)
    assert align(img, lm).shape == (FACE_SIZE, FACE_SIZE, 3)


@pytest.mark.parametrize(
    ("image", "message"),
    [(np.zeros((10, 10), np.uint8), "uint8 BGR"), (np.zeros((1, 5, 3), np.uint8), "too small")],
)
def test_bad_crops_are_named(faces: FaceEmbedder, image: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        faces.find_face(image)


def test_missing_weights_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="face detector weights not found"):
        FaceEmbedder(tmp_path / "nope.onnx", tmp_path / "nope2.onnx")
