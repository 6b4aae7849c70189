"""Person detection over Ultralytics YOLO, with any export it loads.

``.pt`` (torch), an OpenVINO export folder, ``.onnx``, a TensorRT ``.engine``:
weights are found by :func:`mcvision.vision.weights.resolve`, loaded with
``YOLO(path, task="detect")``, and the classes to keep are looked up by name
in the model's own ``names`` (so a custom model with other class names works).

Static-shape exports (an OpenVINO INT8 640×640 folder, a fixed 320×320 ONNX)
only accept their own input size: it is read from the export's metadata and
overrides the configured ``imgsz``. Exports with a fixed batch of 1 are run one
frame at a time behind the same batched API.

Example:
    >>> det = PersonDetector("yolo11n_int8_openvino_model")  # doctest: +SKIP
    >>> [d] = det.detect([frame_bgr])  # doctest: +SKIP
    >>> d.xyxy.shape  # doctest: +SKIP
    (4, 4)
"""

from __future__ import annotations

import ast
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from mcvision import _env
from mcvision.types import Detections
from mcvision.vision import weights as _weights

if TYPE_CHECKING:
    from mcvision.config import DetectorConfig


@dataclass(frozen=True)
class ExportInfo:
    """What an export's metadata says about its input.

    Attributes:
        format: "pt", "openvino", "onnx", "engine" or "other".
        imgsz: (height, width) the export was built for, or None when free.
        batch: fixed batch size, or None when dynamic / not fixed.
        dynamic: the export accepts any input shape.
        task: the task the export was made for ("detect", "pose", ...), if known.
    """

    format: str
    imgsz: tuple[int, int] | None = None
    batch: int | None = None
    dynamic: bool = True
    task: str | None = None

    @property
    def static(self) -> bool:
        """Input shape is fixed: ``imgsz`` must equal the export's."""
        return not self.dynamic and self.imgsz is not None


