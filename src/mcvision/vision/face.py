"""Opt-in face embeddings from person crops: YuNet finds the face, an ONNX model embeds it.

Only the head region of a person crop is searched (the top ``head_fraction`` of
the box, upscaled so that a small head is still seen by the detector). A face
smaller than ``min_face_px`` (its width in the *original* crop) is ignored: the
embedding of a blurry 12-pixel face says little. The face is aligned on its five
landmarks to the standard 112×112 template and embedded by the configured ONNX
model (default ``MobileFaceNet_paddlex_128d.onnx``: N×3×112×112 RGB,
``(x/255 − 0.5)/0.5`` → 128-d), then L2-normalized.

Nothing here keeps an image: callers get boxes and vectors only (DESIGN.md §4:
no face images stored, ever).

Example:
    >>> from mcvision.config import FaceConfig
    >>> faces = FaceEmbedder.from_config(FaceConfig(enabled=True))  # doctest: +SKIP
    >>> vecs = faces.embed_people([crop_a, crop_b])                  # doctest: +SKIP
    >>> [None if v is None else v.shape for v in vecs]               # doctest: +SKIP
    [(128,), None]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

if TYPE_CHECKING:
    from mcvision.config import FaceConfig

#: ArcFace 112×112 landmark template: right eye, left eye, nose, right/left mouth corner.
TEMPLATE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
)
FACE_SIZE = 112


@dataclass(frozen=True)
class Face:
    """One detected face, in the pixel coordinates of the crop it was found in.

    Attributes:
        box: (4,) xywh.
        score: detector confidence.
        landmarks: (5, 2) eyes, nose tip, mouth corners.
    """

    box: np.ndarray
    score: float
    landmarks: np.ndarray

    @property
    def size(self) -> float:
        """The face width in pixels."""
        return float(self.box[2])


def _check_image(img: Any, what: str) -> np.ndarray:
    if (
        not isinstance(img, np.ndarray)
        or img.ndim != 3
        or img.shape[2] != 3
        or img.dtype != np.uint8
    ):
        shape = getattr(img, "shape", None)
        raise ValueError(f"{what} must be an (h, w, 3) uint8 BGR image, got shape {shape}")
    if img.shape[0] < 2 or img.shape[1] < 2:
        raise ValueError(f"{what} is too small: {img.shape[:2]}")
    return img


def align(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The 112×112 face aligned on its five landmarks (a similarity transform)."""
    m, _ = cv2.estimateAffinePartial2D(
        np.asarray(landmarks, np.float32).reshape(5, 2), TEMPLATE_112, method=cv2.LMEDS
    )
    if m is None:
        raise ValueError("face landmarks are degenerate: cannot align")
    return cv2.warpAffine(image, m, (FACE_SIZE, FACE_SIZE), borderMode=cv2.BORDER_REPLICATE)


