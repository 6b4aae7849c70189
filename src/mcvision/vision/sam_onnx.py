"""SAM on ONNX Runtime: a distilled SAM (TinyViT image encoder + SAM's prompt encoder and
mask decoder) prompted with person boxes.

The model is a folder holding two ONNX files (:data:`SAM_FILES`): ``encoder.onnx`` turns
a 1024×1024 image into (1, 256, 64, 64) embeddings, ``sam.onnx`` turns embeddings plus
box prompts into mask logits. The input contract (:func:`preprocess`,
:func:`box_prompts`):

* the image is converted to RGB, its longest side scaled to 1024, placed top-left in a
  1024×1024 canvas; ImageNet mean/std on 0–255 is applied and the padding is 0;
* a box is two prompt points in the scaled frame, labelled 2 (top-left) and 3
  (bottom-right);
* the decoder's 256×256 ``low_res_masks`` cover the whole 1024 canvas; a mask pixel is
  foreground where its logit is > 0. :func:`low_res_to_frame` warps them back onto the
  frame (only inside a region, so a mask costs its box, not the frame).

The exported decoder declares a batch of one prompt set; its graph repeats the image
embedding per prompt set, so :class:`OnnxSam` relaxes that dimension when it loads the
model and decodes all boxes of an image in one call. It also keeps only the decoder's
low-resolution outputs (the full-size ``masks`` output would resample every mask over
the whole frame).

Example:
    >>> import numpy as np
    >>> x, scale = preprocess(np.zeros((540, 960, 3), np.uint8))
    >>> x.shape, scale
    ((1, 3, 1024, 1024), (1.0666666666666667, 1.0666666666666667))
    >>> coords, labels = box_prompts([[96, 54, 192, 270]], scale)
    >>> coords.astype(float).round(1).tolist(), labels.tolist()
    ([[[102.4, 57.6], [204.8, 288.0]]], [[2.0, 3.0]])
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from mcvision.vision.weights import SAM_FILES, WeightsCorrupt, WeightsNotFound, sam_files

#: The two files a SAM ONNX folder holds: image encoder, prompt encoder + mask decoder.
#: Side of the square encoder input.
SAM_SIZE = 1024
#: Side of the decoder's low-resolution masks (they cover the whole encoder input).
LOW_RES = 256
#: ImageNet mean / std on 0–255, RGB.
PIXEL_MEAN = np.array([123.675, 116.28, 103.53], np.float32)
PIXEL_STD = np.array([58.395, 57.12, 57.375], np.float32)
#: Prompt labels of a box's top-left and bottom-right corners.
BOX_LABELS = (2.0, 3.0)


def scaled_size(hw: tuple[int, int], size: int = SAM_SIZE) -> tuple[int, int]:
    """(height, width) of an image whose longest side is scaled to ``size`` (SAM's rounding)."""
    h, w = hw
    s = size / max(h, w)
    return int(h * s + 0.5), int(w * s + 0.5)


def preprocess(
    image_bgr: np.ndarray, size: int = SAM_SIZE
) -> tuple[np.ndarray, tuple[float, float]]:
    """The encoder input of a BGR image and the (x, y) scale from image to encoder pixels.

    Returns:
        ``(1, 3, size, size)`` float32 (RGB, normalised, image top-left, zeros elsewhere)
        and ``(sx, sy)``: multiply image coordinates by them to get encoder coordinates.
    """
    h, w = image_bgr.shape[:2]
    nh, nw = scaled_size((h, w), size)
    interp = cv2.INTER_AREA if nh < h else cv2.INTER_LINEAR
    rgb = cv2.cvtColor(cv2.resize(image_bgr, (nw, nh), interpolation=interp), cv2.COLOR_BGR2RGB)
    x = np.zeros((size, size, 3), np.float32)
    x[:nh, :nw] = (rgb.astype(np.float32) - PIXEL_MEAN) / PIXEL_STD
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None]), (nw / w, nh / h)