def _as_mapping(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def export_info(path: str | Path) -> ExportInfo:
    """Read input size and batch of a model export (``metadata.yaml`` / ONNX metadata).

    Example:
        >>> export_info("yolo11n.pt").format
        'pt'
    """
    p = Path(path)
    meta: dict[str, Any] = {}
    if p.is_dir():
        fmt = "openvino" if any(p.glob("*.xml")) else "other"
        mfile = p / "metadata.yaml"
        if mfile.is_file():
            meta = yaml.safe_load(mfile.read_text()) or {}
    elif p.suffix == ".onnx":
        fmt = "onnx"
        try:
            import onnx

            model = onnx.load(str(p), load_external_data=False)
            meta = {m.key: m.value for m in model.metadata_props}
        except Exception:
            meta = {}
    elif p.suffix in (".pt", ".pth"):
        return ExportInfo(format="pt")
    elif p.suffix == ".engine":
        fmt = "engine"
    else:
        fmt = "other"
    args = _as_mapping(meta.get("args", {}))
    imgsz_raw = meta.get("imgsz")
    if isinstance(imgsz_raw, str):
        try:
            imgsz_raw = ast.literal_eval(imgsz_raw)
        except (ValueError, SyntaxError):
            imgsz_raw = None
    imgsz: tuple[int, int] | None = None
    if isinstance(imgsz_raw, int):
        imgsz = (imgsz_raw, imgsz_raw)
    elif isinstance(imgsz_raw, list | tuple) and len(imgsz_raw) == 2:
        imgsz = (int(imgsz_raw[0]), int(imgsz_raw[1]))
    batch_raw = meta.get("batch", args.get("batch"))
    batch = int(batch_raw) if batch_raw is not None else None
    dynamic = bool(args.get("dynamic", imgsz is None))
    return ExportInfo(
        format=fmt,
        imgsz=imgsz,
        batch=None if dynamic else batch,
        dynamic=dynamic,
        task=meta.get("task"),
    )


class YoloModel:
    """Shared loading and batched inference for the Ultralytics-backed models.

    Args:
        weights: reference resolved by :func:`mcvision.vision.weights.resolve`.
        task: Ultralytics task ("detect", "pose", "segment").
        conf: minimum confidence.
        iou: NMS IoU threshold.
        imgsz: inference size (overridden by a static export's own size).
        classes: class names to keep, looked up in the model's ``names``.
        device: "cpu", "cuda:0", ...
    """

    task = "detect"

    def __init__(
        self,
        weights: str | Path,
        *,
        task: str | None = None,
        conf: float = 0.35,
        iou: float = 0.5,
        imgsz: int = 640,
        classes: Sequence[str] = ("person",),
        device: str = "cpu",
    ) -> None:
        from ultralytics import YOLO

        if not 0 <= conf <= 1:
            raise ValueError(f"conf must be in 0..1, got {conf}")
        if not 0 <= iou <= 1:
            raise ValueError(f"iou must be in 0..1, got {iou}")
        if isinstance(classes, str):
            classes = (classes,)
        if not classes:
            raise ValueError("classes must name at least one class (e.g. ['person'])")
        self.task = task or self.task
        self.path = _weights.resolve(weights)
        self.info = export_info(self.path)
        self.conf = conf
        self.iou = iou
        self.device = device
        self.imgsz: int | tuple[int, int] = imgsz
        if self.info.static and self.info.imgsz is not None:
            self.imgsz = (
                self.info.imgsz
                if self.info.imgsz[0] != self.info.imgsz[1]
                else (self.info.imgsz[0])
            )
        self._lock = threading.Lock()
        self.model = YOLO(str(self.path), task=self.task)
        self.names: dict[int, str] = dict(self._model_names())
        self.class_names = tuple(classes)
        self.class_ids = self._lookup(classes)

    def _model_names(self) -> dict[int, str]:
        names = self.model.names
        if isinstance(names, list | tuple):
            return dict(enumerate(names))
        return {int(k): str(v) for k, v in names.items()}

    def _lookup(self, classes: Sequence[str]) -> list[int]:
        by_name = {v.lower(): k for k, v in self.names.items()}
        missing = [c for c in classes if c.lower() not in by_name]
        if missing:
            listed = ", ".join(f"{k}: {v!r}" for k, v in sorted(self.names.items()))
            raise ValueError(
                f"class name(s) {missing} not in model {self.path.name}; its classes are "
                f"{{{listed}}}"
            )
        return [by_name[c.lower()] for c in classes]

    @property
    def batch_limit(self) -> int | None:
        """Most frames one forward pass takes (None: any)."""
        return self.info.batch

    def _predict(self, frames: Sequence[np.ndarray]) -> list[Any]:
        """Ultralytics results, one per frame, batching where the export allows."""
        frames = list(frames)
        for i, f in enumerate(frames):
            if not isinstance(f, np.ndarray) or f.ndim != 3 or f.shape[2] != 3:
                shape = getattr(f, "shape", type(f).__name__)
                raise ValueError(f"frame {i}: expected an (H, W, 3) BGR uint8 array, got {shape}")
        if not frames:
            return []
        _env.set_torch_threads()  # in the thread that infers (Ultralytics caps it otherwise)
        step = self.batch_limit or len(frames)
        kwargs = dict(
            conf=self.conf,
            iou=self.iou,
            imgsz=self.imgsz,
            classes=self.class_ids,
            device=self.device,
            verbose=False,
        )
        out: list[Any] = []
        with self._lock:  # an Ultralytics predictor is not thread-safe
            for start in range(0, len(frames), step):
                chunk = frames[start : start + step]
                out.extend(self.model.predict(chunk if len(chunk) > 1 else chunk[0], **kwargs))
        return out


def _boxes(result: Any) -> Detections:
    b = result.boxes
    if b is None or len(b) == 0:
        return Detections.empty()
    return Detections(
        xyxy=b.xyxy.cpu().numpy(),
        confidence=b.conf.cpu().numpy(),
        class_id=b.cls.cpu().numpy().astype(np.int32),
    )


class PersonDetector(YoloModel):
    """YOLO person detector with a batched API.

    Args:
        weights: model reference: a name in the assets/cache (``yolo11n_int8_openvino_model``,
            ``yolo11n_int8_320.onnx``, ``yolo11n.pt``) or a path.
        conf: minimum confidence kept.
        iou: NMS IoU threshold.
        imgsz: inference size; a static export's own size wins.
        classes: class names to keep (``class_id`` holds the model's own index).
        device: "cpu", "cuda:0", ...

    Example:
        >>> det = PersonDetector("yolo11n_int8_320.onnx")  # doctest: +SKIP
        >>> det.imgsz  # read from the export, whatever was asked  # doctest: +SKIP
        320
        >>> dets = det.detect([frame_a, frame_b])  # doctest: +SKIP
    """

    task = "detect"

    def __init__(
        self,
        weights: str | Path = "yolo11n_int8_openvino_model",
        conf: float = 0.35,
        iou: float = 0.5,
        imgsz: int = 640,
        classes: Sequence[str] = ("person",),
        device: str = "cpu",
    ) -> None:
        super().__init__(
            weights,
            task="detect",
            conf=conf,
            iou=iou,
            imgsz=imgsz,
            classes=classes,
            device=device,
        )

    @classmethod
    def from_config(cls, cfg: DetectorConfig) -> PersonDetector:
        """Build from ``SiteConfig.models.detector``."""
        return cls(
            weights=cfg.weights,
            conf=cfg.conf,
            iou=cfg.iou,
            imgsz=cfg.imgsz,
            classes=tuple(cfg.classes),
            device=cfg.device,
        )

    def detect(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        """Detect people in each frame.

        Args:
            frames: (H, W, 3) uint8 BGR images (sizes may differ).

        Returns:
            One :class:`Detections` per frame, boxes in that frame's pixels.
        """
        return [_boxes(r) for r in self._predict(frames)]

    def __call__(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        return self.detect(frames)


__all__ = ["ExportInfo", "PersonDetector", "YoloModel", "export_info"]
