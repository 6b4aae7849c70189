"""ReID embedders: shared contract, ONNX and torchreid backends, ONNX → torchreid conversion."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from mcvision.config import ReIDConfig
from mcvision.datasets.market import scan_market_folder
from mcvision.evaluate.reid_protocol import rank_metrics
from mcvision.types import Detections
from mcvision.vision.crops import IMAGENET_MEAN_BGR, crop_boxes
from mcvision.vision.reid import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    REID_BACKENDS,
    OnnxReID,
    OpenVinoReID,
    ReIDEmbedder,
    TorchreidReID,
    build_reid,
    convert_osnet_onnx_to_torchreid,
    l2_normalize,
    preprocess,
    preprocess_bgr,
)
from mcvision.vision.weights import WeightsCorrupt, WeightsNotFound

PRW = "footage/PRW_multicam_c1_c3"
OSNET = "models/osnet_x0_25_msmt17.onnx"


# ------------------------------------------------------------------ contract (no weights)


class ChannelMean(ReIDEmbedder):
    """Embeds a crop as its per-channel mean after preprocessing; records batch sizes."""

    dim = 3

    def __init__(self, batch_size: int = 32) -> None:
        self.batch_size = batch_size
        self.calls: list[int] = []

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        self.calls.append(len(batch))
        return batch.mean(axis=(2, 3))


def test_preprocess_layout_and_normalisation() -> None:
    red = np.zeros((50, 30, 3), np.uint8)
    red[..., 2] = 255  # BGR red
    mean = np.broadcast_to(np.array(IMAGENET_MEAN_BGR, np.uint8), (10, 10, 3)).copy()
    x = preprocess([red, mean])
    assert x.shape == (2, 3, 256, 128) and x.dtype == np.float32
    want_red = (np.array([1.0, 0.0, 0.0]) - IMAGENET_MEAN) / IMAGENET_STD
    np.testing.assert_allclose(x[0, :, 100, 60], want_red, atol=1e-5)  # RGB order
    assert np.abs(x[1]).max() < 0.01  # the fill colour normalises to ~0


@pytest.mark.parametrize(
    ("crop", "message"),
    [
        (np.zeros((10, 10), np.uint8), r"crop 1: expected an \(h, w, 3\)"),
        (np.zeros((0, 10, 3), np.uint8), "crop 1: expected"),
        (np.zeros((10, 10, 4), np.uint8), "crop 1: expected"),
        (np.zeros((10, 10, 3), np.float32), "crop 1: expected uint8"),
        ("not an image", "crop 1: expected"),
    ],
)
def test_bad_crop_is_named(crop: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ChannelMean().embed([np.zeros((8, 8, 3), np.uint8), crop])


@pytest.mark.parametrize(
    ("n", "batch_size", "calls"),
    [(0, 4, []), (1, 4, [1]), (4, 4, [4]), (5, 2, [2, 2, 1]), (7, 3, [3, 3, 1])],
)
def test_embed_chunks_and_normalises(n: int, batch_size: int, calls: list[int]) -> None:
    rng = np.random.default_rng(n)
    crops = [
        rng.integers(0, 256, (int(rng.integers(5, 80)), 20, 3), dtype=np.uint8) for _ in range(n)
    ]
    emb = ChannelMean(batch_size)
    out = emb.embed(crops)
    assert emb.calls == calls
    assert out.shape == (n, 3) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), np.ones(n), atol=1e-6)


@pytest.mark.parametrize(
    ("rows", "norms"), [([[3, 4]], [1.0]), ([[0, 0], [1, 0]], [0.0, 1.0]), ([[1e-3, 0]], [1.0])]
)
def test_l2_normalize(rows: list[list[float]], norms: list[float]) -> None:
    np.testing.assert_allclose(np.linalg.norm(l2_normalize(np.array(rows)), axis=1), norms)


def test_embed_detections_uses_dets_mask_by_default() -> None:
    frame = np.zeros((60, 80, 3), np.uint8)
    frame[:, :40] = (0, 0, 255)  # left half red, right half green
    frame[:, 40:] = (0, 255, 0)
    box = [[20, 10, 60, 50]]  # half red, half green
    mask = np.zeros((1, 60, 80), bool)
    mask[0, :, :40] = True  # keep only the red part
    emb = ChannelMean()
    plain = emb.embed_detections(frame, Detections(xyxy=box))
    masked = emb.embed_detections(frame, Detections(xyxy=box, mask=mask))
    explicit = emb.embed_detections(frame, Detections(xyxy=box), masks=mask)
    np.testing.assert_allclose(masked, explicit)
    direct = emb.embed(crop_boxes(frame, box, masks=mask))
    np.testing.assert_allclose(masked, direct)
    # masking away the green half lowers the green channel relative to red
    assert masked[0, 1] < plain[0, 1]
    assert masked[0, 0] > plain[0, 0]
    assert emb.embed_detections(frame, Detections.empty()).shape == (0, 3)


def test_registry_names() -> None:
    assert REID_BACKENDS["onnx"] is OnnxReID
    assert REID_BACKENDS["torchreid"] is TorchreidReID
    assert REID_BACKENDS["openvino"] is OpenVinoReID
    assert sorted(REID_BACKENDS) == ["onnx", "openvino", "torchreid"]


def test_bgr_preprocess_keeps_bgr_0_255() -> None:
    crop = np.zeros((64, 32, 3), np.uint8)
    crop[..., 0], crop[..., 2] = 200, 10  # blue-ish in BGR
    batch = preprocess_bgr([crop])
    assert batch.shape == (1, 3, 256, 128) and batch.dtype == np.float32
    assert batch[0, 0].mean() == pytest.approx(200) and batch[0, 2].mean() == pytest.approx(10)
    with pytest.raises(ValueError, match="crop 0: expected uint8"):
        preprocess_bgr([crop.astype(np.float32)])


def test_openvino_backend_missing(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFound, match="OpenVINO ReID model"):
        OpenVinoReID(tmp_path / "nothing")


# ------------------------------------------------------------------ ONNX backend (synthetic)


def _tiny_onnx(path: Path, batch: int | str) -> Path:
    """A model mapping N×3×256×128 to its N×3 channel means."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [batch, 3, 256, 128])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, [batch, 3])
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [-1, 3])
    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["images"], ["pooled"]),
            helper.make_node("Reshape", ["pooled", "shape"], ["output"]),
        ],
        "tiny",
        [x],
        [y],
        initializer=[shape],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize(("batch", "static"), [("batch", None), (2, 2)])
