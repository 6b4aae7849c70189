"""Person masks drawn over their image, for a person to check (``mcvision segment``).

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

import cv2
import numpy as np

#: BGR colours, one per person in turn.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (60, 180, 255), (80, 220, 80), (255, 120, 60), (200, 80, 220),
    (40, 220, 220), (120, 120, 255), (220, 200, 60), (160, 255, 160),
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
            contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            cv2.drawContours(out, contours, -1, colour, thick)
        x1, y1, x2, y2 = (round(v) for v in box)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thick)
        text = labels[i] if labels is not None else str(i)
        cv2.putText(
            out, text, (x1 + 2, max(y1 - 4, 12)), cv2.FONT_HERSHEY_SIMPLEX,
            0.4 * thick + 0.2, colour, thick, cv2.LINE_AA,
        )
    return out


__all__ = ["PALETTE", "draw_masks"]
