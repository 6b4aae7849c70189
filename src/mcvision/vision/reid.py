"""Person re-identification embedders: crops in, L2-normalised vectors out.

Every backend keeps one contract (:class:`ReIDEmbedder`): ``embed(crops)`` takes BGR uint8
crops of any size and returns an (N, D) float32 array of unit vectors, in chunks of
``batch_size``. The input contract is the model's: OSNet exports take 256×128 RGB, /255,
ImageNet mean/std (:func:`preprocess`); Intel's retail ReID IRs take 256×128 **BGR 0-255**
with the normalisation inside the model (:func:`preprocess_bgr`). Backends are picked by
name from :data:`REID_BACKENDS` through :func:`build_reid`:

* ``onnx``: onnxruntime (CPU; CUDA when asked for and available), e.g. the OSNet export
  ``osnet_x0_25_msmt17.onnx``;
* ``openvino``: an OpenVINO IR folder or ``.xml``, e.g. Intel's
  ``reid_openvino/person-reidentification-retail-0286`` (256-d), reshaped to a dynamic
  batch so one call embeds a whole batch;
* ``torchreid``: a torchreid model (``arch``) with a ``.pth``/``.pt`` state dict; fp16 on
  CUDA. An ``.onnx`` OSNet given to this backend is converted once into the cache
  (:func:`convert_osnet_onnx_to_torchreid`).

Example:
    >>> from mcvision.config import ReIDConfig
    >>> reid = build_reid(ReIDConfig(backend="onnx"))  # doctest: +SKIP
    >>> reid.embed([crop_a, crop_b]).shape  # doctest: +SKIP
    (2, 512)
"""

from __future__ import annotations

import functools
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from mcvision.vision.crops import crop_boxes

if TYPE_CHECKING:
    from mcvision.config import ReIDConfig
    from mcvision.types import Detections

#: Network input (height, width).
INPUT_HW: tuple[int, int] = (256, 128)
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def _check_crop(crop: Any, i: int) -> None:
    if (
        not isinstance(crop, np.ndarray)
        or crop.ndim != 3
        or crop.shape[2] != 3
        or crop.shape[0] < 1
        or crop.shape[1] < 1
    ):
        shape = getattr(crop, "shape", type(crop).__name__)
        raise ValueError(f"crop {i}: expected an (h, w, 3) BGR image, got {shape}")
    if crop.dtype != np.uint8:
        raise ValueError(f"crop {i}: expected uint8, got {crop.dtype}")


