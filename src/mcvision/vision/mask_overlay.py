"""Person masks drawn over their image, for a person to check (``mcvision segment``).

:func:`parse_box` reads ``x1,y1,x2,y2``; :func:`segment_image` segments given (and/or
detected) boxes of one image and reports, per box, the mask's area, how much of its box
it fills and how much of it lies inside the box; :func:`draw_masks` draws them.

Example:
    >>> import numpy as np
    >>> img = np.zeros((20, 30, 3), np.uint8)
    >>> masks = np.zeros((1, 20, 30), bool); masks[0, 5:10, 5:10] = True
    >>> out = draw_masks(img, masks, [[4, 4, 11, 11]])
    >>> out.shape, bool(out[7, 7].any()), bool(out[0, 0].any())
    ((20, 30, 3), True, False)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

#: BGR colours, one per person in turn.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (60, 180, 255),
    (80, 220, 80),
    (255, 120, 60),
    (200, 80, 220),
    (40, 220, 220),
    (120, 120, 255),
    (220, 200, 60),
    (160, 255, 160),
)


def draw_masks(
    image: np.ndarray,
    masks: np.ndarray | None,
    boxes: np.ndarray | Sequence[Sequence[float]],
    *,
    alpha: float = 0.5,
    labels: Sequence[str] | None = None,
) -> np.ndarray:
    """A copy of ``image`` with each mask tinted, outlined, and its box drawn.

    Args:
        image: (H, W, 3) BGR.
        masks: (N, H, W) bool, or None (boxes only).
        boxes: (N, 4) xyxy.
        alpha: tint opacity inside a mask.
        labels: a text per box (default ``0 .. N-1``).
    """
    out = image.copy()
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    thick = max(1, round(max(image.shape[:2]) / 500))
    for i, box in enumerate(boxes):
        colour = PALETTE[i % len(PALETTE)]
        if masks is not None and masks[i].any():
            m = masks[i]
            tint = np.array(colour, np.float32)
            out[m] = (out[m].astype(np.float32) * (1 - alpha) + tint * alpha).astype(np.uint8)
            contours, _ = cv2.findContours(
                m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
            )
            cv2.drawContours(out, contours, -1, colour, thick)
        x1, y1, x2, y2 = (round(v) for v in box)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thick)
        text = labels[i] if labels is not None else str(i)
        cv2.putText(
            out,
            text,
            (x1 + 2, max(y1 - 4, 12)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4 * thick + 0.2,
            colour,
            thick,
            cv2.LINE_AA,
        )
    return out


def parse_box(text: str) -> tuple[float, float, float, float]:
    """``"x1,y1,x2,y2"`` → a box; ValueError naming the text when it is not one.

    Example:
        >>> parse_box("10,20,110,320")
        (10.0, 20.0, 110.0, 320.0)
    """
    parts = text.replace(" ", "").split(",")
    try:
        x1, y1, x2, y2 = (float(v) for v in parts)
    except ValueError:
        raise ValueError(f"box {text!r} is not x1,y1,x2,y2 (four numbers)") from None
    if not (x2 > x1 and y2 > y1):
        raise ValueError(f"box {text!r} needs x2 > x1 and y2 > y1")
    return x1, y1, x2, y2


@dataclass
class SegmentResult:
    """Masks of one image: boxes (N, 4), masks (N, H, W) or None, per-box stats."""

    boxes: np.ndarray
    masks: np.ndarray | None
    stats: list[dict[str, Any]]


def mask_stats(masks: np.ndarray | None, boxes: np.ndarray) -> list[dict[str, Any]]:
    """Per box: mask area (px), the box's share it fills, the mask's share inside the box."""
    from mcvision.vision.crops import clip_boxes

    out: list[dict[str, Any]] = []
    shape = masks.shape[1:] if masks is not None else (1 << 30, 1 << 30)
    for i, (x1, y1, x2, y2) in enumerate(clip_boxes(boxes, shape)):
        row: dict[str, Any] = {"box": [round(float(v), 1) for v in boxes[i]]}
        if masks is not None:
            area = int(masks[i].sum())
            inside = int(masks[i, y1:y2, x1:x2].sum())
            row.update(
                mask_px=area,
                box_fill=round(inside / max((x2 - x1) * (y2 - y1), 1), 4),
                inside_box=round(inside / area, 4) if area else None,
            )
        out.append(row)
    return out


def segment_image(
    image: np.ndarray,
    boxes: Sequence[Sequence[float]],
    segmenter: Any,
    detector: Any | None = None,
) -> SegmentResult:
    """Masks for ``boxes`` plus, with a ``detector``, the people it finds.

    Args:
        image: (H, W, 3) BGR.
        boxes: given xyxy boxes (may be empty when a detector is given).
        segmenter: a :class:`~mcvision.vision.segmenter.Segmenter`.
        detector: a :class:`~mcvision.vision.detector.PersonDetector`, or None.
    """
    from mcvision.types import Detections

    given = np.asarray(boxes, np.float32).reshape(-1, 4)
    if detector is not None:
        found = detector.detect([image])[0].xyxy.astype(np.float32).reshape(-1, 4)
        given = np.concatenate([given, found])
    dets = segmenter.segment(image, Detections(xyxy=given))
    return SegmentResult(given, dets.mask, mask_stats(dets.mask, given))


__all__ = [
    "PALETTE",
    "SegmentResult",
    "draw_masks",
    "mask_stats",
    "parse_box",
    "segment_image",
]
