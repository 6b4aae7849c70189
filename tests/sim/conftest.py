"""Synthetic MOT sequences and a tiny scenario, so the simulator tests need no assets."""

from __future__ import annotations

import copy
from pathlib import Path

import cv2
import numpy as np
import pytest
from sim_crops import write_crop_folder

from mcvision.sim.scenario import Scenario

# (id, class, visibility, x, y, w, h) per frame; 640x480 images
PEOPLE = [
    (1, 1, 1.0, 100, 100, 80, 220),  # tall: kept
    (2, 1, 0.9, 300, 200, 60, 150),  # kept
    (3, 1, 1.0, 500, 300, 30, 60),  # too small
    (4, 1, 0.3, 400, 100, 70, 200),  # occluded
    (5, 2, 1.0, 200, 250, 70, 200),  # not a pedestrian
    (6, 1, 1.0, 600, 100, 70, 200),  # leaves the frame on the right
]


def write_mot(root: Path, name: str = "SYN-01", frames: int = 4, people=PEOPLE) -> Path:
    """A MOT-format sequence with coloured 'people' on a noisy background."""
    seq = root / name
    (seq / "img1").mkdir(parents=True)
    (seq / "gt").mkdir()
    (seq / "seqinfo.ini").write_text(
        f"[Sequence]\nname={name}\nimDir=img1\nframeRate=30\nseqLength={frames}\n"
        "imWidth=640\nimHeight=480\nimExt=.jpg\n"
    )
    rng = np.random.default_rng(0)
    rows = []
    for f in range(1, frames + 1):
        img = rng.integers(80, 120, (480, 640, 3), dtype=np.uint8)
        for pid, cls, vis, x, y, w, h in people:
            colour = (40 * pid % 255, 90, 200 - 20 * pid)
            cv2.rectangle(img, (x + 2 * f, y), (x + w + 2 * f, y + h), colour, -1)
            rows.append(f"{f},{pid},{x + 2 * f},{y},{w},{h},1,{cls},{vis}")
        cv2.imwrite(str(seq / "img1" / f"{f:06d}.jpg"), img)
    (seq / "gt" / "gt.txt").write_text("\n".join(rows) + "\n")
    return seq


@pytest.fixture
def people_dir(tmp_path: Path) -> Path:
    root = tmp_path / "people" / "train"
    write_mot(root, "SYN-01")
    write_mot(root, "SYN-02", people=[(7, 1, 1.0, 50, 40, 90, 260), (8, 1, 1.0, 250, 60, 70, 180)])
    return tmp_path / "people"


TINY = {
    "site_id": "tiny",
    "fps": 10,
    "duration_s": 6.0,
    "matting": "feather",
    "noise": 1.0,
    "cameras": [
        {
            "id": "a",
            "width": 192,
            "height": 108,
            "doors": [{"to": "outside", "point": [0.05, 0.85]}, {"to": "b", "point": [0.95, 0.7]}],
            "lines": [{"name": "door", "points": [[0.2, 0.45], [0.2, 0.99]], "inside": "left"}],
            "zones": [
                {
                    "name": "till",
                    "polygon": [[0.4, 0.6], [0.7, 0.6], [0.7, 0.95], [0.4, 0.95]],
                    "dwell_s": [0.6, 0.8],
                }
            ],
        },
        {
            "id": "b",
            "width": 192,
            "height": 108,
            "scale": 0.9,
            "gain": 0.8,
            "colour": [1.1, 1.0, 0.9],
            "doors": [{"to": "a", "point": [0.05, 0.75]}],
            "zones": [
                {
                    "name": "shelf",
                    "polygon": [[0.4, 0.5], [0.8, 0.5], [0.8, 0.9], [0.4, 0.9]],
                    "dwell_s": [0.5, 0.7],
                }
            ],
        },
    ],
    "transits": [{"a": "a", "b": "b", "min_s": 0.2, "max_s": 0.6}],
    "population": {
        "shoppers": 2,
        "staff": 1,
        "returning": 0,
        "zones_per_visit": [1, 1],
        "arrivals_s": [0.1, 0.4],
        "walk_speed": 1.2,
    },
}


@pytest.fixture
def tiny_data() -> dict:
    """The tiny scenario as a mapping (a fresh copy to edit)."""
    return copy.deepcopy(TINY)


@pytest.fixture
def tiny() -> Scenario:
    """Two 192x108 cameras, 6 s at 10 fps, two shoppers and one member of staff."""
    return Scenario.model_validate(TINY)


@pytest.fixture
def crop_dir(tmp_path: Path) -> Path:
    """Five people, each seen by 2-3 of five real cameras."""
    return write_crop_folder(
        tmp_path / "crops",
        {2: [1, 3], 7: [2, 4, 5], 11: [1, 2, 5], 23: [3, 4], 42: [1, 4, 5]},
    )