def test_onnx_backend_dynamic_and_static_batch(tmp_path: Path, batch, static) -> None:
    reid = OnnxReID(_tiny_onnx(tmp_path / "m.onnx", batch), batch_size=4)
    assert reid.static_batch == static
    assert reid.dim == 3
    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 256, (40, 20, 3), dtype=np.uint8) for _ in range(5)]
    out = reid.embed(crops)
    want = ChannelMean().embed(crops)
    np.testing.assert_allclose(out, want, atol=1e-5)


def test_onnx_backend_missing_and_corrupt(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFound, match=r"nope\.onnx"):
        OnnxReID(tmp_path / "nope.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(WeightsCorrupt, match=r"bad\.onnx"):
        OnnxReID(bad)


# ------------------------------------------------------------------ torchreid backend (random init)


def _save_random_osnet(path: Path, num_classes: int, prefix: str = "") -> dict:
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchreid's note about its Cython metrics
        import torchreid

    torch.manual_seed(0)
    model = torchreid.models.build_model("osnet_x0_25", num_classes=num_classes, pretrained=False)
    state = {prefix + k: v for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "epoch": 3}, path)
    return model.state_dict()


def test_torchreid_loads_dataparallel_checkpoint_with_other_classifier(tmp_path: Path) -> None:
    want = _save_random_osnet(tmp_path / "m.pth", num_classes=751, prefix="module.")
    reid = TorchreidReID(tmp_path / "m.pth", arch="osnet_x0_25", batch_size=3)
    got = reid.model.state_dict()
    assert reid.dim == 512
    assert got["classifier.weight"].shape == (1, 512)  # dropped, not loaded
    for k in ("conv1.conv.weight", "conv5.bn.running_var", "fc.0.weight"):
        assert got[k].equal(want[k])
    out = reid.embed([np.full((90, 40, 3), v, np.uint8) for v in (10, 120, 250, 60)])
    assert out.shape == (4, 512)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_torchreid_errors(tmp_path: Path) -> None:
    _save_random_osnet(tmp_path / "m.pth", num_classes=1)
    with pytest.raises(WeightsNotFound):
        TorchreidReID(tmp_path / "missing.pth")
    with pytest.raises(WeightsCorrupt, match="wrong arch"):
        TorchreidReID(tmp_path / "m.pth", arch="osnet_x0_5")
    with pytest.raises(ValueError, match="unknown torchreid arch 'resnet9000'"):
        TorchreidReID(tmp_path / "m.pth", arch="resnet9000")
    (tmp_path / "m.onnx").write_bytes(b"x")
    with pytest.raises(ValueError, match="convert it"):
        TorchreidReID(tmp_path / "m.onnx")