def preprocess(crops: Sequence[np.ndarray], size_hw: tuple[int, int] = INPUT_HW) -> np.ndarray:
    """BGR uint8 crops → (N, 3, H, W) float32, RGB, ImageNet-normalised.

    Raises:
        ValueError: a crop is not an (h, w, 3) uint8 array with h, w >= 1 (names its index).
    """
    h, w = size_hw
    out = np.empty((len(crops), 3, h, w), dtype=np.float32)
    for i, crop in enumerate(crops):
        _check_crop(crop, i)
        img = cv2.resize(crop, (w, h), interpolation=cv2.INTER_LINEAR)
        rgb = img[:, :, ::-1].astype(np.float32) / 255.0
        out[i] = ((rgb - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)
    return out


def preprocess_bgr(crops: Sequence[np.ndarray], size_hw: tuple[int, int] = INPUT_HW) -> np.ndarray:
    """BGR uint8 crops → (N, 3, H, W) float32, BGR, 0-255 (models that normalise inside).

    Example:
        >>> preprocess_bgr([np.full((50, 20, 3), (10, 20, 30), np.uint8)])[0, :, 0, 0].tolist()
        [10.0, 20.0, 30.0]

    Raises:
        ValueError: a crop is not an (h, w, 3) uint8 array with h, w >= 1 (names its index).
    """
    h, w = size_hw
    out = np.empty((len(crops), 3, h, w), dtype=np.float32)
    for i, crop in enumerate(crops):
        _check_crop(crop, i)
        out[i] = cv2.resize(crop, (w, h), interpolation=cv2.INTER_LINEAR).transpose(2, 0, 1)
    return out


def l2_normalize(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), float32."""
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norm, eps)).astype(np.float32)


class ReIDEmbedder(ABC):
    """Base of every ReID backend.

    Subclasses implement :meth:`_forward` (a preprocessed NCHW batch → raw (n, D)
    features) and set :attr:`dim`; batching, validation and normalisation live here.

    Example:
        >>> class Mean(ReIDEmbedder):
        ...     dim = 3
        ...     def _forward(self, batch):
        ...         return batch.mean(axis=(2, 3))
        >>> Mean().embed([np.full((40, 20, 3), 200, np.uint8)]).shape
        (1, 3)
        >>> Mean().embed([]).shape
        (0, 3)
    """

    #: Embedding size.
    dim: int = 0
    #: Largest number of crops sent to the network at once.
    batch_size: int = 32
    #: Network input (height, width).
    input_hw: tuple[int, int] = INPUT_HW

    @abstractmethod
    def _forward(self, batch: np.ndarray) -> np.ndarray:
        """(n, 3, H, W) float32 → (n, D) raw features."""

    def _prepare(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """BGR uint8 crops → the network's input batch (default: RGB, ImageNet mean/std)."""
        return preprocess(crops, self.input_hw)

    def embed(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """Embed BGR uint8 crops of any size.

        Returns:
            (N, D) float32, each row L2-normalised; (0, D) for no crops.
        """
        crops = list(crops)
        if not crops:
            return np.zeros((0, self.dim), dtype=np.float32)
        outs = []
        for start in range(0, len(crops), self.batch_size):
            batch = self._prepare(crops[start : start + self.batch_size])
            outs.append(np.asarray(self._forward(batch), dtype=np.float32))
        feats = np.concatenate(outs, axis=0)
        if feats.shape != (len(crops), self.dim):
            raise RuntimeError(
                f"{type(self).__name__}: model returned {feats.shape}, expected"
                f" {(len(crops), self.dim)}"
            )
        return l2_normalize(feats)

    def embed_detections(
        self,
        frame: np.ndarray,
        dets: Detections,
        masks: np.ndarray | None = None,
        pad: float = 0.0,
    ) -> np.ndarray:
        """Embed every box of ``dets`` cut from ``frame``.

        Args:
            frame: (H, W, 3) uint8 BGR.
            dets: the boxes.
            masks: (N, H, W) bool; defaults to ``dets.mask`` (None: plain box crops).
            pad: fraction of the box size added around each box.

        Returns:
            (N, D) float32 unit rows, aligned with ``dets``.
        """
        if masks is None:
            masks = dets.mask
        return self.embed(crop_boxes(frame, dets.xyxy, masks=masks, pad=pad))


def _providers(device: str) -> list[str]:
    import onnxruntime as ort

    if device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class OnnxReID(ReIDEmbedder):
    """ReID through onnxruntime.

    The model takes one (N, 3, 256, 128) input and returns (N, D) features. A static batch
    dimension is honoured by padding the last chunk.

    Example:
        >>> reid = OnnxReID("osnet_x0_25_msmt17.onnx")  # doctest: +SKIP
        >>> reid.dim  # doctest: +SKIP
        512
    """

    def __init__(
        self,
        weights: str | Path,
        *,
        device: str = "cpu",
        batch_size: int = 32,
        threads: int | None = None,
    ) -> None:
        import onnxruntime as ort

        from mcvision.vision.weights import WeightsCorrupt, WeightsNotFound

        path = Path(weights)
        if not path.is_file():
            raise WeightsNotFound(f"ReID ONNX model not found: {path}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
        opts.log_severity_level = 3
        # No busy-waiting between calls: the embedder shares the CPU with the detector.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=_providers(device))
        except Exception as exc:
            raise WeightsCorrupt(f"cannot load ReID ONNX model {path}: {exc}") from exc
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise WeightsCorrupt(
                f"{path}: expected one NCHW input, got {[i.shape for i in inputs]}"
            )
        self.path = path
        self.input_name = inputs[0].name
        self.output_name = outputs[0].name
        n, _, h, w = inputs[0].shape
        if isinstance(h, int) and isinstance(w, int):
            self.input_hw = (h, w)
        self.static_batch: int | None = n if isinstance(n, int) and n > 0 else None
        self.batch_size = self.static_batch or batch_size
        d = outputs[0].shape[-1]
        if isinstance(d, int) and d > 0:
            self.dim = d
        else:
            probe = np.zeros((self.static_batch or 1, 3, *self.input_hw), dtype=np.float32)
            self.dim = int(
                self.session.run([self.output_name], {self.input_name: probe})[0].shape[-1]
            )

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        n = len(batch)
        if self.static_batch and n < self.static_batch:
            pad = np.zeros((self.static_batch - n, *batch.shape[1:]), dtype=batch.dtype)
            batch = np.concatenate([batch, pad])
        out = self.session.run([self.output_name], {self.input_name: batch})[0]
        return np.asarray(out).reshape(len(batch), -1)[:n]


class OpenVinoReID(ReIDEmbedder):
    """ReID through OpenVINO, for IRs that take BGR 0-255 (Intel's retail ReID models).

    The IR's static batch of 1 is reshaped to a dynamic batch, so a chunk of
    ``batch_size`` crops is one inference call.

    Example:
        >>> reid = OpenVinoReID("reid_openvino/person-reidentification-retail-0286")  # doctest: +SKIP
        >>> reid.dim  # doctest: +SKIP
        256
    """

    def __init__(
        self,
        weights: str | Path,
        *,
        device: str = "cpu",
        batch_size: int = 32,
        threads: int | None = None,
    ) -> None:
        import openvino as ov

        from mcvision.vision.weights import WeightsCorrupt, WeightsNotFound

        path = Path(weights)
        xml = path if path.suffix == ".xml" else next(iter(sorted(path.glob("*.xml"))), None)
        if xml is None or not xml.is_file() or not xml.with_suffix(".bin").is_file():
            raise WeightsNotFound(f"OpenVINO ReID model (.xml + .bin) not found: {path}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        core = ov.Core()
        try:
            model = core.read_model(str(xml))
            shape = model.inputs[0].get_partial_shape()
            if shape.rank.get_length() != 4:
                raise WeightsCorrupt(f"{xml}: expected one NCHW input, got {shape}")
            h, w = shape[2].get_length(), shape[3].get_length()
            model.reshape([-1, 3, h, w])
            n_threads = threads or int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
            config: dict[str, Any] = {"INFERENCE_NUM_THREADS": n_threads} if n_threads > 0 else {}
            target = "CPU" if device.lower().startswith(("cpu", "cuda")) else device.upper()
            if target == "CPU":
                # f32 on every CPU: on AMX/AVX512-BF16 CPUs OpenVINO would otherwise run in
                # bf16, shifting the cosines that identity.match_threshold was derived from
                config["INFERENCE_PRECISION_HINT"] = "f32"
            self.compiled = core.compile_model(model, target, config)
        except WeightsCorrupt:
            raise
        except Exception as exc:
            raise WeightsCorrupt(f"cannot load OpenVINO ReID model {xml}: {exc}") from exc
        self.path = xml
        self.input_hw = (h, w)
        self.batch_size = batch_size
        self._output = self.compiled.output(0)
        probe = np.zeros((1, 3, h, w), dtype=np.float32)
        self.dim = int(np.asarray(self.compiled(probe)[self._output]).reshape(1, -1).shape[1])

    def _prepare(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        return preprocess_bgr(crops, self.input_hw)

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        out = self.compiled(np.ascontiguousarray(batch))[self._output]
        return np.asarray(out).reshape(len(batch), -1)


def _build_arch(arch: str) -> Any:
    """A random-init torchreid model; ValueError naming the known archs when unknown."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchreid warns about its missing Cython metrics
        from torchreid import models as tr_models

        try:
            return tr_models.build_model(arch, num_classes=1, pretrained=False)
        except KeyError as exc:
            raise ValueError(f"unknown torchreid arch {arch!r}: {exc.args[0]}") from None


def load_state_dict(path: str | Path) -> dict[str, Any]:
    """Read a torchreid checkpoint: a bare state dict or ``{"state_dict": ...}``; strips
    ``module.`` (DataParallel) prefixes."""
    import torch

    from mcvision.vision.weights import WeightsCorrupt

    try:
        ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsCorrupt(f"cannot read ReID checkpoint {path}: {exc}") from exc
    if isinstance(ckpt, dict) and isinstance(ckpt.get("state_dict"), dict):
        ckpt = ckpt["state_dict"]
    if not isinstance(ckpt, dict) or not ckpt:
        raise WeightsCorrupt(f"{path}: not a state dict (got {type(ckpt).__name__})")
    return {(k[7:] if k.startswith("module.") else k): v for k, v in ckpt.items()}


class TorchreidReID(ReIDEmbedder):
    """ReID through a torchreid model (eval mode, no grad; fp16 on CUDA).

    The classifier head is not used at inference: a checkpoint whose classifier size
    differs from the built model's (any training set) loads with it dropped.

    Example:
        >>> reid = TorchreidReID("osnet_x0_25_msmt17.pth", arch="osnet_x0_25")  # doctest: +SKIP
    """

    def __init__(
        self,
        weights: str | Path,
        *,
        arch: str = "osnet_x0_25",
        device: str = "cpu",
        batch_size: int = 32,
    ) -> None:
        import torch

        from mcvision.vision.weights import WeightsCorrupt, WeightsNotFound

        path = Path(weights)
        if not path.is_file():
            raise WeightsNotFound(f"torchreid checkpoint not found: {path}")
        if path.suffix == ".onnx":
            raise ValueError(
                f"{path} is ONNX: convert it with convert_osnet_onnx_to_torchreid() or use"
                " the 'onnx' backend"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        model = _build_arch(arch)
        state = load_state_dict(path)
        own = model.state_dict()
        dropped = [
            k
            for k, v in state.items()
            if k in own and tuple(getattr(v, "shape", ())) != tuple(own[k].shape)
        ]
        bad = [k for k in dropped if not k.startswith("classifier.")]
        if bad:
            raise WeightsCorrupt(
                f"{path}: shapes differ from torchreid {arch!r} for {bad[:5]}"
                f"{' ...' if len(bad) > 5 else ''}: wrong arch?"
            )
        for k in dropped:
            del state[k]
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith("classifier.")]
        if missing or unexpected:
            raise WeightsCorrupt(
                f"{path}: does not match torchreid {arch!r}: missing {missing[:5]},"
                f" unexpected {unexpected[:5]}"
            )
        use_cuda = device.startswith("cuda") and torch.cuda.is_available()
        self.device = torch.device(device if use_cuda else "cpu")
        self.half = self.device.type == "cuda"
        model = model.to(self.device).eval()
        if self.half:
            model = model.half()
        self.model = model
        self.path = path
        self.arch = arch
        self.dim = int(getattr(model, "feature_dim", 0)) or self._probe_dim()

    def _probe_dim(self) -> int:
        return int(self._forward(np.zeros((1, 3, *self.input_hw), dtype=np.float32)).shape[-1])

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        import torch

        from mcvision._env import set_torch_threads

        set_torch_threads()
        with torch.inference_mode():
            x = torch.from_numpy(batch).to(self.device)
            if self.half:
                x = x.half()
            out = self.model(x)
            if isinstance(out, tuple | list):
                out = out[0]
            return out.float().cpu().numpy().reshape(len(batch), -1)


#: Backend name → class.
REID_BACKENDS: dict[str, type[ReIDEmbedder]] = {
    "onnx": OnnxReID,
    "openvino": OpenVinoReID,
    "torchreid": TorchreidReID,
}


def build_reid(
    cfg: ReIDConfig, *, cache_dir: Path | None = None, download: bool = True
) -> ReIDEmbedder:
    """The ReID embedder a config names, with its weights resolved.

    For the ``torchreid`` backend an ``.onnx`` OSNet is converted once to
    ``<cache>/weights/<stem>.<arch>.pth``, ``<cache>`` being ``cache_dir`` or the cache
    root of :mod:`mcvision.vision.weights` (converted again when the ONNX is newer).

    Raises:
        ValueError: unknown backend.
        WeightsNotFound, WeightsCorrupt: from resolving/loading the weights.
    """
    from mcvision.vision import weights as W

    if cfg.backend not in REID_BACKENDS:
        raise ValueError(f"unknown ReID backend {cfg.backend!r}; known: {sorted(REID_BACKENDS)}")
    path = W.resolve(cfg.weights, cache_dir=cache_dir, download=download)
    if cfg.backend == "onnx":
        return OnnxReID(path, device=cfg.device, threads=cfg.threads)
    if cfg.backend == "openvino":
        return OpenVinoReID(path, device=cfg.device, threads=cfg.threads)
    if path.suffix == ".onnx":
        root = Path(cache_dir) if cache_dir is not None else W.cache_root()
        converted = root / "weights" / f"{path.stem}.{cfg.arch}.pth"
        if not converted.is_file() or converted.stat().st_mtime < path.stat().st_mtime:
            convert_osnet_onnx_to_torchreid(path, converted, arch=cfg.arch)
        path = converted
    return TorchreidReID(path, arch=cfg.arch, device=cfg.device)


@functools.lru_cache(maxsize=16)
def _model_dim(backend: str, path: str, arch: str) -> int | None:
    if backend == "onnx" or path.endswith(".onnx"):
        import onnx

        out = onnx.load(path, load_external_data=False).graph.output[0]
        d = out.type.tensor_type.shape.dim[-1].dim_value
        if d > 0:
            return int(d)
    elif backend == "openvino":
        import openvino as ov

        xml = Path(path)
        xml = xml if xml.suffix == ".xml" else next(iter(sorted(xml.glob("*.xml"))), xml)
        shape = ov.Core().read_model(str(xml)).outputs[0].get_partial_shape()
        if shape[-1].is_static:
            return int(shape[-1].get_length())
    return None


def embedding_dim(cfg: ReIDConfig, *, default: int = 512) -> int:
    """The width of the embeddings a ReID config produces, read from the model file.

    Used to size the gallery before any embedding arrives. Falls back to building the
    model when the file does not say (a dynamic output), and to ``default`` when the
    weights cannot be found (such a site produces no embeddings to store anyway).

    Example:
        >>> from mcvision.config import ReIDConfig
        >>> embedding_dim(ReIDConfig(backend="openvino",
        ...               weights="reid_openvino/person-reidentification-retail-0286"))  # doctest: +SKIP
        256
    """
    from mcvision.vision import weights as W

    try:
        path = W.resolve(cfg.weights, download=False)
    except W.WeightsNotFound:
        return default
    dim = _model_dim(cfg.backend, str(path), cfg.arch)
    if dim is None:
        dim = build_reid(cfg, download=False).dim
    return int(dim)


# --------------------------------------------------------------------------- conversion


def _torch_call_order(model: Any, input_hw: tuple[int, int]) -> list[tuple[str, Any, Any]]:
    """Run a dummy input; list (module name, module, bn-or-None) for each Conv2d/Linear call
    and each BatchNorm call not fed by a conv, in execution order.

    A BatchNorm whose input is the very tensor a Conv2d just produced is paired with it
    (the pair an ONNX export folds into one Conv).
    """
    import torch
    from torch import nn

    calls: list[list[Any]] = []
    produced: dict[int, int] = {}  # id(conv output tensor) -> index in calls
    names = {m: n for n, m in model.named_modules()}
    hooks = []

    def on_conv(mod: nn.Module, inp: tuple[Any, ...], out: Any) -> None:
        if isinstance(mod, nn.Conv2d):  # a Gemm is exported apart from its BatchNorm
            produced[id(out)] = len(calls)
        calls.append([names[mod], mod, None, out])

    def on_bn(mod: nn.Module, inp: tuple[Any, ...], out: Any) -> None:
        j = produced.get(id(inp[0]))
        if j is not None and calls[j][2] is None and calls[j][3] is inp[0]:
            calls[j][2] = mod
        else:
            calls.append([names[mod], mod, None, out])

    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            hooks.append(m.register_forward_hook(on_conv))
        elif isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            hooks.append(m.register_forward_hook(on_bn))
    try:
        with torch.no_grad():
            model(torch.zeros(2, 3, *input_hw))
    finally:
        for h in hooks:
            h.remove()
    return [(c[0], c[1], c[2]) for c in calls]


def convert_osnet_onnx_to_torchreid(
    onnx_path: str | Path,
    out_path: str | Path,
    arch: str = "osnet_x0_25",
    *,
    check: bool = True,
) -> Path:
    """Turn an OSNet ONNX export into a torchreid state dict (``.pth``).

    The ONNX graph's weighted nodes (Conv, Gemm, BatchNormalization), in graph order, are
    matched one to one with torchreid's Conv2d/Linear/BatchNorm calls in execution order
    (shared modules such as OSNet's channel gate are called, and exported, several times:
    each call must map to the same initializer). Shapes are checked at every step. Where
    the export folded a BatchNorm into the preceding conv (the conv carries a bias, the
    torch conv has none), the fused weight goes to the conv, the fused bias to the
    BatchNorm's bias, and the BatchNorm becomes the identity (weight 1, mean 0,
    variance ``1 - eps``).

    Args:
        onnx_path: the ONNX model (input N×3×256×128).
        out_path: where to write the ``.pth`` (parent folders are created).
        arch: the torchreid architecture the export came from.
        check: run both models on a random batch and require cosine >= 0.999.

    Returns:
        ``out_path``.

    Raises:
        WeightsCorrupt: the graph does not match ``arch`` (names the first mismatch), or
            the check fails.
    """
    import onnx
    import torch
    from onnx import numpy_helper

    from mcvision.vision.weights import WeightsCorrupt, WeightsNotFound

    onnx_path, out_path = Path(onnx_path), Path(out_path)
    if not onnx_path.is_file():
        raise WeightsNotFound(f"ONNX model not found: {onnx_path}")
    try:
        graph = onnx.load(str(onnx_path)).graph
    except Exception as exc:
        raise WeightsCorrupt(f"cannot read ONNX model {onnx_path}: {exc}") from exc
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    onnx_nodes = [n for n in graph.node if n.op_type in ("Conv", "Gemm", "BatchNormalization")]

    model = _build_arch(arch).eval()
    calls = _torch_call_order(model, INPUT_HW)
    if len(calls) != len(onnx_nodes):
        raise WeightsCorrupt(
            f"{onnx_path}: {len(onnx_nodes)} weighted ONNX nodes vs {len(calls)} weighted"
            f" calls in torchreid {arch!r}: not an export of this arch"
        )

    def arr(node: Any, i: int) -> np.ndarray | None:
        if i >= len(node.input) or not node.input[i]:
            return None
        if node.input[i] not in inits:
            raise WeightsCorrupt(f"{onnx_path}: node {node.name!r} input {i} is not a constant")
        return inits[node.input[i]]

    assigned: dict[str, tuple[str, ...]] = {}  # torch module name -> ONNX tensor names
    new: dict[str, torch.Tensor] = {}

    def put(key: str, value: np.ndarray) -> None:
        own = model.state_dict()[key]
        if tuple(own.shape) != tuple(value.shape):
            raise WeightsCorrupt(
                f"{onnx_path}: {key} is {tuple(own.shape)} in torchreid {arch!r}, ONNX gives"
                f" {tuple(value.shape)}"
            )
        new[key] = torch.from_numpy(np.array(value, copy=True)).to(own.dtype)

    for (name, mod, bn), node in zip(calls, onnx_nodes, strict=True):
        tensors = tuple(node.input[1:])
        if name in assigned:
            if assigned[name] != tensors:
                raise WeightsCorrupt(
                    f"{onnx_path}: torchreid module {name!r} is called again but ONNX node"
                    f" {node.name!r} uses other weights"
                )
            continue
        assigned[name] = tensors
        kind = type(mod).__name__
        expected = {"Conv2d": "Conv", "Linear": "Gemm"}.get(kind, "BatchNormalization")
        if node.op_type != expected:
            raise WeightsCorrupt(
                f"{onnx_path}: ONNX node {node.name!r} is {node.op_type}, torchreid's next call"
                f" is {kind} {name!r}"
            )
        if node.op_type == "BatchNormalization":
            for i, part in enumerate(("weight", "bias", "running_mean", "running_var"), 1):
                put(f"{name}.{part}", arr(node, i))
            continue
        w, b = arr(node, 1), arr(node, 2)
        if node.op_type == "Gemm":
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            if not attrs.get("transB", 0):
                w = w.T
        put(f"{name}.weight", w)
        has_bias = getattr(mod, "bias", None) is not None
        if has_bias:
            if b is None:
                raise WeightsCorrupt(f"{onnx_path}: {name} has a bias, ONNX node has none")
            put(f"{name}.bias", b)
        elif bn is not None:
            bn_name = next(n for n, m in model.named_modules() if m is bn)
            c = bn.num_features
            put(f"{bn_name}.weight", np.ones(c, np.float32))
            put(f"{bn_name}.bias", b if b is not None else np.zeros(c, np.float32))
            put(f"{bn_name}.running_mean", np.zeros(c, np.float32))
            put(f"{bn_name}.running_var", np.full(c, 1.0 - bn.eps, np.float32))
        elif b is not None and np.any(b != 0):
            raise WeightsCorrupt(
                f"{onnx_path}: ONNX node {node.name!r} has a bias but torchreid's {name} has"
                " neither bias nor BatchNorm"
            )
    state = model.state_dict()
    unset = [
        k
        for k in state
        if k not in new
        and not k.startswith("classifier.")
        and not k.endswith("num_batches_tracked")
    ]
    if unset:
        raise WeightsCorrupt(f"{onnx_path}: no ONNX weights for {unset[:5]}")
    state.update(new)
    model.load_state_dict(state)
    if check:
        _check_conversion(onnx_path, model)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    torch.save(model.state_dict(), tmp)
    tmp.replace(out_path)
    return out_path


def _check_conversion(onnx_path: Path, model: Any) -> None:
    import onnxruntime as ort
    import torch

    from mcvision.vision.weights import WeightsCorrupt

    x = np.random.default_rng(0).standard_normal((2, 3, *INPUT_HW)).astype(np.float32)
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    ref = sess.run(None, {sess.get_inputs()[0].name: x})[0].reshape(2, -1)
    with torch.no_grad():
        got = model.eval()(torch.from_numpy(x)).numpy().reshape(2, -1)
    cos = (l2_normalize(ref) * l2_normalize(got)).sum(axis=1)
    if ref.shape != got.shape or float(cos.min()) < 0.999:
        raise WeightsCorrupt(
            f"{onnx_path}: converted model disagrees with the ONNX (cosine {cos.round(4)})"
        )