def box_prompts(
    xyxy: np.ndarray | Sequence[Sequence[float]], scale: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Decoder prompts of N boxes: coords (N, 2, 2) in encoder pixels, labels (N, 2)."""
    boxes = np.asarray(xyxy, np.float32).reshape(-1, 4)
    sx, sy = scale
    coords = (boxes.reshape(-1, 2, 2) * np.array([sx, sy], np.float32)).astype(np.float32)
    labels = np.tile(np.array([BOX_LABELS], np.float32), (len(boxes), 1))
    return coords, labels


def low_res_to_frame(
    logits: np.ndarray,
    scale: tuple[float, float],
    frame_hw: tuple[int, int],
    region: Sequence[int] | None = None,
    offset: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """A (256, 256) logit mask over the encoder canvas → (H, W) bool mask over the frame.

    Only ``region`` (x1, y1, x2, y2 ints inside the frame; default the whole frame) is
    resampled (bilinear on the logits, foreground where > 0); the rest stays False.
    ``offset`` is where the frame's top-left sits in the canvas (encoder pixels; a tile).
    """
    h, w = frame_hw
    x1, y1, x2, y2 = (0, 0, w, h) if region is None else (int(v) for v in region)
    out = np.zeros((h, w), dtype=bool)
    if x2 <= x1 or y2 <= y1:
        return out
    lh, lw = logits.shape
    # frame pixel u (centre u + 0.5) sits at encoder x (u + 0.5) * sx, i.e. at
    # low-res x (u + 0.5) * sx * lw / SAM_SIZE - 0.5 (pixel centres again)
    gx, gy = scale[0] * lw / SAM_SIZE, scale[1] * lh / SAM_SIZE
    ox, oy = offset[0] * lw / SAM_SIZE, offset[1] * lh / SAM_SIZE
    warp = np.array(
        [[gx, 0, (x1 + 0.5) * gx - 0.5 + ox], [0, gy, (y1 + 0.5) * gy - 0.5 + oy]],
        dtype=np.float64,
    )
    part = cv2.warpAffine(
        logits.astype(np.float32),
        warp,
        (x2 - x1, y2 - y1),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=-1.0,
    )
    out[y1:y2, x1:x2] = part > 0
    return out


def pack_tiles(
    sizes: Sequence[tuple[int, int]], size: int = SAM_SIZE
) -> list[list[tuple[int, int, int]]]:
    """Shelf-pack (h, w) tiles into ``size``² canvases, in order.

    Returns:
        Per canvas, ``(index, x, y)`` of each tile placed on it (top-left corners).

    Raises:
        ValueError: a tile larger than the canvas.

    Example:
        >>> pack_tiles([(600, 400), (600, 400), (600, 400)])
        [[(0, 0, 0), (1, 400, 0)], [(2, 0, 0)]]
    """
    canvases: list[list[tuple[int, int, int]]] = []
    x = y = row_h = 0
    for i, (h, w) in enumerate(sizes):
        if h > size or w > size:
            raise ValueError(f"tile {i} of {h}x{w} does not fit a {size}x{size} canvas")
        if x + w > size:  # next shelf
            x, y, row_h = 0, y + row_h, 0
        if not canvases or y + h > size:  # next canvas
            canvases.append([])
            x = y = row_h = 0
        canvases[-1].append((i, x, y))
        x += w
        row_h = max(row_h, h)
    return canvases


def _providers(device: str) -> list[str]:
    import onnxruntime as ort

    if device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def _batched_decoder(path: Path) -> bytes:
    """The decoder with a free prompt-set dimension and only its low-res outputs."""
    import onnx
    from onnx import utils

    model = onnx.load(str(path))
    for inp in model.graph.input:
        if inp.name in ("point_coords", "point_labels"):
            inp.type.tensor_type.shape.dim[0].dim_param = "boxes"
    outputs = [o.name for o in model.graph.output]
    keep = [n for n in ("low_res_masks", "iou_predictions") if n in outputs]
    if len(keep) == 2:
        model = utils.Extractor(model).extract_model([i.name for i in model.graph.input], keep)
    return model.SerializeToString()


class OnnxSam:
    """The two ONNX sessions of a SAM folder: :meth:`embed` an image, :meth:`decode` boxes.

    Args:
        folder: a folder holding :data:`SAM_FILES`.
        device: ``cpu`` or ``cuda[:i]`` (CUDA only when onnxruntime has it).
        threads: intra-op threads (default ``$OMP_NUM_THREADS``).

    Raises:
        WeightsNotFound: a file is missing.
        WeightsCorrupt: a file does not load or has another contract.
    """

    def __init__(self, folder: str | Path, *, device: str = "cpu", threads: int | None = None):
        import onnxruntime as ort

        folder = Path(folder)
        files = sam_files(folder) if folder.is_dir() else None
        if files is None:
            raise WeightsNotFound(f"SAM ONNX folder {folder} must hold {' and '.join(SAM_FILES)}")
        enc_path, dec_path = files
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
        opts.log_severity_level = 3
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
        providers = _providers(device)
        try:
            self.encoder = ort.InferenceSession(str(enc_path), opts, providers=providers)
            self.decoder = ort.InferenceSession(
                _batched_decoder(dec_path), opts, providers=providers
            )
        except Exception as exc:
            raise WeightsCorrupt(f"cannot load SAM ONNX model from {folder}: {exc}") from exc
        enc_in = self.encoder.get_inputs()
        if len(enc_in) != 1 or list(enc_in[0].shape[1:]) != [3, SAM_SIZE, SAM_SIZE]:
            raise WeightsCorrupt(
                f"{enc_path}: expected one (1, 3, {SAM_SIZE}, {SAM_SIZE}) input, got"
                f" {[i.shape for i in enc_in]}"
            )
        need = {"image_embeddings", "point_coords", "point_labels"}
        dec_in = {i.name for i in self.decoder.get_inputs()}
        dec_out = [o.name for o in self.decoder.get_outputs()]
        if not need <= dec_in or "low_res_masks" not in dec_out:
            raise WeightsCorrupt(
                f"{dec_path}: not a SAM mask decoder (inputs {sorted(dec_in)}, outputs {dec_out})"
            )
        self.folder = folder
        self.providers = self.encoder.get_providers()
        self._enc_in, self._enc_out = enc_in[0].name, self.encoder.get_outputs()[0].name
        self._dec_in = dec_in

    def embed(self, image_bgr: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
        """(1, 256, 64, 64) embeddings of a BGR image and its image→encoder scale."""
        x, scale = preprocess(image_bgr)
        return self.encoder.run([self._enc_out], {self._enc_in: x})[0], scale

    def decode(
        self,
        embeddings: np.ndarray,
        xyxy: np.ndarray | Sequence[Sequence[float]],
        scale: tuple[float, float],
        image_hw: tuple[int, int],
    ) -> tuple[np.ndarray, np.ndarray]:
        """Low-res mask logits (N, 256, 256) and predicted IoUs (N,) of N boxes, in one call."""
        coords, labels = box_prompts(xyxy, scale)
        feed = {
            "image_embeddings": embeddings,
            "point_coords": coords,
            "point_labels": labels,
            "mask_input": np.zeros((1, 1, LOW_RES, LOW_RES), np.float32),
            "has_mask_input": np.zeros(1, np.float32),
            "orig_im_size": np.array(image_hw, np.float32),
        }
        low, iou = self.decoder.run(
            ["low_res_masks", "iou_predictions"],
            {k: v for k, v in feed.items() if k in self._dec_in},
        )
        return low[:, 0], iou.reshape(-1)


__all__ = [
    "BOX_LABELS",
    "LOW_RES",
    "SAM_FILES",
    "SAM_SIZE",
    "OnnxSam",
    "box_prompts",
    "low_res_to_frame",
    "pack_tiles",
    "preprocess",
    "sam_files",
    "scaled_size",
]
