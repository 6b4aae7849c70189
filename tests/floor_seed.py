"""The seeded shop of :mod:`seed` put on a floor plan, for the floor API and dashboard tests.

:func:`floor_config` adds floor calibrations to the ``entrance`` and ``aisle``
cameras (``till`` stays uncalibrated), a floor-plan picture and three areas. The
shop is 12 × 10 m; the entrance camera looks at the front strip (y 0..4 m, a
perspective view), the aisle camera straight down at the back (y 4..10 m):

- the aisle's ``shelves`` zone lies in the ``shelves`` area, its ``promo`` zone and
  the floor between the zones in the ``promo`` area;
- everything the entrance camera sees lies in the ``entry`` area.

So every expected floor number follows from the store's own track points and zones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mcvision.config import SiteConfig, parse_config
from seed import FRAME

PX_PER_M = 50.0
PLAN_M = (12.0, 10.0)
AREAS = {
    "entry": [[0, 0], [12, 0], [12, 4], [0, 4]],
    "shelves": [[0, 4], [4, 4], [4, 10], [0, 10]],
    "promo": [[4, 4], [8, 4], [8, 10], [4, 10]],
}
W, H = FRAME
_CORNERS = np.float32([[0, H], [W, H], [W, 100], [0, 100]])
HOMOGRAPHIES = {
    "entrance": cv2.getPerspectiveTransform(
        _CORNERS, np.float32([[3, 0], [9, 0], [12, 4], [0, 4]])
    ).astype(np.float64),
    "aisle": np.array([[1 / 160, 0.0, 0.0], [0.0, -1 / 120, 4.0 + H / 120], [0.0, 0.0, 1.0]]),
}


def to_floor(camera: str, px: float, py: float) -> tuple[float, float]:
    """Floor metres of a pixel of ``camera`` (the fixture's own homography)."""
    x, y, w = HOMOGRAPHIES[camera] @ np.array([px, py, 1.0])
    return (float(x / w), float(y / w))


def plan_picture(path: Path) -> Path:
    """A 600 × 500 px drawing of the shop (walls, shelves, till), floor (0, 0) at bottom-left."""
    w, h = int(PLAN_M[0] * PX_PER_M), int(PLAN_M[1] * PX_PER_M)
    img = np.full((h, w, 3), 245, np.uint8)

    def px(x: float, y: float) -> tuple[int, int]:
        return (round(x * PX_PER_M), round(h - y * PX_PER_M))

    cv2.rectangle(img, px(0, 0), px(12, 10), (60, 60, 60), 6)
    for x0, y0, x1, y1 in ((0.5, 5, 1.2, 9.5), (2.5, 5, 3.2, 9.5), (5, 6, 7, 6.6)):
        cv2.rectangle(img, px(x0, y0), px(x1, y1), (170, 170, 170), -1)
    cv2.rectangle(img, px(9, 6), px(11.5, 7), (120, 160, 200), -1)  # the till
    cv2.line(img, px(4, 0), px(8, 0), (245, 245, 245), 8)  # the door
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)
    return path


def floor_config(cfg: SiteConfig, root: Path, *, image: bool = True, areas: bool = True) -> Any:
    """``cfg`` (the seeded shop) with the floor calibrations, picture and areas added."""
    data = cfg.model_dump(mode="json")
    grid = [(x, y) for y in (150.0, 400.0, 700.0) for x in (50.0, 640.0, 1230.0)]
    for cam in data["cameras"]:
        if cam["id"] in HOMOGRAPHIES:
            cam["floor"] = {
                "points": [
                    {"image": [x, y], "floor": [round(v, 6) for v in to_floor(cam["id"], x, y)]}
                    for x, y in grid
                ]
            }
    plan: dict[str, Any] = {}
    if image:
        plan.update(
            image=str(plan_picture(Path(root) / "plan.png")),
            px_per_m=PX_PER_M,
            origin_px=[0.0, PLAN_M[1] * PX_PER_M],
        )
    if areas:
        plan["areas"] = [{"name": n, "polygon": p} for n, p in AREAS.items()]
    data["floor_plan"] = plan
    return parse_config(data)