# ------------------------------------------------------------------ real weights


def _prw_crops(assets: Path) -> tuple[list[np.ndarray], list[str]]:
    """Hand-picked PRW crops and the Market query crops, labelled by person."""
    root = assets / PRW
    boxes = json.loads((root / "approx_boxes_handpicked.json").read_text())
    crops: list[np.ndarray] = []
    labels: list[str] = []
    for frame, box in boxes["person_0001"].items():
        crops += crop_boxes(cv2.imread(str(root / frame)), [box])
        labels.append("0001")
    for q in sorted((root / "query").glob("0001_*.jpg")):
        crops.append(cv2.imread(str(q)))
        labels.append("0001")
    for frame, people in boxes["other_people"].items():
        for name, box in people.items():
            crops += crop_boxes(cv2.imread(str(root / frame)), [box])
            labels.append(name)
    return crops, labels


@pytest.fixture(scope="module")
def converted(assets: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reid") / "osnet_x0_25_msmt17.pth"
    return convert_osnet_onnx_to_torchreid(assets / OSNET, out, arch="osnet_x0_25")


@pytest.mark.assets
def test_openvino_retail_reid_real(assets: Path) -> None:
    """Intel's retail-0286: BGR 0-255 input, 256-d, batched = one by one, person 0001 apart."""
    cfg = ReIDConfig(
        backend="openvino", weights="reid_openvino/person-reidentification-retail-0286"
    )
    reid = build_reid(cfg)
    assert isinstance(reid, OpenVinoReID) and reid.dim == 256 and reid.input_hw == (256, 128)
    crops, labels = _prw_crops(assets)
    together = reid.embed(crops)
    alone = np.concatenate([reid.embed([c]) for c in crops])
    np.testing.assert_allclose(together, alone, atol=2e-3)
    sim = together @ together.T
    same = [
        sim[i, j] for i in range(len(labels)) for j in range(i) if labels[i] == labels[j] == "0001"
    ]
    diff = [
        sim[i, j]
        for i in range(len(labels))
        for j in range(i)
        if (labels[i] == "0001") != (labels[j] == "0001")
    ]
    assert min(same) > max(diff)  # the woman in white, across cameras, against everyone else
    # the contract matters: ImageNet-normalised RGB (the OSNet contract) moves every embedding
    wrong = l2_normalize(np.asarray(reid._forward(preprocess(crops)), np.float32))
    assert float(np.einsum("ij,ij->i", together, wrong).max()) < 0.8
    # ... and it ranks worse: Market-1501 protocol on the first 20 query people
    market = assets / "reid" / "market1501"
    q = scan_market_folder(market / "query")
    people = set(sorted({c.person for c in q})[:20])
    q = [c for c in q if c.person in people]
    g = [c for c in scan_market_folder(market / "bounding_box_test") if c.person in people]
    q_img = [cv2.imread(str(c.path)) for c in q]
    g_img = [cv2.imread(str(c.path)) for c in g]

    def market_map(embed: Callable[[list[np.ndarray]], np.ndarray]) -> float:
        return rank_metrics(
            embed(q_img),
            [c.person for c in q],
            [c.camera for c in q],
            embed(g_img),
            [c.person for c in g],
            [c.camera for c in g],
        ).mAP

    right_map = market_map(reid.embed)
    wrong_map = market_map(lambda cs: np.asarray(reid._forward(preprocess(cs)), np.float32))
    assert right_map > 0.85 and right_map > wrong_map + 0.02  # measured 0.919 vs 0.881


@pytest.mark.assets
def test_onnx_osnet_real(assets: Path) -> None:
    reid = OnnxReID(assets / OSNET)
    assert reid.dim == 512 and reid.static_batch is None and reid.input_hw == (256, 128)
    crops, _ = _prw_crops(assets)
    together = reid.embed(crops)
    alone = np.concatenate([reid.embed([c]) for c in crops])
    np.testing.assert_allclose(together, alone, atol=1e-4)  # batching changes nothing


@pytest.mark.assets
@pytest.mark.parametrize(
    "backend, weights",
    [("onnx", OSNET), ("openvino", "reid_openvino/person-reidentification-retail-0287-int8")],
)
def test_reid_threads_reach_the_runtime(assets: Path, backend: str, weights: str) -> None:
    """``models.reid.threads`` sets the embedder's own thread count; null keeps
    OMP_NUM_THREADS. One thread embeds the same vectors."""

    def threads(reid: object) -> int:
        if isinstance(reid, OpenVinoReID):
            return int(reid.compiled.get_property("INFERENCE_NUM_THREADS"))
        assert isinstance(reid, OnnxReID)
        return int(reid.session.get_session_options().intra_op_num_threads)

    path = str(assets / weights) if backend == "onnx" else weights
    one = build_reid(ReIDConfig(backend=backend, weights=path, threads=1))  # type: ignore[arg-type]
    default = build_reid(ReIDConfig(backend=backend, weights=path))  # type: ignore[arg-type]
    assert threads(one) == 1
    assert threads(default) == int(os.environ["OMP_NUM_THREADS"])
    crops, _ = _prw_crops(assets)
    np.testing.assert_allclose(one.embed(crops), default.embed(crops), atol=1e-3)


@pytest.mark.assets
def test_converted_torchreid_matches_onnx(assets: Path, converted: Path) -> None:
    crops, labels = _prw_crops(assets)
    assert len(crops) == 8 and labels.count("0001") == 5
    onnx_emb = OnnxReID(assets / OSNET).embed(crops)
    torch_emb = TorchreidReID(converted, arch="osnet_x0_25", batch_size=3).embed(crops)
    cos = (onnx_emb * torch_emb).sum(axis=1)
    assert cos.min() >= 0.999, cos


@pytest.mark.assets
def test_build_reid_converts_onnx_for_torchreid(assets: Path, tmp_path: Path) -> None:
    cfg = ReIDConfig(backend="torchreid", weights=str(assets / OSNET), arch="osnet_x0_25")
    reid = build_reid(cfg, cache_dir=tmp_path, download=False)
    assert isinstance(reid, TorchreidReID)
    assert reid.path == tmp_path / "weights" / "osnet_x0_25_msmt17.osnet_x0_25.pth"
    assert reid.path.is_file()
    onnx_reid = build_reid(ReIDConfig(backend="onnx", weights=str(assets / OSNET)))
    assert isinstance(onnx_reid, OnnxReID)
    crop = _prw_crops(assets)[0][:1]
    assert float((reid.embed(crop) * onnx_reid.embed(crop)).sum()) >= 0.999


@pytest.mark.assets
def test_converter_rejects_other_arch(assets: Path, tmp_path: Path) -> None:
    with pytest.raises(WeightsCorrupt, match="osnet_x0_5"):
        convert_osnet_onnx_to_torchreid(assets / OSNET, tmp_path / "x.pth", arch="osnet_x0_5")
    assert not (tmp_path / "x.pth").exists()


@pytest.mark.assets
@pytest.mark.parametrize("backend", ["onnx", "torchreid"])
def test_woman_0001_ranks_closest_to_herself(assets: Path, converted: Path, backend: str) -> None:
    crops, labels = _prw_crops(assets)
    reid = OnnxReID(assets / OSNET) if backend == "onnx" else TorchreidReID(converted)
    emb = reid.embed(crops)
    sim = emb @ emb.T
    is_0001 = np.array([lab == "0001" for lab in labels])
    for i in np.flatnonzero(is_0001):
        others = sim[i].copy()
        others[i] = -np.inf
        assert is_0001[int(np.argmax(others))], (i, sim[i].round(3))
    same = sim[np.ix_(is_0001, is_0001)][~np.eye(is_0001.sum(), dtype=bool)]
    cross = sim[np.ix_(is_0001, ~is_0001)]
    # measured with the ONNX model: same 0.744..0.864, cross 0.343..0.548
    assert same.min() > cross.max() + 0.1, (same.min(), cross.max())


def test_embedding_dim_read_from_the_model_file(tmp_path: Path) -> None:
    from mcvision.vision.reid import embedding_dim

    path = _tiny_onnx(tmp_path / "m.onnx", batch="N")  # N x 3 channel means
    assert embedding_dim(ReIDConfig(backend="onnx", weights=str(path))) == 3
    assert embedding_dim(ReIDConfig(backend="onnx", weights=str(tmp_path / "none.onnx"))) == 512
    assert embedding_dim(ReIDConfig(weights=str(tmp_path / "none.onnx")), default=128) == 128
