"""People from a ReID crop folder: real per-camera appearance in the simulator."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from sim_crops import CAMERA_COLOURS, write_crop_folder

from mcvision.sim import load_ground_truth, run_sim
from mcvision.sim.crop_people import dominant_colour, is_crop_folder, load_crop_sprites
from mcvision.sim.people import PeopleError
from mcvision.sim.scenario import Scenario


def _pattern(bgr: np.ndarray) -> tuple[bool, bool, bool]:
    """Which channels carry the colour (robust to the cameras' gain and colour cast)."""
    v = np.asarray(bgr, np.float64)
    return tuple(bool(c > 0.5 * v.max()) for c in v)  # type: ignore[return-value]


def test_crop_folder_is_told_from_a_mot_tree(
    crop_dir: Path, people_dir: Path, tmp_path: Path
) -> None:
    assert is_crop_folder(crop_dir)
    assert not is_crop_folder(people_dir) and not is_crop_folder(tmp_path / "missing")


def test_sprites_keep_crops_per_real_camera(crop_dir: Path) -> None:
    sprites, info = load_crop_sprites([crop_dir], 5, matting="feather", crops_per_view=2)
    keys = {s.key.split("/")[-1] for s in sprites}  # "<parent>/<folder>:<person>"
    assert keys == {f"crops:{p:04d}" for p in (2, 7, 11, 23, 42)}  # no 0000 distractor, no -1 junk
    by_key = {s.key.split("/")[-1]: s for s in sprites}
    assert sorted(by_key["crops:0007"].views) == ["c2", "c4", "c5"]
    assert all(len(v) == 2 for s in sprites for v in s.views.values())
    assert info["mattes"] == {"seg": 0, "feather": 2 * sum(len(s.views) for s in sprites)}
    # the .jpg.jpg crop of person 2 is an ordinary crop of camera 1
    everything, _ = load_crop_sprites([crop_dir], 5, matting="feather", crops_per_view=10)
    assert len({s.key.split("/")[-1]: s for s in everything}["crops:0002"].views["c1"]) == 4


def test_too_few_people_is_an_error(tmp_path: Path) -> None:
    one = write_crop_folder(tmp_path / "one", {5: [1, 2]})
    with pytest.raises(PeopleError, match="fewer than two people"):
        load_crop_sprites([one], 3, matting="feather")


def test_lookalikes_share_a_dominant_colour(crop_dir: Path) -> None:
    sprites, info = load_crop_sprites([crop_dir], 4, seed=1, lookalikes=2, matting="feather")
    colours = {s.key: s.colour for s in sprites}
    assert info["lookalike_sets"] and all(len(s) >= 2 for s in info["lookalike_sets"])
    for group in info["lookalike_sets"]:
        assert set(group) <= set(colours) and len({colours[k] for k in group}) == 1


def test_dominant_colour_names() -> None:
    def solid(bgr: tuple[int, int, int]) -> np.ndarray:
        img = np.zeros((128, 64, 3), np.uint8)
        img[:] = bgr
        return img

    assert dominant_colour([solid((20, 20, 20))]) == "black"
    assert dominant_colour([solid((230, 230, 230))]) == "white"
    assert dominant_colour([solid((120, 120, 120))]) == "grey"
    assert dominant_colour([solid((30, 30, 200))]) == "red"
    assert dominant_colour([solid((150, 60, 10))]) == "blue"
    legs_only = solid((20, 20, 20))
    legs_only[: int(0.2 * 128)] = (30, 30, 200)  # a red hat does not make a red shirt
    assert dominant_colour([legs_only]) == "black"


@pytest.fixture
def crop_render(crop_dir: Path, tiny: Scenario, tmp_path: Path):
    return run_sim([crop_dir], tmp_path / "out", seed=5, scenario=tiny, check_detector=False)


def test_each_simulated_camera_shows_one_other_real_camera(crop_render, tiny: Scenario) -> None:
    """A person's crops on the two simulated cameras come from two different real cameras,
    read back from the rendered pixels, not only from the ground truth's bookkeeping."""
    gt = load_ground_truth(crop_render.ground_truth)
    checked = 0
    for person in gt.people:
        cams = sorted({a.camera for a in person.appearances})
        assert set(person.views) == set(cams)
        if len(cams) == 2:
            assert person.views["a"] != person.views["b"]
        for cam in cams:
            spec = tiny.camera(cam)
            want = _pattern(
                np.array(CAMERA_COLOURS[int(person.views[cam][1:])], np.float64)
                * np.array(spec.colour)
            )
            rows = gt.frames[cam]
            i, box = next(
                (i, b)
                for i, bs in enumerate(rows)
                for b in bs
                if b.id == person.id
                and b.visibility == 1.0
                and b.box[0] > 2
                and b.box[2] < spec.width - 2
                and b.box[3] - b.box[1] >= 24
            )
            cap = cv2.VideoCapture(str(crop_render.videos[cam]))
            cap.set(cv2.CAP_PROP_POS_FRAMES, i)
            ok, img = cap.read()
            cap.release()
            assert ok
            x1, y1, x2, y2 = (round(v) for v in box.box)
            cx, cy = (x1 + x2) // 2, y1 + (y2 - y1) // 4  # upper body, above the person's stripe
            patch = np.median(img[cy - 1 : cy + 2, cx - 1 : cx + 2].reshape(-1, 3), axis=0)
            assert _pattern(patch) == want, (person.id, cam, patch)
            checked += 1
    assert checked >= 4


def test_crop_render_is_deterministic_per_seed(
    crop_render, crop_dir: Path, tiny: Scenario, tmp_path: Path
) -> None:
    again = run_sim([crop_dir], tmp_path / "again", seed=5, scenario=tiny, check_detector=False)
    other = run_sim([crop_dir], tmp_path / "other", seed=6, scenario=tiny, check_detector=False)
    assert again.ground_truth.read_bytes() == crop_render.ground_truth.read_bytes()
    assert again.report_path.read_bytes() == crop_render.report_path.read_bytes()
    for cam in tiny.cameras:
        a = cv2.VideoCapture(str(again.videos[cam.id]))
        b = cv2.VideoCapture(str(crop_render.videos[cam.id]))
        for _ in range(tiny.frames):
            ok_a, fa = a.read()
            ok_b, fb = b.read()
            assert ok_a and ok_b and np.array_equal(fa, fb)
    assert other.ground_truth.read_bytes() != crop_render.ground_truth.read_bytes()
    report = json.loads(crop_render.report_path.read_text())
    assert report["crop_people"]["views"] and report["max_people_in_view"]["a"] >= 1


def test_sam_mattes_a_real_market_person_where_yolo_seg_finds_none(assets: Path) -> None:
    """``seg+sam``: the SAM ONNX, prompted with the crop's box, cuts out the person of a real
    Market crop; on a crop with no person in it YOLO-seg gives up and SAM is asked."""
    from mcvision.sim.people import _SegMatte
    from mcvision.vision.segmenter import pad_person_crop

    crops = sorted((assets / "reid" / "market1501" / "bounding_box_train").glob("0002_*.jpg"))
    img = cv2.imread(str(crops[0]))
    chain = _SegMatte.for_matting("seg+sam")
    assert chain is not None and chain.fallback is not None
    alpha = chain.fallback(*pad_person_crop(img))  # SAM on its own
    assert alpha is not None and alpha.shape == img.shape[:2]
    h, w = alpha.shape
    assert 0.25 < float(alpha.mean()) < 0.95  # a person's shape, not the box
    assert alpha[h // 2, w // 2] > 0.5 and alpha[2, 2] < 0.5  # the torso in, a corner out
    assert chain.fallback.last == "sam"
    flat = np.full_like(img, 128)  # nobody: YOLO-seg finds no person, SAM is asked next
    chain(*pad_person_crop(flat))
    assert chain.last in ("sam", None)
    with pytest.raises(ValueError, match="matting must be one of"):
        load_crop_sprites([assets], 2, matting="box")  # type: ignore[arg-type]
