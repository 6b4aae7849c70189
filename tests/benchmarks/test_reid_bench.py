"""benchmarks/reid_bench.py on a tiny hand-made Market-named folder."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from mcvision.vision.reid import ReIDEmbedder
from mcvision.vision.segmenter import Segmenter
from support import load_benchmark

# BGR colour per person: the fake embedder's features are the crop's mean colour.
COLOURS = {1: (200, 30, 30), 2: (30, 200, 30), 3: (30, 30, 200)}


class MeanColour(ReIDEmbedder):
    """Features = mean of each (normalised) channel: same colour, same person."""

    dim = 3

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        return batch.mean(axis=(2, 3))


class CentreMask(Segmenter):
    """The middle half of each box (width and height) is the person."""

    name = "centre"

    def _masks(self, frame: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        out = np.zeros((len(xyxy), *frame.shape[:2]), bool)
        for i, (x1, y1, x2, y2) in enumerate(xyxy.astype(int)):
            w, h = x2 - x1, y2 - y1
            out[i, y1 + h // 4 : y2 - h // 4, x1 + w // 4 : x2 - w // 4] = True
        return out


def crop(colour: tuple[int, int, int], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.full((32, 16, 3), colour, np.int16) + rng.integers(-20, 20, (32, 16, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def market_folders(root: Path) -> tuple[Path, Path]:
    """Query: one crop per person (camera 1). Gallery: 2 per person (cameras 1, 2), a
    distractor, a junk crop and a ``.jpg.jpg`` name."""
    q, g = root / "query", root / "bounding_box_test"
    q.mkdir(parents=True)
    g.mkdir()
    for p, colour in COLOURS.items():
        cv2.imwrite(str(q / f"{p:04d}_c1s1_000100_01.jpg"), crop(colour, p))
        cv2.imwrite(str(g / f"{p:04d}_c1s1_000200_01.jpg"), crop(colour, 10 + p))
        cv2.imwrite(str(g / f"{p:04d}_c2s1_000300_01.jpg"), crop(colour, 20 + p))
    cv2.imwrite(str(g / "0003_c3s1_000400_01.jpg.jpg"), crop(COLOURS[3], 40))
    cv2.imwrite(str(g / "0000_c2s1_000500_01.jpg"), crop((128, 128, 128), 50))
    cv2.imwrite(str(g / "-1_c2s1_000600_01.jpg"), crop(COLOURS[1], 60))
    (g / "Thumbs.db").write_bytes(b"not an image")  # non-images are skipped
    return q, g


def test_json_shape_plain_and_masked(tmp_path: Path) -> None:
    bench = load_benchmark("reid_bench")
    q, g = market_folders(tmp_path / "m")
    out = tmp_path / "r.json"
    rc = bench.main(
        [
            "--query",
            str(q),
            "--gallery",
            str(g),
            "--out",
            str(out),
            "--no-progress",
            "--batch",
            "4",
        ],
        reid=MeanColour(),
        segmenter=CentreMask(),
    )
    assert rc == 0
    r = json.loads(out.read_text())
    assert r["counts"] == {
        "query_crops": 3,
        "query_persons": 3,
        "query_junk_dropped": 0,
        "gallery_crops": 8,
        "gallery_persons": 3,
        "gallery_distractors": 1,
        "gallery_junk_dropped": 1,
        "gallery_distractors_policy": "gallery 0000 distractors kept (all of them)",
    }
    for kind in ("plain", "masked"):
        s = r[kind]["scores"]
        assert s["rank1"] == s["mAP"] == 1.0, kind
        assert s["queries_scored"] == 3 and s["gallery_distractors"] == 1
        t = r[kind]["threshold_at_fmr"]
        assert set(t) >= {"threshold", "false_match_rate", "true_match_rate", "same_pairs"}
        assert t["same_pairs"] == 4 and t["diff_pairs"] == 8  # cross-camera only
        assert r[kind]["speed"]["end_to_end"]["crops"] == 11
    assert r["masked"]["mask_status"] == {"masked": 11, "no_person": 0, "fragment": 0}
    assert set(r["masked_minus_plain"]) >= {"rank1", "mAP", "threshold_at_fmr"}
    assert r["embedder"]["dim"] == 3 and r["subset"] is None
    # folders outside the assets dir and the repo: never an absolute path
    assert r["query"] == {"path": "m/query", "relative_to": "outside (last two parts only)"}
    assert str(tmp_path) not in out.read_text()


def test_subset_without_distractors_and_no_masks(tmp_path: Path) -> None:
    bench = load_benchmark("reid_bench")
    q, g = market_folders(tmp_path / "m")
    out = tmp_path / "r.json"
    bench.main(
        [
            "--query",
            str(q),
            "--gallery",
            str(g),
            "--out",
            str(out),
            "--no-progress",
            "--persons",
            "2",
            "--no-distractors",
            "--no-masks",
        ],
        reid=MeanColour(),
        segmenter=CentreMask(),
    )
    r = json.loads(out.read_text())
    assert r["subset"]["persons"] == 2 and "0001..0002" in r["subset"]["definition"]
    assert (r["counts"]["query_crops"], r["counts"]["gallery_crops"]) == (2, 4)
    assert r["counts"]["gallery_distractors"] == 0
    assert r["masked"] == {"absent": "--no-masks given"}


def test_more_rates_and_rates_at_given_thresholds(tmp_path: Path) -> None:
    """--more-fmr lists a threshold per rate; --rates-at gives the rates a threshold has."""
    bench = load_benchmark("reid_bench")
    q, g = market_folders(tmp_path / "m")
    out = tmp_path / "r.json"
    args = ["--query", str(q), "--gallery", str(g), "--out", str(out), "--no-progress"]
    bench.main(
        [*args, "--no-masks", "--more-fmr", "0.0", "0.5", "--rates-at", "-1.0", "1.01"],
        reid=MeanColour(),
    )
    plain = json.loads(out.read_text())["plain"]
    at = plain["thresholds_at_fmr"]
    assert [t["target_rate"] for t in at] == [0.0, 0.5]
    assert at[0]["false_match_rate"] == 0.0 and at[1]["false_match_rate"] <= 0.5
    assert at[0]["threshold"] >= at[1]["threshold"]  # a stricter rate, a higher threshold
    low, high = plain["rates_at_threshold"]
    assert (low["false_match_rate"], low["true_match_rate"]) == (1.0, 1.0)  # all pairs match
    assert (high["false_match_rate"], high["true_match_rate"]) == (0.0, 0.0)  # none do
    with pytest.raises(SystemExit):
        bench.main([*args, "--more-fmr", "1.5"], reid=MeanColour())


def test_bad_folders_give_clear_errors(tmp_path: Path) -> None:
    bench = load_benchmark("reid_bench")
    q, g = market_folders(tmp_path / "m")
    args = ["--out", str(tmp_path / "r.json"), "--no-progress"]
    with pytest.raises(SystemExit, match="query folder: ReID crop folder not found"):
        bench.main(
            ["--query", str(tmp_path / "nope"), "--gallery", str(g), *args], reid=MeanColour()
        )
    other = tmp_path / "other"
    other.mkdir()
    cv2.imwrite(str(other / "frame_0001.jpg"), crop((1, 2, 3), 0))
    with pytest.raises(SystemExit, match=r"gallery folder: .*not in Market-1501 naming"):
        bench.main(["--query", str(q), "--gallery", str(other), *args], reid=MeanColour())
    assert not (tmp_path / "r.json").exists()


@pytest.mark.assets
def test_real_default_config(tmp_path: Path, assets: Path) -> None:
    """The default config's embedder (retail-0286, OpenVINO, from the assets), no segmenter."""
    bench = load_benchmark("reid_bench")
    q, g = market_folders(tmp_path / "m")
    out = tmp_path / "r.json"
    bench.main(["--query", str(q), "--gallery", str(g), "--out", str(out), "--no-progress"])
    r = json.loads(out.read_text())
    assert r["embedder"]["backend"] == "openvino" and r["embedder"]["dim"] == 256
    assert r["embedder"]["weights_file"] == {
        "path": "models/reid_openvino/person-reidentification-retail-0286/"
        "person-reidentification-retail-0286.xml",
        "relative_to": "assets",
    }
    assert r["masked"]["absent"].startswith("the config's segmenter is 'none'")
    assert 0.0 <= r["plain"]["scores"]["mAP"] <= 1.0
