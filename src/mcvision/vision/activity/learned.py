"""Learned activity models over COCO-17 keypoint histories (ONNX, onnxruntime).

Three models, each with its exact input contract (the assets' MANIFEST):

- :class:`PostureLSTM` (``har/posture_lstm/posture_classifier.onnx``): standing /
  sitting (``chair``) / lying (``bed``) from ``(N, 30, 20)``: 30 frames of the pixel
  ``(x, y)`` of COCO joints 5, 6, 7, 8, 11, 12, 13, 14, 15, 16 **minus the mid-hip**,
  standardised with ``posture_scaler_params.npz``. A joint scored ≤ 0.2 is ``(0, 0)``
  before the hip is subtracted, and a missing hip counts as ``(0, 0)``, as in training.
- :class:`StandingFallHead` (``har/posture_lstm/standing_fall_model.onnx``): sigmoid
  p(fall) of a standing person from ``(N, 60, 24)``: 60 frames of the **absolute**
  pixel ``(x, y)`` of COCO joints 5–16 in a frame scaled to 640 px wide, standardised
  with ``standing_scaler_params.npz`` (its mean is in absolute pixels; the source
  repository's own inference script feeds hip-relative windows, which is wrong).
- :class:`NFDHead` (``har/nfd_fall/nfd-fall.onnx``): ``normal`` / ``descending`` /
  ``fallen`` / ``recovering`` logits from ``(N, 32, 60)``: 32 frames at ~8 fps of the
  60 per-frame features of :func:`nfd_features` (keypoints normalised to the box,
  scores, box centre/size/aspect, mean y of shoulders, hips, ankles, visible fraction;
  coordinates normalised by the frame size).

A track's history (its :class:`~mcvision.vision.activity.features.Observation` s with
keypoints, oldest first) is resampled to each model's frame count over a time span
(:func:`resample`: the newest observation at or before each of ``n`` evenly spaced
times, the earliest one repeated before the history starts), so the models see the
same motion at any camera frame rate. Every model takes a batch of tracks in one
``session.run``.

Example:
    >>> posture = PostureLSTM()  # doctest: +SKIP
    >>> posture.predict([history_of_a_seated_person]).argmax(1)  # doctest: +SKIP
    array([1])
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mcvision.vision.activity.features import Observation

__all__ = [
    "FALL_JOINTS",
    "MIN_KP_SCORE",
    "NFD_CLASSES",
    "POSTURE_CLASSES",
    "POSTURE_JOINTS",
    "NFDHead",
    "PostureLSTM",
    "StandingFallHead",
    "keypoint_history",
    "nfd_features",
    "posture_features",
    "resample",
    "standing_fall_features",
]

#: COCO joints of the posture LSTM: shoulders, elbows, hips, knees, ankles.
POSTURE_JOINTS: tuple[int, ...] = (5, 6, 7, 8, 11, 12, 13, 14, 15, 16)
#: COCO joints of the standing-fall head: 5-16 (shoulders to ankles, wrists included).
FALL_JOINTS: tuple[int, ...] = tuple(range(5, 17))
POSTURE_CLASSES: tuple[str, ...] = ("standing", "sitting", "lying")  # standing, chair, bed
NFD_CLASSES: tuple[str, ...] = ("normal", "descending", "fallen", "recovering")
#: keypoint score at or below which a joint is missing (the posture models' training filter)
MIN_KP_SCORE = 0.2
#: frame width the standing-fall head's absolute coordinates are in
FALL_FRAME_WIDTH = 640.0


def resample(history: Sequence[Observation], n: int, span_s: float) -> list[Observation]:
    """``n`` observations at evenly spaced times over the last ``span_s`` of ``history``.

    Each time takes the newest observation at or before it (sample and hold); times
    before the first observation take the first one (the history is padded by
    repeating its earliest frame).

    Raises:
        ValueError: an empty history.

    Example:
        >>> import numpy as np
        >>> h = [Observation(ts=t, box=np.zeros(4)) for t in (0.0, 0.5, 1.0)]
        >>> [o.ts for o in resample(h, 5, 1.0)]
        [0.0, 0.0, 0.5, 0.5, 1.0]
    """
    if not history:
        raise ValueError("resample: empty history")
    ts = np.array([o.ts for o in history], np.float64)
    want = ts[-1] - span_s + span_s * np.arange(n) / max(n - 1, 1)
    idx = np.clip(np.searchsorted(ts, want + 1e-9, side="right") - 1, 0, len(history) - 1)
    return [history[i] for i in idx]


def _xy(kp: np.ndarray, joints: Sequence[int]) -> np.ndarray:
    """(len(joints), 2) pixel xy, ``(0, 0)`` where the score is ≤ :data:`MIN_KP_SCORE`."""
    sel = kp[list(joints)]
    return np.where(sel[:, 2:3] > MIN_KP_SCORE, sel[:, :2], 0.0)


def posture_features(frames: Sequence[Observation]) -> np.ndarray:
    """(len(frames), 20) raw posture-LSTM input: joints minus the mid-hip (unstandardised)."""
    out = np.zeros((len(frames), 2 * len(POSTURE_JOINTS)), np.float32)
    for i, o in enumerate(frames):
        if o.keypoints is None:
            continue
        xy = _xy(o.keypoints, POSTURE_JOINTS)
        hip = _xy(o.keypoints, (11, 12)).mean(axis=0)
        out[i] = (xy - hip).reshape(-1)
    return out


def standing_fall_features(
    frames: Sequence[Observation], frame_width: float | None = None
) -> np.ndarray:
    """(len(frames), 24) raw standing-fall input: absolute xy of joints 5-16 at 640 px wide.

    ``frame_width``: the camera frame's width (default: each observation's
    ``frame_size``, else 640, i.e. no scaling).
    """
    out = np.zeros((len(frames), 2 * len(FALL_JOINTS)), np.float32)
    for i, o in enumerate(frames):
        if o.keypoints is None:
            continue
        w = frame_width or (o.frame_size[0] if o.frame_size else FALL_FRAME_WIDTH)
        out[i] = (_xy(o.keypoints, FALL_JOINTS) * (FALL_FRAME_WIDTH / float(w))).reshape(-1)
    return out


def nfd_features(obs: Observation, frame_size: tuple[int, int] | None = None) -> np.ndarray:
    """The 60 NFD features of one observation (the package's ``pose_to_features``).

    Keypoints and box are normalised by the frame size (``frame_size`` or the
    observation's); then: 17 ``(x, y)`` relative to the box centre in box widths /
    heights (clipped to ±2), 17 scores, box ``cx, cy, w, h, w/h`` (aspect clipped to
    0-5), the mean y of the shoulders, hips and ankles, and the fraction of joints
    scored ≥ 0.15.

    Raises:
        ValueError: no keypoints, or no frame size to normalise by.
    """
    size = frame_size or obs.frame_size
    if obs.keypoints is None:
        raise ValueError("nfd_features: the observation has no keypoints")
    if size is None:
        raise ValueError("nfd_features: the frame size is needed to normalise the keypoints")
    w_img, h_img = float(size[0]), float(size[1])
    kp = np.asarray(obs.keypoints, np.float32).copy()
    kp[:, 0] /= w_img
    kp[:, 1] /= h_img
    x1, y1, x2, y2 = (np.asarray(obs.box, np.float32) / [w_img, h_img, w_img, h_img]).tolist()
    width, height = max(x2 - x1, 1e-4), max(y2 - y1, 1e-4)
    cx, cy = (x1 + x2) * 0.5, (y1 + y2) * 0.5
    xy = kp[:, :2].copy()
    xy[:, 0] = (xy[:, 0] - cx) / width
    xy[:, 1] = (xy[:, 1] - cy) / height
    xy = np.clip(xy, -2.0, 2.0)
    scores = np.clip(kp[:, 2], 0.0, 1.0)
    box = [cx, cy, width, height, float(np.clip(width / height, 0.0, 5.0))]
    anchors = [
        float(kp[[5, 6], 1].mean()),
        float(kp[[11, 12], 1].mean()),
        float(kp[[15, 16], 1].mean()),
    ]
    valid = [float(np.mean(scores >= 0.15))]
    return np.concatenate([xy.reshape(-1), scores, box, anchors, valid]).astype(np.float32)


class _OnnxModel:
    """One ONNX session (one intra-op thread: the camera process shares its cores)."""

    weights: str = ""

    def __init__(self, weights: str | Path | None = None, threads: int = 1) -> None:
        import onnxruntime as ort

        from mcvision.vision.weights import resolve

        self.path = resolve(weights or self.weights)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(self.path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self.input = self.session.get_inputs()[0].name
        self.calls = 0

    def _run(self, x: np.ndarray) -> np.ndarray:
        self.calls += 1
        return np.asarray(self.session.run(None, {self.input: x.astype(np.float32)})[0])


def _scaler(path: Path, name: str, dim: int) -> tuple[np.ndarray, np.ndarray]:
    z = np.load(path.with_name(name))
    mean, scale = np.asarray(z["mean"], np.float32), np.asarray(z["scale"], np.float32)
    if mean.shape != (dim,) or scale.shape != (dim,):
        raise ValueError(f"{name}: expected mean/scale of shape ({dim},), got {mean.shape}")
    return mean, scale


class PostureLSTM(_OnnxModel):
    """Standing / sitting / lying probabilities of a keypoint history.

    Args:
        weights: the ONNX file (its ``posture_scaler_params.npz`` beside it).
        frames: frames per window (30, the model's).
        span_s: seconds the 30 frames cover (the training clips: ~1 s of 30 fps video).
    """

    weights = "har/posture_lstm/posture_classifier.onnx"
    frames = 30

    def __init__(self, weights: str | Path | None = None, span_s: float = 1.0) -> None:
        super().__init__(weights)
        self.span_s = span_s
        self.mean, self.scale = _scaler(self.path, "posture_scaler_params.npz", 20)

    def inputs(self, histories: Sequence[Sequence[Observation]]) -> np.ndarray:
        """(N, 30, 20) standardised model input."""
        x = np.stack([posture_features(resample(h, self.frames, self.span_s)) for h in histories])
        return ((x - self.mean) / self.scale).astype(np.float32)

    def predict(self, histories: Sequence[Sequence[Observation]]) -> np.ndarray:
        """(N, 3) probabilities in :data:`POSTURE_CLASSES` order."""
        if not histories:
            return np.zeros((0, 3), np.float32)
        return self._run(self.inputs(histories))


class StandingFallHead(_OnnxModel):
    """p(fall) of a (formerly) standing person's keypoint history.

    Args:
        weights: the ONNX file (its ``standing_scaler_params.npz`` beside it).
        span_s: seconds the 60 frames cover (~2 s of 30 fps video).
    """

    weights = "har/posture_lstm/standing_fall_model.onnx"
    frames = 60

    def __init__(self, weights: str | Path | None = None, span_s: float = 2.0) -> None:
        super().__init__(weights)
        self.span_s = span_s
        self.mean, self.scale = _scaler(self.path, "standing_scaler_params.npz", 24)

    def inputs(self, histories: Sequence[Sequence[Observation]]) -> np.ndarray:
        """(N, 60, 24) standardised model input."""
        x = np.stack(
            [standing_fall_features(resample(h, self.frames, self.span_s)) for h in histories]
        )
        return ((x - self.mean) / self.scale).astype(np.float32)

    def predict(self, histories: Sequence[Sequence[Observation]]) -> np.ndarray:
        """(N,) p(fall)."""
        if not histories:
            return np.zeros((0,), np.float32)
        return self._run(self.inputs(histories))[:, 0]


class NFDHead(_OnnxModel):
    """NFD state probabilities (normal, descending, fallen, recovering) of a history.

    Args:
        weights: the ONNX file.
        fps: the history's sampling rate (8, the model's).
    """

    weights = "har/nfd_fall/nfd-fall.onnx"
    frames = 32

    def __init__(self, weights: str | Path | None = None, fps: float = 8.0) -> None:
        super().__init__(weights)
        self.fps = fps

    @property
    def span_s(self) -> float:
        return (self.frames - 1) / self.fps

    def inputs(self, histories: Sequence[Sequence[Observation]]) -> np.ndarray:
        """(N, 32, 60) model input."""
        return np.stack(
            [
                np.stack([nfd_features(o) for o in resample(h, self.frames, self.span_s)])
                for h in histories
            ]
        ).astype(np.float32)

    def predict(self, histories: Sequence[Sequence[Observation]]) -> np.ndarray:
        """(N, 4) softmax probabilities in :data:`NFD_CLASSES` order."""
        if not histories:
            return np.zeros((0, 4), np.float32)
        logits = self._run(self.inputs(histories))
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


def keypoint_history(window: Sequence[Observation]) -> list[Observation]:
    """The observations of ``window`` that carry keypoints (any joint scored > 0)."""
    return [o for o in window if o.keypoints is not None and np.any(o.keypoints[:, 2] > 0)]
