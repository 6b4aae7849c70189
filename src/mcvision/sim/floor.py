"""The simulated store's floor plan: where every camera's pixels lie in metres.

The renderer draws a person whose feet are at pixel row ``y`` ``person_height(y)``
pixels tall, linear in ``y`` (:meth:`~mcvision.sim.scenario.CameraSpec.person_height`).
That is exactly a level pinhole camera over a flat floor: with the vanishing row
``y_v`` where that height would reach 0, a person of :data:`PERSON_M` metres at
depth ``Z`` is ``f·PERSON_M/Z`` pixels tall and stands ``f·C/Z`` pixels below
``y_v`` (``C`` the camera's height), so ``C = PERSON_M / a`` for the slope ``a``
of ``person_height``, and a foot pixel ``(x, y)`` is on the floor at::

    X = C·(x − W/2) / (y − y_v)      (metres to the right)
    Z = f·C / (y − y_v)              (metres ahead), f = the frame width in pixels

— a homography (:func:`camera_homography`). The cameras are placed on one floor
plan (:func:`floor_layout`), all facing the same way (+y, "north"), from the
entrance camera at the origin, breadth-first through the doors:

* an **overlapping** pair (``overlap: true``) shares floor: the second camera's
  door is :data:`HANDOVER_M` metres back from the first one's door, inside the
  first camera's view, and the first camera's door inside the second one's, so
  a person handed over walks that shared strip while both cameras see them
  (:func:`handover`; :mod:`mcvision.sim.routes` draws them on both at once);
* any other door pair is joined by an unseen corridor: the second camera's door
  lies straight on from the first one's, as far as a 1 m/s walk covers in the
  transit's shortest drawn gap (at most :data:`CORRIDOR_M`), so every simulated
  transit is walkable.

Simplification: people are drawn only on the cameras their route puts them on, so
floor one camera shares geometrically with another outside the handover strip
shows the person on one camera only (as if shelving hid them); group followers are
shifted by the same pixels on every camera (a few centimetres of floor mismatch).

Example:
    >>> from mcvision.sim.scenario import default_scenario
    >>> sc = default_scenario()
    >>> lay = floor_layout(sc)
    >>> sorted(lay)
    ['cam1', 'cam2', 'cam3']
    >>> a, b = handover(sc, lay, "cam2", "cam3")
    >>> round(float(np.hypot(*(b - a))), 2)   # the shared strip, metres
    4.0
"""

from __future__ import annotations

from collections import deque

import numpy as np

from mcvision.sim.scenario import OUTSIDE, CameraSpec, Scenario

__all__ = [
    "CORRIDOR_M",
    "HANDOVER_M",
    "PERSON_M",
    "calibration_points",
    "camera_homography",
    "floor_layout",
    "handover",
    "to_floor",
    "to_image",
]

PERSON_M = 1.7  #: height of a simulated person, metres (fixes the floor's scale)
HANDOVER_M = 4.0  #: length of the floor strip an overlapping pair shares at its doors
CORRIDOR_M = 5.0  #: the longest straight door-to-door distance of a non-overlapping transit
_WALK_MPS = 1.0


def camera_homography(cam: CameraSpec) -> np.ndarray:
    """Image pixels → the camera's own floor frame (X right, Z ahead), metres."""
    h, w = float(cam.height), float(cam.width)
    top = cam.horizon * h
    slope = (cam.person_height_near - cam.person_height_far) * h * cam.scale / max(h - top, 1.0)
    if slope <= 0:
        raise ValueError(
            f"camera {cam.id}: person_height_near must exceed person_height_far for a floor model"
        )
    y_v = top - cam.person_height_far * h * cam.scale / slope
    c = PERSON_M / slope
    f = w
    return np.array([[c, 0.0, -c * w / 2], [0.0, 0.0, f * c], [0.0, 1.0, -y_v]], np.float64)


def _pose(yaw_deg: float, tx: float, ty: float) -> np.ndarray:
    """Camera floor frame (X right, Z ahead) → plan (x east, y north); yaw 0 faces north."""
    r = np.deg2rad(yaw_deg)
    c, s = np.cos(r), np.sin(r)
    return np.array([[c, -s, tx], [s, c, ty], [0.0, 0.0, 1.0]])  # X→(c, s), Z→(-s, c)


