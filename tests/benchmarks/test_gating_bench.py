"""The gating benchmark's pieces: the half-empty clip and its two parts, the soak's verdicts.

A synthetic clip (a bright box is "a person") and a detector that finds the box stand in
for the footage and YOLO; no timing is asserted.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import cv2
import numpy as np
import pytest

from support import load_benchmark

NATIVE = 10.0
W, H = 160, 96


def person_at(t: float) -> bool:
    """In view 4-8 s, 10-14 s and 16-20 s of a 20 s clip; empty otherwise."""
    return 4 <= t < 8 or 10 <= t < 14 or 16 <= t < 20


def frame(person: bool, x: int = 60) -> np.ndarray:
    img = np.full((H, W, 3), 60, np.uint8)
    if person:
        img[20:80, x : x + 20] = 230
    return img


class BoxDetector:
    """Finds the bright box (one detection) in the frames it is given."""

    def detect(self, frames: list[np.ndarray]) -> list[list[int]]:
        return [[1] if (f > 200).any() else [] for f in frames]


@pytest.fixture(scope="module")
def gating() -> ModuleType:
    return load_benchmark("_gating")


def write_clip(path: Path, people: Any) -> None:
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), NATIVE, (W, H))
    for i in range(int(20 * NATIVE)):
        out.write(frame(people(i / NATIVE)))
    out.release()


def frames_of(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        out.append(img)
    return out


def test_half_empty_clip_parts_split_where_nobody_is_in_view(
    gating: ModuleType, tmp_path: Path
) -> None:
    src = tmp_path / "src.mp4"
    write_clip(src, person_at)
    out = tmp_path / "half_empty.mp4"
    scene = gating.half_empty_clip(src, out, BoxDetector(), 5.0, 640, margin_s=1.0)
    whole = frames_of(out)
    tune, held = (frames_of(p) for p in gating.part_paths(out))
    assert len(tune) + len(held) == len(whole)
    assert len(tune) > 0 and len(held) > 0
    seen = [bool((f > 200).any()) for f in whole]
    assert 0.4 <= sum(seen) / len(seen) <= 0.6  # made about half empty
    assert not any((f > 200).any() for f in (tune[-1], held[0]))  # the cut is in an empty moment
    added = len(whole) - int(20 * NATIVE)
    assert round(scene["added_empty_s"] * NATIVE) == added
    # The filler stops margin_s before the first person (the first 3 s: 0-4 s less 1 s),
    # so no looped frame has the box: the frames with it are the source's.
    assert sum(seen) == sum(person_at(i / NATIVE) for i in range(int(20 * NATIVE)))


def test_half_empty_clip_needs_an_empty_start(gating: ModuleType, tmp_path: Path) -> None:
    src = tmp_path / "src.mp4"
    write_clip(src, lambda t: t < 5)
    with pytest.raises(SystemExit, match="does not start empty"):
        gating.half_empty_clip(src, tmp_path / "o.mp4", BoxDetector(), 5.0, 640)


def test_soak_capacity_is_the_last_count_before_the_first_failure() -> None:
    cap = load_benchmark("soak_capacity")
    cams = {"a": {"read": 290, "dropped": 10, "accounted": True}}
    res = {
        "cameras_n": 3,
        "gating": True,
        "cameras": cams,
        "latency_s": {"p95": 0.5, "p50": 0.2},
        "events": {"lost": 0},
    }
    row = cap.judge(res, p95_s=1.0, max_dropped=0.02)
    assert not row["passed"] and row["checks"]["dropped"] is False  # 10 of 300 > 2 %
    assert cap.judge(res, p95_s=1.0, max_dropped=0.05)["passed"]
    slow = {**res, "latency_s": {"p95": 1.2, "p50": 0.4}}
    assert not cap.judge(slow, p95_s=1.0, max_dropped=0.05)["passed"]
    rows = [
        {"gating": False, "cameras": 2, "passed": True},
        {"gating": False, "cameras": 3, "passed": False},
        {"gating": False, "cameras": 4, "passed": True},  # after a failure: not counted
        {"gating": True, "cameras": 6, "passed": True},
    ]
    assert cap.capacity(rows, False) == 2
    assert cap.capacity(rows, True) == 6
    assert cap.capacity([], True) is None
