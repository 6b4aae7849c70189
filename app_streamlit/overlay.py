"""Pictures the dashboard draws: a heatmap over a camera's snapshot, a person's path on it.

Plain NumPy/OpenCV functions that take and return RGB images (``H × W × 3``
``uint8``), with no Streamlit in them, so they are tested on their own. Inputs
are what the API answers: a snapshot JPEG (``/cameras/{id}/snapshot``, faces
already blurred there), heatmap counts (``/heatmap/{id}``: rows top to bottom)
and path points (``/paths/{id}``: normalized foot positions in time order).

Example:
    >>> import numpy as np
    >>> img = np.zeros((90, 160, 3), np.uint8)
    >>> heat_overlay(img, [[0, 4], [1, 0]]).shape
    (90, 160, 3)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import cv2
import numpy as np

__all__ = ["PATH_END", "PATH_LINE", "PATH_START", "decode_jpeg", "draw_path", "heat_overlay"]

PATH_LINE = (30, 144, 255)  # RGB: blue, apart from heat, zones (cyan), boxes (green)
PATH_START = (60, 220, 60)
PATH_END = (235, 50, 50)
_OUTLINE = (20, 20, 20)


def decode_jpeg(data: bytes) -> np.ndarray:
    """An RGB image from JPEG (or PNG) bytes.

    Raises:
        ValueError: the bytes are not an image OpenCV can read.
    """
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if img is None:
        raise ValueError(f"not a readable image ({len(data)} bytes)")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _check_image(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8 or min(img.shape[:2]) < 1:
        raise ValueError(f"expected an H×W×3 uint8 image, got {img.dtype} {img.shape}")
    return img


def heat_overlay(
    image: np.ndarray, counts: Sequence[Sequence[float]] | np.ndarray, opacity: float = 0.6
) -> np.ndarray:
    """``image`` with the heatmap ``counts`` blended over it (a new image).

    Each grid cell covers its share of the picture (``counts[iy][ix]``, rows top
    to bottom); empty cells leave the picture as it is, busier cells get hotter
    colours (OpenCV's inferno map, square-root scaled so a few points still show)
    and more opacity, up to ``opacity``.

    Raises:
        ValueError: not an RGB image, counts not a non-empty 2-D grid, or
            negative counts.
    """
    img = _check_image(image)
    grid = np.asarray(counts, dtype=np.float64)
    if grid.ndim != 2 or grid.size == 0:
        raise ValueError(f"counts must be a non-empty 2-D grid, got shape {grid.shape}")
    if (grid < 0).any() or not np.isfinite(grid).all():
        raise ValueError("counts must be finite and >= 0")
    if not 0.0 < opacity <= 1.0:
        raise ValueError(f"opacity must be in (0, 1], got {opacity}")
    out = img.copy()
    peak = grid.max()
    if peak <= 0:
        return out
    h, w = img.shape[:2]
    level = np.sqrt(grid / peak).astype(np.float32)
    cells = cv2.resize(level, (w, h), interpolation=cv2.INTER_NEAREST)
    colour = cv2.applyColorMap(np.round(cells * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)
    colour = cv2.cvtColor(colour, cv2.COLOR_BGR2RGB).astype(np.float32)
    alpha = np.where(cells > 0, opacity * (0.45 + 0.55 * cells), 0.0)[..., None]
    blended = out.astype(np.float32) * (1.0 - alpha) + colour * alpha
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)


def _point(p: Mapping[str, Any] | Sequence[float]) -> tuple[float, float, float]:
    if isinstance(p, Mapping):
        return float(p["ts"]), float(p["x"]), float(p["y"])
    ts, x, y = p[:3]
    return float(ts), float(x), float(y)


def draw_path(
    image: np.ndarray,
    points: Iterable[Mapping[str, Any] | Sequence[float]],
    gap_s: float = 10.0,
    color: tuple[int, int, int] = PATH_LINE,
) -> np.ndarray:
    """``image`` with a person's path drawn on it (a new image).

    Args:
        image: RGB picture of the camera.
        points: ``{"ts", "x", "y"}`` mappings or ``(ts, x, y)`` tuples, x and y
            normalized 0..1 of the frame (foot positions), in any order.
        gap_s: points further apart in time start a new stretch (the person left
            the view and came back): no line is drawn across the gap.
        color: RGB of the line.

    Returns:
        The picture with the line (dark-outlined, so it shows on any
        background), a green dot at the first point and a red dot at the last.

    Raises:
        ValueError: not an RGB image, or a point outside 0..1 (allowing 5 %
            past the edges, as feet can be).
    """
    img = _check_image(image)
    out = img.copy()
    pts = sorted(_point(p) for p in points)
    if not pts:
        return out
    h, w = img.shape[:2]
    arr = np.array(pts, dtype=np.float64)
    if (arr[:, 1:] < -0.05).any() or (arr[:, 1:] > 1.05).any():
        raise ValueError("path points must be normalized (x, y in 0..1)")
    xy = np.round(np.clip(arr[:, 1:], 0.0, 1.0) * (w - 1, h - 1)).astype(np.int32)
    thick = max(2, round(max(h, w) / 320))
    breaks = np.flatnonzero(np.diff(arr[:, 0]) > gap_s) + 1
    for stretch in np.split(xy, breaks):
        if len(stretch) >= 2:
            line = [stretch.reshape(-1, 1, 2)]
            cv2.polylines(out, line, False, _OUTLINE, thick + 2, cv2.LINE_AA)
            cv2.polylines(out, line, False, color, thick, cv2.LINE_AA)
    for (x, y), dot in ((xy[0], PATH_START), (xy[-1], PATH_END)):
        cv2.circle(out, (int(x), int(y)), thick * 2 + 2, _OUTLINE, -1, cv2.LINE_AA)
        cv2.circle(out, (int(x), int(y)), thick * 2, dot, -1, cv2.LINE_AA)
    return out
