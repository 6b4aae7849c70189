"""`mcvision calibrate`: the homography's reprojection error and the floor grid picture."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml

from mcvision.cli import main

PX_PER_M = 40.0  # the test camera: floor (x, y) m at pixel (40 x, 40 y), seen from above


def _frame() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(60, 90, (240, 320, 3), dtype=np.uint8)


def _points(bad: bool = False) -> list[dict[str, Any]]:
    img = [(20, 20), (300, 20), (300, 220), (20, 220), (160, 120)]
    out = [{"image": list(p), "floor": [p[0] / PX_PER_M, p[1] / PX_PER_M]} for p in img]
    if bad:
        out[4]["floor"] = [out[4]["floor"][0] + 4.0, out[4]["floor"][1]]  # 4 m off
    return out


def _site(tmp_path: Path, *, bad: bool = False, plan: bool = False) -> Path:
    video = tmp_path / "cam1.mp4"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 5, (320, 240))
    for _ in range(3):
        w.write(_frame())
    w.release()
    floor: dict[str, Any] = {"points": _points(bad)}
    if plan:
        cv2.imwrite(str(tmp_path / "plan.png"), np.full((300, 400, 3), 255, np.uint8))
        floor.update(plan_image="plan.png", plan_px_per_m=30, plan_origin_px=[20, 280])
    cfg = {
        "site_id": "cal",
        "cameras": [
            {"id": "cam1", "source": "cam1.mp4", "floor": floor},
            {"id": "cam2", "source": "cam1.mp4"},
        ],
    }
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_calibrate_reads_a_frame_from_the_source_and_draws_the_grid(tmp_path: Path, capsys) -> None:
    site = _site(tmp_path)
    out = tmp_path / "grid" / "cam1.png"
    code, stdout, _ = run(
        ["calibrate", "--config", str(site), "--camera", "cam1", "--out", str(out)], capsys
    )
    assert code == 0
    assert "5 point pairs" in stdout and "mean 0.00 px / 0.000 m" in stdout and "ok" in stdout
    pic = cv2.imread(str(out))
    assert pic is not None and pic.shape == (240, 320, 3)
    # the grid is drawn: the grid colour (BGR 0, 215, 255) is on the metre lines
    grid = (pic[:, :, 0] < 60) & (pic[:, :, 1] > 150) & (pic[:, :, 2] > 200)
    assert grid[:, 160].sum() > 150  # the x = 4 m line runs down column 160
    assert grid[120, :].sum() > 200  # the y = 3 m line along row 120


def test_calibrate_with_a_frame_image_reports_json(tmp_path: Path, capsys) -> None:
    site = _site(tmp_path)
    frame = tmp_path / "view.png"
    cv2.imwrite(str(frame), _frame())
    out = tmp_path / "cam1.png"
    code, stdout, _ = run(
        [
            "calibrate",
            "--config",
            str(site),
            "--camera",
            "cam1",
            "--frame",
            str(frame),
            "--out",
            str(out),
            "--json",
        ],
        capsys,
    )
    assert code == 0
    rep = json.loads(stdout)
    assert rep["camera"] == "cam1" and rep["points"] == 5 and rep["ok"] is True
    assert rep["mean_error_m"] < 1e-6 and rep["max_error_px"] < 1e-3 and out.exists()


def test_a_bad_calibration_exits_1_with_the_error(tmp_path: Path, capsys) -> None:
    site = _site(tmp_path, bad=True)
    out = tmp_path / "cam1.png"
    code, stdout, _ = run(
        ["calibrate", "--config", str(site), "--camera", "cam1", "--out", str(out), "--json"],
        capsys,
    )
    assert code == 1
    rep = json.loads(stdout)
    assert rep["ok"] is False and rep["max_error_m"] > 1.0 and rep["mean_error_px"] > 5
    assert out.exists()  # the picture shows where the bad pair is


def test_plan_picture_is_written_beside(tmp_path: Path, capsys) -> None:
    site = _site(tmp_path, plan=True)
    out = tmp_path / "cam1.png"
    code, stdout, _ = run(
        ["calibrate", "--config", str(site), "--camera", "cam1", "--out", str(out)], capsys
    )
    assert code == 0 and "cam1_plan.png" in stdout
    plan = cv2.imread(str(tmp_path / "cam1_plan.png"))
    assert plan is not None and (plan != 255).any()


@pytest.mark.parametrize(
    ("camera", "message"),
    [("cam2", "camera 'cam2' has no floor calibration"), ("cam9", "unknown camera 'cam9'")],
)
def test_calibrate_usage_errors(tmp_path: Path, capsys, camera: str, message: str) -> None:
    site = _site(tmp_path)
    code, _, err = run(
        ["calibrate", "--config", str(site), "--camera", camera, "--out", str(tmp_path / "x.png")],
        capsys,
    )
    assert code == 2 and message in err


def test_unreadable_frame_is_a_runtime_error(tmp_path: Path, capsys) -> None:
    site = _site(tmp_path)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    code, _, err = run(
        [
            "calibrate",
            "--config",
            str(site),
            "--camera",
            "cam1",
            "--frame",
            str(bad),
            "--out",
            str(tmp_path / "x.png"),
        ],
        capsys,
    )
    assert code == 1 and "cannot read the frame image" in err
