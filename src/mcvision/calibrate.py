"""``mcvision calibrate``: check one camera's floor calibration and draw it.

Fits the camera's ``floor`` point pairs (:class:`~mcvision.identity.geometry.FloorCalibration`),
reports the reprojection error (pixels in the frame, metres on the floor) and
writes a picture of the floor's metre grid drawn over a frame — given as an
image, or the first frame read from the camera's own source. With a floor-plan
image in the config (``plan_image``, ``plan_px_per_m``), a second picture shows
the camera's calibration points and the floor it sees on the plan.

Example:
    >>> report = calibrate(cfg, "cam1", out="cam1_floor.png")   # doctest: +SKIP
    >>> report["mean_error_m"], report["ok"]                    # doctest: +SKIP
    (0.02, True)
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mcvision.config import ConfigError, FloorConfig, SiteConfig
from mcvision.identity.geometry import FloorCalibration, FloorCalibrationError, draw_floor_grid

__all__ = ["CalibrationError", "calibrate", "first_frame"]


class CalibrationError(RuntimeError):
    """A frame that cannot be read, or a picture that cannot be written."""


def first_frame(cfg: SiteConfig, camera_id: str, timeout_s: float = 10.0) -> np.ndarray:
    """One frame from the camera's source (file, folder, stream or webcam)."""
    from mcvision.capture.source import LiveSource, SourceError, open_source

    cam = cfg.camera(camera_id)
    try:
        src = open_source(cam, start_ts=time.time())
        try:
            if isinstance(src, LiveSource):  # a stream: wait a while for its first frame
                src.start()
                deadline = time.monotonic() + timeout_s
                while time.monotonic() < deadline:
                    got = src.take(max_frames=1, wait_s=0.5)
                    if got:
                        return got[0].image
            else:
                for frame in src.frames():
                    return frame.image
        finally:
            src.stop()
    except SourceError as err:
        raise CalibrationError(f"camera {camera_id}: cannot read a frame: {err}") from None
    raise CalibrationError(f"camera {camera_id}: its source gave no frame ({cam.source})")


def _plan_picture(
    floor: FloorConfig, cal: FloorCalibration, size: tuple[int, int], base: Path
) -> np.ndarray:
    assert floor.plan_image is not None and floor.plan_px_per_m is not None
    path = Path(floor.plan_image)
    path = path if path.is_absolute() else base / path
    plan = cv2.imread(str(path))
    if plan is None:
        raise CalibrationError(f"camera {cal.camera_id}: cannot read plan_image {path}")
    s, (ox, oy) = floor.plan_px_per_m, floor.plan_origin_px

    def px(xy: np.ndarray) -> np.ndarray:
        return np.column_stack([ox + xy[:, 0] * s, oy - xy[:, 1] * s])  # plan y grows up

    w, h = size
    edge = np.array(
        [[x, h - 1] for x in np.linspace(0, w - 1, 20)]
        + [[w - 1, y] for y in np.linspace(h - 1, h * 0.5, 10)]
        + [[x, h * 0.5] for x in np.linspace(w - 1, 0, 20)]
        + [[0, y] for y in np.linspace(h * 0.5, h - 1, 10)]
    )
    seen = px(cal.project(edge))
    if np.all(np.isfinite(seen)):
        cv2.polylines(plan, [np.round(seen).astype(np.int32)], True, (0, 215, 255), 2, cv2.LINE_AA)
    for p in floor.points:
        q = px(np.array([p.floor], np.float64))[0]
        cv2.circle(plan, (round(q[0]), round(q[1])), 5, (0, 200, 0), 2, cv2.LINE_AA)
    return plan


def calibrate(
    cfg: SiteConfig,
    camera_id: str,
    *,
    out: str | Path,
    frame: str | Path | None = None,
    step_m: float = 1.0,
    base: str | Path = ".",
) -> dict[str, Any]:
    """Fit and check a camera's floor calibration; write the grid picture(s).

    Args:
        cfg: the site config.
        camera_id: the camera to check.
        out: the PNG to write (the plan picture, when there is a plan, beside it as
            ``<out>_plan.png``).
        frame: an image of the camera's view; default: the first frame of its source.
        step_m: grid spacing, metres.
        base: folder relative ``plan_image`` paths resolve against (the config's).

    Returns:
        The reprojection report (``mean/max_error_px``, ``mean/max_error_m``, ``ok``)
        with the pictures written.

    Raises:
        ConfigError: unknown camera, or no ``floor`` calibration, or degenerate pairs.
        CalibrationError: the frame cannot be read or the picture written.
    """
    try:
        cam = cfg.camera(camera_id)
    except KeyError:
        raise ConfigError(
            f"unknown camera {camera_id!r} (cameras: {[c.id for c in cfg.cameras]})"
        ) from None
    if cam.floor is None:
        raise ConfigError(f"camera {camera_id!r} has no floor calibration (cameras[].floor.points)")
    try:
        cal = FloorCalibration.from_config(cam.id, cam.floor)
    except FloorCalibrationError as err:
        raise ConfigError(str(err)) from None
    if frame is not None:
        img = cv2.imread(str(frame))
        if img is None:
            raise CalibrationError(f"cannot read the frame image {frame}")
    else:
        img = first_frame(cfg, cam.id)
    pairs = [(p.image, p.floor) for p in cam.floor.points]
    pic = draw_floor_grid(img, cal, pairs, step_m=step_m)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), pic):
        raise CalibrationError(f"cannot write {out}")
    report: dict[str, Any] = {**cal.report(), "image": str(out)}
    if cam.floor.plan_image is not None:
        plan_out = out.with_name(out.stem + "_plan.png")
        size = (img.shape[1], img.shape[0])
        if not cv2.imwrite(str(plan_out), _plan_picture(cam.floor, cal, size, Path(base))):
            raise CalibrationError(f"cannot write {plan_out}")
        report["plan_image"] = str(plan_out)
    return report