def to_floor(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """(N, 2) pixels → (N, 2) metres with the image→plan homography ``h``."""
    p = np.asarray(pts, np.float64).reshape(-1, 2)
    q = np.hstack([p, np.ones((len(p), 1))]) @ h.T
    return q[:, :2] / q[:, 2:3]


def to_image(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """(N, 2) metres → (N, 2) pixels (the inverse of :func:`to_floor`)."""
    return to_floor(np.linalg.inv(h), pts)


def _in_view(cam: CameraSpec, px: np.ndarray) -> bool:
    x, y = float(px[0, 0]), float(px[0, 1])
    return 0.0 <= x <= cam.width and cam.horizon * cam.height < y <= cam.height


def _floor_centre(cam: CameraSpec) -> np.ndarray:
    return np.array([[cam.width / 2, (cam.horizon + 1.0) / 2 * cam.height]])


def floor_layout(sc: Scenario) -> dict[str, np.ndarray]:
    """Every camera's image → floor-plan homography (metres), placed as the module says."""
    ent = sc.entrance_camera()
    local = {c.id: camera_homography(c) for c in sc.cameras}
    out: dict[str, np.ndarray] = {ent.id: local[ent.id]}
    queue = deque([ent.id])
    while queue:
        a = queue.popleft()
        cam_a = sc.camera(a)
        for door in cam_a.doors:
            b = door.to
            if b == OUTSIDE or b in out:
                continue
            cam_b = sc.camera(b)
            d_a = to_floor(out[a], np.array([cam_a.px(door.point)]))[0]
            centre = to_floor(out[a], _floor_centre(cam_a))[0]
            u = (d_a - centre) / max(float(np.linalg.norm(d_a - centre)), 1e-9)
            d_b_local = to_floor(local[b], np.array([cam_b.px(cam_b.door(a).point)]))[0]
            tr = sc.transit(a, b)
            assert tr is not None  # checked by the scenario
            if tr.overlap:
                length = HANDOVER_M
                while True:
                    target = d_a - length * u
                    hb = _pose(0.0, *(target - d_b_local)) @ local[b]
                    ok = _in_view(cam_a, to_image(out[a], target[None])) and _in_view(
                        cam_b, to_image(hb, d_a[None])
                    )
                    if ok or length <= 0.5:
                        break
                    length /= 2
            else:
                span = tr.max_s - tr.min_s
                margin = min(0.2 * span + 2.0 / sc.fps, span / 2)
                dist = min(CORRIDOR_M, _WALK_MPS * (tr.min_s + margin))
                target = d_a + dist * u
                hb = _pose(0.0, *(target - d_b_local)) @ local[b]
            out[b] = hb
            queue.append(b)
    for c in sc.cameras:  # cameras no door reaches: side by side, far away
        if c.id not in out:
            out[c.id] = _pose(0.0, 100.0 * (len(out) + 1), 0.0) @ local[c.id]
    return out


def handover(
    sc: Scenario, layout: dict[str, np.ndarray], here: str, there: str
) -> tuple[np.ndarray, np.ndarray]:
    """The shared floor strip walked from camera ``here`` into overlapping ``there``.

    Returns (start, end) in plan metres: ``start`` is where ``there`` first sees the
    person (its door), ``end`` where ``here`` last does (its door).
    """
    cam_h, cam_t = sc.camera(here), sc.camera(there)
    start = to_floor(layout[there], np.array([cam_t.px(cam_t.door(here).point)]))[0]
    end = to_floor(layout[here], np.array([cam_h.px(cam_h.door(there).point)]))[0]
    return start, end


def calibration_points(cam: CameraSpec, h: np.ndarray) -> list[dict[str, list[float]]]:
    """Six image↔floor pairs spread over the camera's floor (the site config's ``floor``)."""
    top = cam.horizon * cam.height
    ys = [top + 0.15 * (cam.height - top), cam.height - 2.0]
    xs = [0.05 * cam.width, 0.5 * cam.width, 0.95 * cam.width]
    img = np.array([(x, y) for y in ys for x in xs])
    flr = to_floor(h, img)
    return [
        {
            "image": [round(float(p[0]), 2), round(float(p[1]), 2)],
            "floor": [round(float(q[0]), 4), round(float(q[1]), 4)],
        }
        for p, q in zip(img, flr, strict=True)
    ]