class FaceEmbedder:
    """YuNet face detection + an ONNX face embedder, on the head region of person crops.

    Args:
        detector_weights: YuNet ONNX file.
        embedder_weights: face embedding ONNX file (N×3×112×112 RGB in, N×D out).
        min_face_px: smallest face width (pixels of the original crop) that is embedded.
        score_threshold: YuNet confidence needed.
        head_fraction: the top part of a person crop that is searched for a face.
        head_px: the head region is scaled so its width is at least this (small heads).

    Example:
        >>> fe = FaceEmbedder("yunet.onnx", "mobilefacenet.onnx")  # doctest: +SKIP
        >>> fe.embed_people([person_crop])[0].shape                 # doctest: +SKIP
        (128,)
    """

    def __init__(
        self,
        detector_weights: str | Path,
        embedder_weights: str | Path,
        *,
        min_face_px: int = 20,
        score_threshold: float = 0.6,
        head_fraction: float = 0.4,
        head_px: int = 160,
    ) -> None:
        if not 0 < head_fraction <= 1:
            raise ValueError(f"head_fraction must be in (0, 1], got {head_fraction}")
        if min_face_px < 1:
            raise ValueError(f"min_face_px must be >= 1, got {min_face_px}")
        import onnxruntime as ort

        for p, what in ((detector_weights, "face detector"), (embedder_weights, "face embedder")):
            if not Path(p).is_file():
                raise FileNotFoundError(f"{what} weights not found: {p}")
        self.min_face_px = int(min_face_px)
        self.score_threshold = float(score_threshold)
        self.head_fraction = float(head_fraction)
        self.head_px = int(head_px)
        self._det = cv2.FaceDetectorYN.create(
            str(detector_weights), "", (320, 320), self.score_threshold, 0.3, 50
        )
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 2
        self._sess = ort.InferenceSession(
            str(embedder_weights), opts, providers=["CPUExecutionProvider"]
        )
        self._input = self._sess.get_inputs()[0].name
        self.dim = int(self._sess.get_outputs()[0].shape[-1])

    @classmethod
    def from_config(cls, cfg: FaceConfig) -> FaceEmbedder:
        """Build from the ``face`` section; weights are resolved like every model's."""
        from mcvision.vision.weights import resolve

        return cls(
            resolve(cfg.detector_weights, download=False),
            resolve(cfg.embedder_weights, download=False),
            min_face_px=cfg.min_face_px,
            score_threshold=cfg.score_threshold,
            head_fraction=cfg.head_fraction,
        )

    # ---- detection ----------------------------------------------------
    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in a BGR image, best first (coordinates of ``image``)."""
        img = _check_image(image, "image")
        h, w = img.shape[:2]
        self._det.setInputSize((w, h))
        _, found = self._det.detect(img)
        if found is None:
            return []
        out = [
            Face(
                box=r[:4].astype(np.float32),
                score=float(r[14]),
                landmarks=r[4:14].reshape(5, 2).astype(np.float32),
            )
            for r in np.asarray(found)
        ]
        return sorted(out, key=lambda f: -f.score)

    def find_face(self, person: np.ndarray) -> Face | None:
        """The best face in the head region of a person crop (crop coordinates), or None."""
        img = _check_image(person, "person crop")
        h, w = img.shape[:2]
        head = img[: max(2, round(h * self.head_fraction))]
        scale = max(1.0, self.head_px / w)
        if scale > 1.0:
            head = cv2.resize(head, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        faces = self.detect(head)
        if not faces:
            return None
        f = faces[0]
        return Face(box=f.box / scale, score=f.score, landmarks=f.landmarks / scale)

    # ---- embedding ----------------------------------------------------
    def embed_faces(self, aligned: Sequence[np.ndarray]) -> np.ndarray:
        """(N, D) unit vectors of aligned 112×112 BGR faces."""
        if not aligned:
            return np.zeros((0, self.dim), np.float32)
        batch = np.stack(
            [cv2.resize(_check_image(a, "face"), (FACE_SIZE, FACE_SIZE)) for a in aligned]
        )
        x = batch[..., ::-1].astype(np.float32) / 255.0
        x = ((x - 0.5) / 0.5).transpose(0, 3, 1, 2)
        y = np.asarray(self._sess.run(None, {self._input: np.ascontiguousarray(x)})[0])
        y = y.reshape(len(aligned), -1).astype(np.float32)
        n = np.linalg.norm(y, axis=1, keepdims=True)
        return y / np.where(n == 0, 1, n)

    def embed_people(self, crops: Sequence[np.ndarray]) -> list[np.ndarray | None]:
        """Per person crop, the face embedding, or None (no face, or one too small)."""
        aligned: list[np.ndarray] = []
        where: list[int] = []
        for i, crop in enumerate(crops):
            face = self.find_face(crop)
            if face is None or face.size < self.min_face_px:
                continue
            h, w = crop.shape[:2]
            scale = max(1.0, self.head_px / w)
            head = crop[: max(2, round(h * self.head_fraction))]
            if scale > 1.0:  # align from the upscaled head: more pixels for the warp
                head = cv2.resize(head, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
            aligned.append(align(head, face.landmarks * scale))
            where.append(i)
        out: list[np.ndarray | None] = [None] * len(crops)
        if aligned:
            vecs = self.embed_faces(aligned)
            for i, v in zip(where, vecs, strict=True):
                out[i] = v
        return out


def attach_faces(
    faces: FaceEmbedder, updates: Sequence[Any], due: Sequence[int], crops: Sequence[np.ndarray]
) -> int:
    """Set ``face_embedding`` on the updates whose crops were embedded (ReID-due tracks).

    Args:
        faces: the face embedder.
        updates: one camera step's tracklet updates.
        due: indices into ``updates`` of the due tracks, in the order of ``crops``.
        crops: the person crops sent to ReID for those tracks.

    Returns:
        How many updates got a face embedding.
    """
    if len(due) != len(crops):
        raise ValueError(f"{len(crops)} crops for {len(due)} due tracks")
    n = 0
    for i, vec in zip(due, faces.embed_people(list(crops)), strict=True):
        if vec is not None:
            updates[i].face_embedding = vec
            n += 1
    return n
