"""Face blurring for every image and video a summary writes (on by default).

Faces are found with YuNet (``cv2.FaceDetectorYN``; weights from the assets or
cache, ``face_detection_yunet_2026may.onnx``); small frames are searched at 2×
as well as at their own size (YuNet is sensitive to scale), so that the faces
of a 640-pixel recording are still found. Each face is
pixelated and blurred with a margin. As a fallback, a person box whose head
region holds no detected face gets its head blurred anyway: the box of the
nose/eye/ear keypoints when pose gave them, else the top fifth of the box —
so a face the detector misses (turned away, too small) is still hidden.

The live camera view uses :meth:`FaceBlurrer.apply_tracked`, cheap enough for
every watched frame: the head of every tracked person box is blurred whether
or not a face is seen there (the top quarter of the box, and the keypoint head
when pose gave one), and YuNet searches only a small copy of the frame, once,
for the large faces of people the tracker has not boxed.

Example:
    >>> blur = FaceBlurrer()                                    # doctest: +SKIP
    >>> safe = blur.apply(image, boxes=person_boxes)            # doctest: +SKIP
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

__all__ = ["FaceBlurrer", "blur_region", "head_box"]

#: COCO keypoints of the head: nose, eyes, ears.
_HEAD = (0, 1, 2, 3, 4)


def blur_region(image: np.ndarray, box: np.ndarray | tuple[float, ...]) -> None:
    """Pixelate (cells of at least 16 px, at most 3×4 of them) and blur ``box`` in place."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (round(v) for v in box)
    x1, y1, x2, y2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
    if x2 - x1 < 2 or y2 - y1 < 2:
        return
    roi = image[y1:y2, x1:x2]
    cells = (max(1, min(3, (x2 - x1) // 16)), max(1, min(4, (y2 - y1) // 16)))
    small = cv2.resize(roi, cells, interpolation=cv2.INTER_AREA)
    pix = cv2.resize(small, (x2 - x1, y2 - y1), interpolation=cv2.INTER_LINEAR)
    k = max(3, (min(x2 - x1, y2 - y1) // 2) | 1)
    image[y1:y2, x1:x2] = cv2.GaussianBlur(pix, (k, k), 0)


def head_box(
    box: np.ndarray,
    keypoints: np.ndarray | None = None,
    conf: float = 0.3,
    top: float = 0.2,
) -> np.ndarray:
    """The head region of a person box: from head keypoints if seen, else the top ``top``.

    Example:
        >>> head_box(np.array([10, 0, 50, 100])).tolist()
        [10.0, 0.0, 50.0, 20.0]
    """
    box = np.asarray(box, dtype=np.float32)
    if keypoints is not None:
        pts = np.asarray([keypoints[i, :2] for i in _HEAD if keypoints[i, 2] >= conf])
        if len(pts):
            bw = float(box[2] - box[0])
            pad = max(0.15 * bw, 4.0)
            x1, y1 = pts.min(axis=0) - pad
            x2, y2 = pts.max(axis=0) + pad
            return np.array([x1, y1 - pad, x2, y2 + pad], dtype=np.float32)
    h = float(box[3] - box[1])
    return np.array([box[0], box[1], box[2], box[1] + top * h], dtype=np.float32)


class FaceBlurrer:
    """Blurs faces (YuNet) and, as a fallback, the head region of person boxes.

    Args:
        weights: YuNet model reference (resolved like every model), or None for
            the fallback only.
        score: minimum face score.
        enabled: False returns images unchanged (summaries made for internal review).
        margin: fraction of the face size added on each side.
    """

    def __init__(
        self,
        weights: str | Path | None = "face_detection_yunet_2026may.onnx",
        score: float = 0.6,
        enabled: bool = True,
        margin: float = 0.25,
    ) -> None:
        self.enabled = enabled
        self.score = score
        self.margin = margin
        self._model_path: str | None = None
        self._det: cv2.FaceDetectorYN | None = None
        self._det_size: tuple[int, int] | None = None
        self._small: cv2.FaceDetectorYN | None = None  # apply_tracked's one-size search
        self._small_size: tuple[int, int] | None = None
        if enabled and weights is not None:
            from mcvision.vision.weights import WeightsNotFound, resolve

            try:
                self._model_path = str(resolve(weights, download=False))
            except WeightsNotFound as err:
                log.warning("face blur: %s; blurring head regions only", err)

    @property
    def has_detector(self) -> bool:
        """True when YuNet is loaded (else only head regions are blurred)."""
        return self._model_path is not None

    def detect(self, image: np.ndarray) -> np.ndarray:
        """(N, 5) face boxes ``x1, y1, x2, y2, score`` in image pixels."""
        if self._model_path is None:
            return np.zeros((0, 5), np.float32)
        h, w = image.shape[:2]
        found = []
        for up in (1.0, 2.0) if max(h, w) < 1000 else (1.0,):
            img = cv2.resize(image, None, fx=up, fy=up) if up != 1.0 else image
            size = (img.shape[1], img.shape[0])
            if self._det is None:
                self._det = cv2.FaceDetectorYN.create(self._model_path, "", size, self.score)
            if self._det_size != size:
                self._det.setInputSize(size)
                self._det_size = size
            _, faces = self._det.detect(img)
            if faces is None or not len(faces):
                continue
            f = faces[:, :4] / up
            found.append(
                np.column_stack(
                    [f[:, 0], f[:, 1], f[:, 0] + f[:, 2], f[:, 1] + f[:, 3], faces[:, 14]]
                ).astype(np.float32)
            )
        return np.concatenate(found) if found else np.zeros((0, 5), np.float32)

    def apply(
        self,
        image: np.ndarray,
        boxes: np.ndarray | None = None,
        keypoints: np.ndarray | None = None,
    ) -> np.ndarray:
        """A copy of ``image`` with faces (and unmatched heads of ``boxes``) blurred."""
        if not self.enabled:
            return image
        out = image.copy()
        faces = self.detect(image)
        for x1, y1, x2, y2, _ in faces:
            mx, my = self.margin * (x2 - x1), self.margin * (y2 - y1)
            blur_region(out, (x1 - mx, y1 - my, x2 + mx, y2 + my))
        if boxes is None:
            return out
        centres = np.column_stack(
            [(faces[:, 0] + faces[:, 2]) / 2, (faces[:, 1] + faces[:, 3]) / 2]
        )
        for i, box in enumerate(np.asarray(boxes, dtype=np.float32).reshape(-1, 4)):
            kp = keypoints[i] if keypoints is not None else None
            head = head_box(box, kp)
            covered = bool(len(centres)) and bool(
                np.any(
                    (centres[:, 0] >= box[0])
                    & (centres[:, 0] <= box[2])
                    & (centres[:, 1] >= box[1])
                    & (centres[:, 1] <= head[3] + 0.1 * (box[3] - box[1]))
                )
            )
            if not covered:
                blur_region(out, head)
        return out

    def detect_small(self, image: np.ndarray, max_px: int = 320) -> np.ndarray:
        """(N, 5) faces found in one pass over a copy of ``image`` shrunk to ``max_px``.

        Cheap (about 2 ms at 320 px) and blind to small faces: only for the large
        faces of people no person box covers (:meth:`apply_tracked`).
        """
        if self._model_path is None or max_px <= 0:
            return np.zeros((0, 5), np.float32)
        h, w = image.shape[:2]
        s = min(1.0, max_px / max(h, w))
        img = (
            cv2.resize(image, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
            if s < 1.0
            else image
        )
        size = (img.shape[1], img.shape[0])
        if self._small is None:
            self._small = cv2.FaceDetectorYN.create(self._model_path, "", size, self.score)
        if self._small_size != size:
            self._small.setInputSize(size)
            self._small_size = size
        _, faces = self._small.detect(img)
        if faces is None or not len(faces):
            return np.zeros((0, 5), np.float32)
        f = faces[:, :4] / s
        return np.column_stack(
            [f[:, 0], f[:, 1], f[:, 0] + f[:, 2], f[:, 1] + f[:, 3], faces[:, 14]]
        ).astype(np.float32)

    def tracked_regions(
        self,
        image: np.ndarray,
        boxes: np.ndarray | None = None,
        keypoints: np.ndarray | None = None,
        search_px: int = 320,
        top: float = 0.25,
        faces: np.ndarray | None = None,
    ) -> np.ndarray:
        """(N, 4) regions :meth:`apply_tracked` blurs: every box's head, then faces found.

        Per box: its top ``top`` (standing or walking, the face lies there) and, when
        pose gave head keypoints, the box around them too (bending, sitting). Then the
        faces :meth:`detect_small` finds at ``search_px`` (or ``faces``, an (N, 5) result of
        it for this picture's size, found earlier), with the margin.
        """
        if not self.enabled:
            return np.zeros((0, 4), np.float32)
        regions: list[np.ndarray] = []
        for i, box in enumerate(np.asarray(boxes if boxes is not None else []).reshape(-1, 4)):
            regions.append(head_box(box, None, top=top))
            if keypoints is not None:  # without head keypoints: inside the first
                regions.append(head_box(box, keypoints[i]))
        found = self.detect_small(image, search_px) if faces is None else faces
        for x1, y1, x2, y2, _ in found:
            mx, my = self.margin * (x2 - x1), self.margin * (y2 - y1)
            regions.append(np.array([x1 - mx, y1 - my, x2 + mx, y2 + my], np.float32))
        return np.asarray(regions, np.float32).reshape(-1, 4)

    def apply_tracked(
        self,
        image: np.ndarray,
        boxes: np.ndarray | None = None,
        keypoints: np.ndarray | None = None,
        search_px: int = 320,
        faces: np.ndarray | None = None,
    ) -> np.ndarray:
        """A copy of ``image`` with every tracked person's head blurred (live view).

        Unlike :meth:`apply`, a box's head is blurred whether or not a face is seen
        in it, so nothing hangs on finding small faces, and no full-size search runs:
        a few milliseconds per frame. See :meth:`tracked_regions` (``faces``: found
        earlier, no search now).
        """
        if not self.enabled:
            return image
        out = image.copy()
        for region in self.tracked_regions(image, boxes, keypoints, search_px, faces=faces):
            blur_region(out, region)
        return out
