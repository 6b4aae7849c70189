"""Synthetic ReID crop folders in Market-1501 naming for the simulator tests."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

# real camera -> a pure hue (BGR) for the synthetic ReID crops: which real camera a rendered
# person came from can be read back from the frame's pixels
CAMERA_COLOURS = {
    1: (0, 0, 220),
    2: (0, 200, 0),
    3: (220, 0, 0),
    4: (0, 200, 220),
    5: (200, 0, 200),
}


def write_crop_folder(root: Path, people: dict[int, list[int]], crops_per_camera: int = 3) -> Path:
    """A ReID crop folder in Market-1501 naming: person p on the cameras listed, solid crops.

    Each crop is 48x24, filled with its camera's colour (CAMERA_COLOURS) and a person-specific
    stripe; plus a distractor (0000), a junk crop (-1) and a ``.jpg.jpg`` file.
    """
    root.mkdir(parents=True)
    for pid, cams in people.items():
        for cam in cams:
            for k in range(crops_per_camera):
                img = np.zeros((48, 24, 3), np.uint8)
                img[:] = CAMERA_COLOURS[cam]
                img[20 + pid % 10 : 24 + pid % 10] = 255
                cv2.imwrite(str(root / f"{pid:04d}_c{cam}s1_{100 * k + pid:06d}_01.jpg"), img)
    grey = np.full((48, 24, 3), 128, np.uint8)
    cv2.imwrite(str(root / "0000_c1s1_000001_01.jpg"), grey)
    cv2.imwrite(str(root / "-1_c2s1_000002_01.jpg"), grey)
    first = min(people)
    quirk = np.zeros((48, 24, 3), np.uint8)
    quirk[:] = CAMERA_COLOURS[people[first][0]]
    cv2.imwrite(str(root / f"{first:04d}_c{people[first][0]}s2_009999_02.jpg.jpg"), quirk)
    return root
