"""Person crops cut from a frame: shared by ReID and the mask backends.

Contract of :func:`crop_boxes`:

* one crop per box, in box order (so crops, boxes and embeddings stay aligned);
* boxes are padded (a fraction of their width/height on each side), then clipped to the
  frame and snapped outwards to whole pixels;
* a box with no area inside the frame (zero width/height, or wholly outside) gives a
  1×1 crop of the fill colour: a valid image that :func:`crop_quality` scores 0, so
  callers keep alignment and drop it by quality;
* with masks, pixels of the crop outside the person's mask are set to the fill colour,
  the ImageNet mean, which ReID normalisation maps to zero; a mask that is empty inside
  its box is ignored (the plain box crop is returned rather than a blank image).

Example:
    >>> import numpy as np
    >>> frame = np.zeros((100, 200, 3), dtype=np.uint8)
    >>> [c.shape for c in crop_boxes(frame, np.array([[10, 20, 50, 90], [5, 5, 5, 30]]))]
    [(70, 40, 3), (1, 1, 3)]
    >>> round(crop_quality([10, 20, 50, 90], (100, 200), 0.9, ref_height=70), 2)
    0.9
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: ImageNet mean colour in BGR (the ReID models' normalisation maps it to ~0).
IMAGENET_MEAN_BGR: tuple[int, int, int] = (104, 116, 124)


def _check_frame(frame: np.ndarray) -> None:
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3:
        shape = getattr(frame, "shape", type(frame).__name__)
        raise ValueError(f"frame must be an (H, W, 3) BGR array, got {shape}")
    if frame.dtype != np.uint8:
        raise ValueError(f"frame must be uint8, got {frame.dtype}")


def _as_boxes(xyxy: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    boxes = np.asarray(xyxy, dtype=np.float64)
    if boxes.size == 0:
        return boxes.reshape(0, 4)
    if boxes.ndim == 1 and boxes.shape[0] == 4:
        boxes = boxes[None]
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes must be (N, 4) xyxy, got shape {boxes.shape}")
    if not np.isfinite(boxes).all():
        raise ValueError("boxes hold NaN or infinite coordinates")
    return boxes


def clip_boxes(
    xyxy: np.ndarray | Sequence[Sequence[float]], frame_shape: tuple[int, ...], pad: float = 0.0
) -> np.ndarray:
    """Pad, clip to the frame and snap outwards to integer pixels.

    Args:
        xyxy: (N, 4) boxes.
        frame_shape: ``(H, W, ...)`` of the frame.
        pad: fraction of the box width (height) added left and right (top and bottom).

    Returns:
        (N, 4) int64 ``x1, y1, x2, y2`` with ``0 <= x1 <= x2 <= W`` (likewise y);
        ``x1 == x2`` or ``y1 == y2`` marks a box with no area inside the frame.
    """
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {pad}")
    boxes = _as_boxes(xyxy)
    h, w = int(frame_shape[0]), int(frame_shape[1])
    wh = np.clip(boxes[:, 2:] - boxes[:, :2], 0, None)
    lo = np.floor(boxes[:, :2] - pad * wh)
    hi = np.ceil(boxes[:, 2:] + pad * wh)
    lo = np.clip(lo, 0, [w, h])
    hi = np.clip(hi, 0, [w, h])
    hi = np.maximum(hi, lo)
    return np.concatenate([lo, hi], axis=1).astype(np.int64)


def crop_boxes(
    frame: np.ndarray,
    xyxy: np.ndarray | Sequence[Sequence[float]],
    masks: np.ndarray | None = None,
    pad: float = 0.0,
    fill: tuple[int, int, int] = IMAGENET_MEAN_BGR,
) -> list[np.ndarray]:
    """Cut one BGR crop per box (see the module docstring for the contract).

    Args:
        frame: (H, W, 3) uint8 BGR image.
        xyxy: (N, 4) boxes in pixels.
        masks: optional (N, H, W) bool masks over the whole frame.
        pad: fraction of the box size added on each side before clipping.
        fill: BGR colour for pixels outside the mask and for empty boxes.

    Returns:
        N contiguous uint8 arrays of shape (h, w, 3), h, w >= 1.
    """
    _check_frame(frame)
    boxes = clip_boxes(xyxy, frame.shape, pad)
    h, w = frame.shape[:2]
    if masks is not None:
        masks = np.asarray(masks)
        if masks.shape != (len(boxes), h, w):
            raise ValueError(
                f"masks must be (N, H, W) = {(len(boxes), h, w)} for {len(boxes)} boxes on a"
                f" {w}x{h} frame, got {masks.shape}"
            )
        masks = masks.astype(bool, copy=False)
    colour = np.asarray(fill, dtype=np.uint8)
    crops: list[np.ndarray] = []
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        if x2 <= x1 or y2 <= y1:
            crops.append(np.broadcast_to(colour, (1, 1, 3)).copy())
            continue
        crop = frame[y1:y2, x1:x2].copy()
        if masks is not None:
            m = masks[i, y1:y2, x1:x2]
            if m.any():
                crop[~m] = colour
        crops.append(crop)
    return crops


def crop_qualities(
    xyxy: np.ndarray | Sequence[Sequence[float]],
    frame_shape: tuple[int, ...],
    conf: np.ndarray | Sequence[float] | float = 1.0,
    *,
    ref_height: float = 128.0,
    border_px: float = 2.0,
    border_penalty: float = 0.2,
) -> np.ndarray:
    """Vectorised :func:`crop_quality`: (N,) float64 in [0, 1]."""
    boxes = _as_boxes(xyxy)
    if ref_height <= 0:
        raise ValueError(f"ref_height must be > 0, got {ref_height}")
    h, w = float(frame_shape[0]), float(frame_shape[1])
    conf_arr = np.broadcast_to(np.asarray(conf, dtype=np.float64), (len(boxes),))
    bw = np.clip(boxes[:, 2] - boxes[:, 0], 0, None)
    bh = np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    area = bw * bh
    ix = np.clip(np.minimum(boxes[:, 2], w) - np.maximum(boxes[:, 0], 0), 0, None)
    iy = np.clip(np.minimum(boxes[:, 3], h) - np.maximum(boxes[:, 1], 0), 0, None)
    inside = np.divide(ix * iy, area, out=np.zeros_like(area), where=area > 0)
    size = np.clip(np.minimum(bh, iy) / ref_height, 0, 1)
    touching = (
        (boxes[:, 0] <= border_px).astype(int)
        + (boxes[:, 1] <= border_px)
        + (boxes[:, 2] >= w - border_px)
        + (boxes[:, 3] >= h - border_px)
    )
    trunc = inside * np.clip(1.0 - border_penalty * touching, 0, 1)
    return np.clip(size * trunc * np.clip(conf_arr, 0, 1), 0, 1)


def crop_quality(
    xyxy: np.ndarray | Sequence[float],
    frame_shape: tuple[int, ...],
    conf: float = 1.0,
    *,
    ref_height: float = 128.0,
    border_px: float = 2.0,
    border_penalty: float = 0.2,
) -> float:
    """How good a box is for ReID, in [0, 1]: ``size × truncation × confidence``.

    * size: visible box height / ``ref_height`` (capped at 1): small people embed badly;
    * truncation: fraction of the box inside the frame, less ``border_penalty`` for each
      frame edge the box touches (within ``border_px``): the person is probably cut off;
    * confidence: the detector score, clipped to [0, 1].

    A box with no area inside the frame scores 0.

    Args:
        xyxy: (4,) box ``x1, y1, x2, y2``.
        frame_shape: ``(H, W, ...)``.
        conf: detector confidence.
        ref_height: box height (px) at and above which size no longer matters.
        border_px: distance to an edge counted as touching it.
        border_penalty: quality lost per touched edge.
    """
    box = np.asarray(xyxy, dtype=np.float64)
    if box.shape != (4,):
        raise ValueError(f"xyxy must be one (4,) box, got shape {box.shape}")
    return float(
        crop_qualities(
            box[None],
            frame_shape,
            conf,
            ref_height=ref_height,
            border_px=border_px,
            border_penalty=border_penalty,
        )[0]
    )
