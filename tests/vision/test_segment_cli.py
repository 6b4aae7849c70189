"""``mcvision segment``: masks for given or detected boxes, written over the image."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from mcvision.cli import main
from mcvision.vision.mask_overlay import parse_box

VIDEO = "footage/one-by-one-person-detection.mp4"


@pytest.fixture(scope="module")
def frame_png(assets: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cap = cv2.VideoCapture(str(assets / VIDEO))
    cap.set(cv2.CAP_PROP_POS_MSEC, 56_000)  # one woman walking away from the camera
    ok, frame = cap.read()
    cap.release()
    assert ok
    out = tmp_path_factory.mktemp("img") / "frame.png"
    cv2.imwrite(str(out), frame)
    return out


def test_parse_box() -> None:
    assert parse_box(" 1, 2,30,40") == (1.0, 2.0, 30.0, 40.0)
    with pytest.raises(ValueError, match="four numbers"):
        parse_box("1,2,3")
    with pytest.raises(ValueError, match="x2 > x1"):
        parse_box("10,2,3,40")


@pytest.mark.assets
def test_segment_given_and_detected_boxes(
    frame_png: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "masks.png"
    person = "398,0,554,385"  # the woman's box (YOLO11n, rounded)
    code = main(
        [
            "segment",
            "--image",
            str(frame_png),
            "--boxes",
            person,
            "--detect",
            "--out",
            str(out),
            "--json",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["backend"] == "sam" and len(report["boxes"]) == 2  # given + detected
    for r in report["boxes"]:
        assert r["inside_box"] >= 0.99 and 0.3 < r["box_fill"] < 0.8
    drawn, plain = cv2.imread(str(out)), cv2.imread(str(frame_png))
    assert drawn.shape == plain.shape
    changed = np.abs(drawn.astype(int) - plain.astype(int)).sum(axis=2) > 30
    assert changed[100:300, 430:520].mean() > 0.8  # tinted inside the mask
    assert changed[350:430, 0:300].mean() < 0.01  # the floor far from her is untouched


def test_segment_usage_errors(
    frame_png: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "o.png")
    assert main(["segment", "--image", str(frame_png), "--boxes", "1,2,3", "--out", out]) == 2
    assert "four numbers" in capsys.readouterr().err
    assert main(["segment", "--image", str(frame_png), "--out", out]) == 2
    assert "give --boxes, --detect, or both" in capsys.readouterr().err
    assert (
        main(["segment", "--image", str(tmp_path / "no.png"), "--boxes", "1,2,3,4", "--out", out])
        == 2
    )
    assert "cannot read image" in capsys.readouterr().err
    code = main(
        [
            "segment",
            "--image",
            str(frame_png),
            "--boxes",
            "1,2,30,40",
            "--out",
            out,
            "--weights",
            str(tmp_path / "no_sam"),
        ]
    )
    assert code == 1 and "no_sam" in capsys.readouterr().err
