"""Body keypoints (COCO 17) over an Ultralytics YOLO pose model.

Keypoints are ``(N, 17, 3)``: ``x, y`` in frame pixels and a visibility score,
in COCO order (0 nose, 1–2 eyes, 3–4 ears, 5–6 shoulders, 7–8 elbows,
9–10 wrists, 11–12 hips, 13–14 knees, 15–16 ankles).

Given the detector's boxes, the pose model's people are matched to them by
IoU (a global optimum, :func:`scipy.optimize.linear_sum_assignment`) and the
keypoints are attached to *those* boxes, so tracking and ReID keep their rows.

Example:
    >>> pose = PoseEstimator()  # doctest: +SKIP
    >>> [d] = pose.estimate([frame], detections=[person_boxes])  # doctest: +SKIP
    >>> d.keypoints.shape  # doctest: +SKIP
    (4, 17, 3)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from mcvision.types import Detections
from mcvision.vision.detector import YoloModel

if TYPE_CHECKING:
    from mcvision.config import PoseConfig

#: COCO keypoint names, in model output order.
KEYPOINT_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) IoU of two sets of xyxy boxes.

    Example:
        >>> box_iou(np.array([[0, 0, 10, 10]]), np.array([[5, 0, 15, 10]])).round(3).tolist()
        [[0.333]]
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(axis=1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def attach_keypoints(dets: Detections, pose: Detections, *, min_iou: float = 0.3) -> Detections:
    """Copy ``pose``'s keypoints onto the IoU-matched boxes of ``dets``.

    Boxes without a match (IoU below ``min_iou``) get all-zero keypoints (score 0).
    """
    if pose.keypoints is None:
        raise ValueError("pose detections carry no keypoints")
    k = pose.keypoints.shape[1] if pose.keypoints.ndim == 3 else len(KEYPOINT_NAMES)
    out = np.zeros((len(dets), k, 3), dtype=np.float32)
    if len(dets) and len(pose):
        iou = box_iou(dets.xyxy, pose.xyxy)
        rows, cols = linear_sum_assignment(-iou)
        for r, c in zip(rows, cols, strict=True):
            if iou[r, c] >= min_iou:
                out[r] = pose.keypoints[c]
    return dets.with_fields(keypoints=out)


def _pose_dets(result: Any) -> Detections:
    b = result.boxes
    if b is None or len(b) == 0:
        return Detections(
            xyxy=np.zeros((0, 4), np.float32),
            keypoints=np.zeros((0, len(KEYPOINT_NAMES), 3), np.float32),
        )
    kp = result.keypoints
    xy = kp.xy.cpu().numpy()
    conf = kp.conf.cpu().numpy() if kp.conf is not None else np.ones(xy.shape[:2], np.float32)
    return Detections(
        xyxy=b.xyxy.cpu().numpy(),
        confidence=b.conf.cpu().numpy(),
        class_id=b.cls.cpu().numpy().astype(np.int32),
        keypoints=np.concatenate([xy, conf[..., None]], axis=2).astype(np.float32),
    )


class PoseEstimator(YoloModel):
    """YOLO pose model: people with 17 COCO keypoints each.

    Args:
        weights: model reference (``yolov8n-pose_int8_openvino_model``, ``yolo11n-pose.pt``, ...).
        conf: minimum person confidence.
        iou: NMS IoU threshold.
        imgsz: inference size; a static export's own size wins.
        device: "cpu", "cuda:0", ...
        match_iou: minimum IoU to attach a pose to a given detection box.

    Example:
        >>> pose = PoseEstimator()  # doctest: +SKIP
        >>> [people] = pose.estimate([frame])  # doctest: +SKIP
        >>> people.keypoints[:, 0, 1] < people.keypoints[:, 15, 1]  # nose above ankle
        ... # doctest: +SKIP
    """

    task = "pose"

    def __init__(
        self,
        weights: str | Path = "yolov8n-pose_int8_openvino_model",
        conf: float = 0.25,
        iou: float = 0.5,
        imgsz: int = 640,
        device: str = "cpu",
        match_iou: float = 0.3,
    ) -> None:
        super().__init__(
            weights,
            task="pose",
            conf=conf,
            iou=iou,
            imgsz=imgsz,
            classes=("person",),
            device=device,
        )
        self.match_iou = match_iou

    @classmethod
    def from_config(cls, cfg: PoseConfig) -> PoseEstimator:
        """Build from ``SiteConfig.models.pose``."""
        return cls(weights=cfg.weights, device=cfg.device)

    def estimate(
        self,
        frames: Sequence[np.ndarray],
        detections: Sequence[Detections] | None = None,
    ) -> list[Detections]:
        """Keypoints for the people in each frame.

        Args:
            frames: (H, W, 3) uint8 BGR images.
            detections: optional boxes per frame (e.g. the detector's, already tracked);
                when given, the result has exactly those rows, with ``keypoints`` added.

        Returns:
            One :class:`Detections` per frame with ``keypoints`` (N, 17, 3).
        """
        if detections is not None and len(detections) != len(frames):
            raise ValueError(
                f"got {len(frames)} frames but {len(detections)} detections: one per frame"
            )
        found = [_pose_dets(r) for r in self._predict(frames)]
        if detections is None:
            return found
        return [
            attach_keypoints(d, p, min_iou=self.match_iou)
            for d, p in zip(detections, found, strict=True)
        ]


__all__ = ["KEYPOINT_NAMES", "PoseEstimator", "attach_keypoints", "box_iou"]
