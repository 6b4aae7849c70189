"""ReID benchmark: Rank-1 / mAP of the configured embedder on Market-naming crop folders.

Usage::

    python benchmarks/reid_bench.py --query ASSETS/reid/market1501/query \\
        --gallery ASSETS/reid/market1501/bounding_box_test --json
    python benchmarks/reid_bench.py ... --segmenter yolo-seg --persons 250 --no-distractors \\
        --out benchmarks/results/reid_masked_subset.json

Crops are read with :func:`mcvision.datasets.market.scan_market_folder` (junk ``-1``
crops dropped from both folders; ``0000`` distractors kept in the gallery unless
``--no-distractors``, never used as queries), embedded in batches with the ReID
embedder the site config names (``--config``; without one, the defaults of
:class:`mcvision.config.SiteConfig`), and scored with the standard Market-1501
protocol (:func:`mcvision.evaluate.reid_protocol.rank_metrics`). The cosine threshold
at a 1 % false-match rate (``--fmr``) over cross-camera query × gallery pairs is
reported too, with the true-match rate there: ``identity.match_threshold`` is derived
from it. ``--more-fmr`` adds thresholds at stricter rates (``staff.match_threshold`` and
``customers.match_threshold`` come from one), ``--rates-at`` gives the false/true-match
rates of given thresholds (e.g. another embedder's defaults).

When the config's segmenter is not ``none`` (or ``--segmenter`` names one) and
``--masks`` is on (the default), every crop is also segmented and embedded with its
background set to the ImageNet mean colour (what the pipeline's crops get), and both
results are reported. A Market crop is the whole image, so the crop is first padded
with grey (half its width left and right, a fifth of its height above and below, as
``mcvision.sim.people`` pads a person crop for the segmenter), segmented with the
crop's own box as the prompt, and cut back. Crops where the segmenter finds no person
(the box-shaped fallback) or only a fragment (< 25 % of the crop) are embedded plain
and counted.

``--mask-cache DIR`` keeps each crop's segmented result (``DIR/<status>/<file>.png``,
lossless; one folder per segmenter) so a second embedder reuses the masks instead of
segmenting again; the JSON counts the crops taken from it.

``--persons N`` restricts query and gallery to the first N person ids of the query
folder (ascending), for a masked comparison that would take too long on every crop;
plain and masked then run on that same subset, and the JSON says so.

Folders are recorded relative to the assets directory (or the repository), never as
absolute machine paths. JSON to ``benchmarks/results/reid.json`` by default.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import mcvision  # noqa: E402  (applies the thread/offline environment first)
from mcvision.config import ConfigError, SiteConfig, load_config, parse_config  # noqa: E402
from mcvision.datasets.market import MarketCrop, MarketNameError, scan_market_folder  # noqa: E402
from mcvision.evaluate.reid_protocol import (  # noqa: E402
    count_cross_camera_diff_pairs,
    cross_camera_pair_scores,
    rank_metrics,
    threshold_at_false_match_rate,
)
from mcvision.types import Detections  # noqa: E402
from mcvision.vision.crops import IMAGENET_MEAN_BGR, crop_boxes  # noqa: E402
from mcvision.vision.reid import ReIDEmbedder  # noqa: E402
from mcvision.vision.segmenter import CROP_PAD_GREY, Segmenter, pad_person_crop  # noqa: E402
from mcvision.vision.weights import assets_dir  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_result  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "reid.json"
SEGMENTER_CHOICES = ("none", "yolo-seg", "sam", "meta_sam", "mobile_sam", "sam2")
MASK_STATUSES = ("masked", "no_person", "fragment")
#: A mask covering less of the crop than this is a fragment: the crop is embedded plain.
MIN_MASK_COVER = 0.25
PROTOCOL = (
    "Market-1501 standard: cosine similarity of L2-normalised embeddings; per query, gallery"
    " crops of the same person and camera and junk (-1) crops are ignored, 0000 distractors"
    " stay; queries with no valid match are skipped; CMC Rank-1/5/10 and mAP (mean over"
    " queries of the mean precision at each true match), as torchreid's eval_market1501;"
    " no re-ranking, no flip."
)


def default_config() -> SiteConfig:
    """The site config used without ``--config``: the defaults, one placeholder camera."""
    return parse_config(
        {"site_id": "reid-bench", "cameras": [{"id": "cam0", "source": "unused.mp4"}]},
        source="<reid_bench default>",
    )


def shown_path(path: str | Path) -> dict[str, str]:
    """``path`` for the JSON: relative to the assets directory or the repository when
    inside one, else only its last two components (never an absolute machine path).

    Example:
        >>> shown_path(ROOT / "benchmarks" / "results")
        {'path': 'benchmarks/results', 'relative_to': 'repo'}
    """
    p = Path(path).expanduser().resolve()
    assets = assets_dir()
    for base, label in ((assets, "assets"), (ROOT, "repo")):
        if base is not None and p.is_relative_to(base.resolve()):
            return {"path": p.relative_to(base.resolve()).as_posix(), "relative_to": label}
    return {"path": "/".join(p.parts[-2:]), "relative_to": "outside (last two parts only)"}


def load_folder(folder: Path, *, query: bool, distractors: bool) -> tuple[list[MarketCrop], int]:
    """The folder's crops (junk dropped; distractors kept only in a gallery with
    ``distractors``) and the number of junk crops dropped.

    Raises:
        SystemExit: the folder is missing, empty, or not in Market naming.
    """
    role = "query" if query else "gallery"
    try:
        found = scan_market_folder(folder, keep_junk=True, keep_distractors=True)
    except MarketNameError as err:
        raise SystemExit(f"reid_bench: {role} folder: {err}") from None
    junk = sum(c.name.is_junk for c in found)
    keep_distractors = distractors and not query
    crops = [
        c for c in found if not c.name.is_junk and (keep_distractors or not c.name.is_distractor)
    ]
    if not crops:
        raise SystemExit(
            f"reid_bench: {role} folder {folder}: no usable crop (only junk/distractors)"
        )
    return crops, junk


def read_crop(path: Path) -> np.ndarray:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f"reid_bench: cannot read image {path}")
    return img


def mask_crop(seg: Segmenter, crop: np.ndarray) -> tuple[np.ndarray, str]:
    """The crop with its background set to the ImageNet mean, and what happened.

    Returns:
        ``(crop, status)`` with status ``masked``, ``no_person`` (the segmenter's
        box-shaped fallback: crop unchanged) or ``fragment`` (mask under
        :data:`MIN_MASK_COVER` of the crop: crop unchanged).
    """
    padded, (x1, y1, x2, y2) = pad_person_crop(crop)
    box = [[x1, y1, x2, y2]]
    dets = seg.segment(padded, Detections(xyxy=np.asarray(box, np.float32)))
    if dets.mask is None:
        return crop, "no_person"
    inner = dets.mask[0, y1:y2, x1:x2]
    if inner.all():
        return crop, "no_person"
    if inner.mean() < MIN_MASK_COVER:
        return crop, "fragment"
    return crop_boxes(padded, box, masks=dets.mask, fill=IMAGENET_MEAN_BGR)[0], "masked"


def mask_crops(seg: Segmenter, crops: list[np.ndarray]) -> list[tuple[np.ndarray, str]]:
    """:func:`mask_crop` for many crops; a segmenter that tiles whole-person crops into one
    pass (``sam``: ``segment_person_crops``, edge-replicated padding) does them together."""
    tiled = getattr(seg, "segment_person_crops", None)
    if tiled is None:
        return [mask_crop(seg, c) for c in crops]
    out = []
    for crop, inner in zip(crops, tiled(crops), strict=True):
        if inner.all():
            out.append((crop, "no_person"))
        elif inner.mean() < MIN_MASK_COVER:
            out.append((crop, "fragment"))
        else:
            box = [[0, 0, crop.shape[1], crop.shape[0]]]
            out.append(
                (crop_boxes(crop, box, masks=inner[None], fill=IMAGENET_MEAN_BGR)[0], "masked")
            )
    return out


class Embedded:
    """Embeddings of one folder (plain and, with a segmenter, masked) and the time spent."""

    def __init__(self) -> None:
        self.plain: np.ndarray = np.zeros((0, 0), np.float32)
        self.masked: np.ndarray | None = None
        self.load_s = self.embed_s = self.segment_s = self.masked_embed_s = 0.0
        self.mask_status: Counter[str] = Counter()
        self.cached = 0


def _cached_mask(cache: Path, name: str) -> tuple[np.ndarray, str] | None:
    import cv2

    for status in MASK_STATUSES:
        f = cache / status / f"{name}.png"
        if f.is_file():
            img = cv2.imread(str(f))
            if img is not None:
                return img, status
    return None


def _store_mask(cache: Path, name: str, crop: np.ndarray, status: str) -> None:
    import cv2

    (cache / status).mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(cache / status / f"{name}.png"), crop)


def embed_crops(
    crops: list[MarketCrop],
    reid: ReIDEmbedder,
    seg: Segmenter | None,
    *,
    batch: int,
    desc: str,
    progress: bool,
    cache: Path | None = None,
) -> Embedded:
    """Read, (segment,) and embed ``crops`` in batches of ``batch``; time each stage."""
    from tqdm import tqdm

    plain, masked = [], []
    out = Embedded()
    bar = tqdm(
        total=len(crops),
        desc=desc,
        unit="crop",
        file=sys.stderr,
        disable=not progress,
        dynamic_ncols=True,
    )
    for start in range(0, len(crops), batch):
        part = crops[start : start + batch]
        t0 = time.perf_counter()
        images = [read_crop(c.path) for c in part]
        t1 = time.perf_counter()
        plain.append(reid.embed(images))
        t2 = time.perf_counter()
        out.load_s += t1 - t0
        out.embed_s += t2 - t1
        if seg is not None:
            hits = [_cached_mask(cache, c.path.name) if cache is not None else None for c in part]
            todo = [i for i, h in enumerate(hits) if h is None]
            fresh = iter(mask_crops(seg, [images[i] for i in todo]) if todo else [])
            cut = []
            for c, hit in zip(part, hits, strict=True):
                if hit is not None:
                    m, status = hit
                    out.cached += 1
                else:
                    m, status = next(fresh)
                    if cache is not None:
                        _store_mask(cache, c.path.name, m, status)
                cut.append(m)
                out.mask_status[status] += 1
            t3 = time.perf_counter()
            masked.append(reid.embed(cut))
            out.segment_s += t3 - t2
            out.masked_embed_s += time.perf_counter() - t3
        bar.update(len(part))
    bar.close()
    out.plain = np.concatenate(plain)
    out.masked = np.concatenate(masked) if seg is not None else None
    return out


def score(
    q_feats: np.ndarray,
    q: list[MarketCrop],
    g_feats: np.ndarray,
    g: list[MarketCrop],
    *,
    fmr: float,
    max_pairs: int,
    seed: int,
    more_fmr: list[float] | None = None,
    rates_at: list[float] | None = None,
) -> dict[str, Any]:
    """Protocol scores and the threshold at ``fmr``, JSON-ready.

    ``more_fmr``: further false-match rates, each with its threshold; ``rates_at``:
    given thresholds (e.g. a config's), each with the false/true-match rates it has.
    """
    qp, qc = [c.person for c in q], [c.camera for c in q]
    gp, gc = [c.person for c in g], [c.camera for c in g]
    t0 = time.perf_counter()
    scores = rank_metrics(q_feats, qp, qc, g_feats, gp, gc)
    t1 = time.perf_counter()
    same, diff = cross_camera_pair_scores(
        q_feats, qp, qc, g_feats, gp, gc, max_diff=max_pairs, seed=seed
    )
    thr = threshold_at_false_match_rate(same, diff, fmr)
    extra: dict[str, Any] = {}
    if more_fmr:
        extra["thresholds_at_fmr"] = [
            threshold_at_false_match_rate(same, diff, r).as_dict() for r in more_fmr
        ]
    if rates_at:
        same_a, diff_a = np.asarray(same, np.float64), np.asarray(diff, np.float64)
        extra["rates_at_threshold"] = [
            {
                "threshold": t,
                "false_match_rate": round(float((diff_a >= t).mean()), 6),
                "true_match_rate": round(float((same_a >= t).mean()), 4),
            }
            for t in rates_at
        ]
    return {
        "scores": scores.as_dict(),
        "threshold_at_fmr": {
            **thr.as_dict(),
            "pairs": "query x gallery, different cameras, no junk/distractor; same = same"
            " person, diff = different people"
            + (
                f" (uniform sample of {max_pairs:,} diff pairs, seed {seed})"
                if thr.diff_pairs < count_cross_camera_diff_pairs(qp, qc, gp, gc)
                else " (all pairs)"
            ),
            "rule": "match when cosine >= threshold",
        },
        **extra,
        "metrics_s": round(t1 - t0, 2),
        "threshold_s": round(time.perf_counter() - t1, 2),
    }


def speed(n: int, *stages: float) -> dict[str, Any]:
    total = sum(stages)
    return {
        "crops": n,
        "seconds": round(total, 2),
        "crops_per_s": round(n / total, 1) if total else None,
    }


def build_models(
    cfg: SiteConfig, args: argparse.Namespace
) -> tuple[ReIDEmbedder, Segmenter | None, str | None]:
    """The embedder, the segmenter (None when masks are off) and why it is absent."""
    from mcvision.vision.reid import build_reid
    from mcvision.vision.segmenter import build_segmenter
    from mcvision.vision.weights import WeightsCorrupt, WeightsNotFound

    try:
        reid = build_reid(cfg.models.reid)
    except (WeightsNotFound, WeightsCorrupt, ValueError) as err:
        raise SystemExit(f"reid_bench: cannot build the ReID embedder: {err}") from None
    seg_cfg = cfg.models.segmenter
    if not args.masks:
        return reid, None, "--no-masks given"
    if seg_cfg.backend == "none":
        return reid, None, "the config's segmenter is 'none' (pass --segmenter yolo-seg)"
    try:
        return reid, build_segmenter(seg_cfg), None
    except (WeightsNotFound, WeightsCorrupt, ValueError) as err:
        raise SystemExit(f"reid_bench: cannot build the segmenter: {err}") from None


def embedder_info(cfg: SiteConfig, reid: ReIDEmbedder) -> dict[str, Any]:
    rc = cfg.models.reid
    path = getattr(reid, "path", None)
    info: dict[str, Any] = {
        "backend": rc.backend,
        "weights": rc.weights,
        "weights_file": shown_path(path) if path is not None else None,
        "class": type(reid).__name__,
        "dim": reid.dim,
        "input_hw": list(reid.input_hw),
        "batch_size": reid.batch_size,
        "l2_normalised_output": True,
    }
    if rc.backend == "torchreid":
        info["arch"] = rc.arch
    return info


def segmenter_info(cfg: SiteConfig) -> dict[str, Any]:
    from mcvision.vision.segmenter import DEFAULT_WEIGHTS
    from mcvision.vision.weights import resolve

    sc = cfg.models.segmenter
    ref = sc.weights or DEFAULT_WEIGHTS.get(sc.backend, "")
    try:
        file = shown_path(resolve(ref, download=False))
    except Exception:
        file = None
    return {"backend": sc.backend, "weights": ref, "weights_file": file, "imgsz": sc.imgsz}


def run(
    args: argparse.Namespace,
    *,
    reid: ReIDEmbedder | None = None,
    segmenter: Segmenter | None = None,
) -> dict[str, Any]:
    """The benchmark; ``reid`` / ``segmenter`` replace the config's models (tests)."""
    wall0 = time.perf_counter()
    load0 = os.getloadavg()[0]
    query, q_junk = load_folder(args.query, query=True, distractors=False)
    gallery, g_junk = load_folder(args.gallery, query=False, distractors=args.distractors)
    subset: dict[str, Any] | None = None
    if args.persons:
        keep = set(sorted({c.person for c in query})[: args.persons])
        query = [c for c in query if c.person in keep]
        gallery = [c for c in gallery if c.person in keep or c.name.is_distractor]
        subset = {
            "persons": len(keep),
            "definition": f"the first {args.persons} person ids of the query folder (ascending:"
            f" {min(keep):04d}..{max(keep):04d}); query and gallery hold only them",
        }
    if not args.distractors:
        gallery = [c for c in gallery if not c.name.is_distractor]
    subset_distractors = (
        "gallery 0000 distractors kept (all of them)"
        if args.distractors
        else "gallery 0000 distractors left out"
    )
    if subset is not None:
        subset["distractors"] = subset_distractors

    try:
        cfg = load_config(args.config) if args.config else default_config()
    except ConfigError as err:
        raise SystemExit(f"reid_bench: {err}") from None
    if args.segmenter is not None:
        seg_cfg = cfg.models.segmenter.model_copy(update={"backend": args.segmenter})
        cfg = cfg.model_copy(
            update={"models": cfg.models.model_copy(update={"segmenter": seg_cfg})}
        )
    reid_update = {
        k: v for k, v in (("backend", args.reid_backend), ("weights", args.reid_weights)) if v
    }
    if reid_update:
        reid_cfg = cfg.models.reid.model_copy(update=reid_update)
        cfg = cfg.model_copy(update={"models": cfg.models.model_copy(update={"reid": reid_cfg})})
    absent: str | None = None
    if reid is None:
        reid, built_seg, absent = build_models(cfg, args)
        segmenter = segmenter or built_seg
    elif segmenter is None:
        absent = "no segmenter given"
    if segmenter is not None and not args.masks:
        segmenter, absent = None, "--no-masks given"
    if not getattr(reid, "static_batch", None):
        reid.batch_size = args.batch

    cache = getattr(args, "mask_cache", None)
    q_emb = embed_crops(
        query, reid, segmenter, batch=args.batch, desc="query", progress=args.progress, cache=cache
    )
    g_emb = embed_crops(
        gallery,
        reid,
        segmenter,
        batch=args.batch,
        desc="gallery",
        progress=args.progress,
        cache=cache,
    )
    n = len(query) + len(gallery)
    load_s = q_emb.load_s + g_emb.load_s
    embed_s = q_emb.embed_s + g_emb.embed_s
    kw = {
        "fmr": args.fmr,
        "max_pairs": args.max_pairs,
        "seed": args.seed,
        "more_fmr": args.more_fmr,
        "rates_at": args.rates_at,
    }
    plain = score(q_emb.plain, query, g_emb.plain, gallery, **kw)
    plain["speed"] = {
        "embed_only": speed(n, embed_s),
        "end_to_end": {**speed(n, load_s, embed_s), "stages": "read+decode, embed"},
        "read_s": round(load_s, 2),
    }
    result: dict[str, Any] = {
        "benchmark": "reid",
        "embedder": embedder_info(cfg, reid),
        "config": shown_path(args.config) if args.config else "default SiteConfig (no --config)",
        "query": shown_path(args.query),
        "gallery": shown_path(args.gallery),
        "protocol": PROTOCOL,
        "subset": subset,
        "counts": {
            "query_crops": len(query),
            "query_persons": len({c.person for c in query}),
            "query_junk_dropped": q_junk,
            "gallery_crops": len(gallery),
            "gallery_persons": len({c.person for c in gallery if not c.name.is_distractor}),
            "gallery_distractors": sum(c.name.is_distractor for c in gallery),
            "gallery_junk_dropped": g_junk,
            "gallery_distractors_policy": subset_distractors,
        },
        "plain": plain,
    }
    if segmenter is not None:
        assert q_emb.masked is not None and g_emb.masked is not None
        masked = score(q_emb.masked, query, g_emb.masked, gallery, **kw)
        seg_s = q_emb.segment_s + g_emb.segment_s
        m_embed_s = q_emb.masked_embed_s + g_emb.masked_embed_s
        masked["speed"] = {
            "segment_only": speed(n, seg_s),
            "embed_only": speed(n, m_embed_s),
            "end_to_end": {
                **speed(n, load_s, seg_s, m_embed_s),
                "stages": "read+decode, segment, embed",
            },
        }
        status = q_emb.mask_status + g_emb.mask_status
        if cache is not None:
            masked["mask_cache"] = {
                "crops_from_cache": q_emb.cached + g_emb.cached,
                "note": "segment_only time counts only the crops segmented in this run",
            }
        masked["segmenter"] = (
            segmenter_info(cfg)
            if args.segmenter or cfg.models.segmenter.backend != "none"
            else {"backend": type(segmenter).__name__}
        )
        masked["mask_status"] = {k: status.get(k, 0) for k in ("masked", "no_person", "fragment")}
        tiled = hasattr(segmenter, "segment_person_crops")
        pad = "its own edge pixels repeated" if tiled else f"grey {CROP_PAD_GREY}"
        masked["masking"] = (
            f"crop padded with {pad} (w/2 left/right, h/5 top/bottom), segmented with the"
            f" crop's box as prompt, pixels outside the mask set to the ImageNet mean BGR"
            f" {IMAGENET_MEAN_BGR}; no person found or mask < {MIN_MASK_COVER:.0%} of the crop:"
            " embedded plain"
            + (
                "; padded crops scaled 1.9x and tiled 12 to a 1024x1024 encoder pass"
                if tiled
                else ""
            )
        )
        result["masked"] = masked
        result["masked_minus_plain"] = {
            k: round(masked["scores"][k] - plain["scores"][k], 4)
            for k in ("rank1", "rank5", "rank10", "mAP")
        }
        result["masked_minus_plain"]["threshold_at_fmr"] = round(
            masked["threshold_at_fmr"]["threshold"] - plain["threshold_at_fmr"]["threshold"], 4
        )
    else:
        result["masked"] = {"absent": absent}
    result["machine"] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "omp_threads": os.environ.get("OMP_NUM_THREADS"),
        "load_avg_1m_start": round(load0, 2),
        "load_avg_1m_end": round(os.getloadavg()[0], 2),  # other work skews the timings
        "mcvision": mcvision.__version__,
    }
    result["wall_s"] = round(time.perf_counter() - wall0, 1)
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--query", type=Path, required=True, help="query crop folder (Market naming)")
    ap.add_argument("--gallery", type=Path, required=True, help="gallery crop folder")
    ap.add_argument("--config", type=Path, default=None, help="site YAML naming the models")
    ap.add_argument(
        "--segmenter",
        choices=SEGMENTER_CHOICES,
        default=None,
        help="override the config's segmenter backend",
    )
    ap.add_argument(
        "--reid-backend",
        choices=["onnx", "openvino", "torchreid"],
        default=None,
        help="override the config's models.reid.backend",
    )
    ap.add_argument(
        "--reid-weights", default=None, help="override the config's models.reid.weights"
    )
    ap.add_argument(
        "--masks",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also score masked crops when a segmenter is configured",
    )
    ap.add_argument("--batch", type=int, default=64, help="crops per embedding call")
    ap.add_argument(
        "--mask-cache",
        type=Path,
        default=None,
        help="folder keeping each crop's segmented result, reused by later runs",
    )
    ap.add_argument(
        "--persons",
        type=int,
        default=None,
        help="only the first N person ids of the query folder (both folders)",
    )
    ap.add_argument(
        "--distractors",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep the gallery's 0000 distractors",
    )
    ap.add_argument("--fmr", type=float, default=0.01, help="false-match rate of the threshold")
    ap.add_argument(
        "--more-fmr",
        type=float,
        nargs="+",
        default=None,
        help="further false-match rates, each with its threshold (thresholds_at_fmr)",
    )
    ap.add_argument(
        "--rates-at",
        type=float,
        nargs="+",
        default=None,
        help="thresholds (e.g. a config's) whose false/true-match rates are reported",
    )
    ap.add_argument(
        "--max-pairs",
        type=int,
        default=2_000_000,
        help="different-person pairs sampled for the threshold",
    )
    ap.add_argument("--seed", type=int, default=0, help="seed of the pair sample")
    ap.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="progress bars on stderr",
    )
    ap.add_argument("--json", action="store_true", help="print the JSON")
    ap.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    args = ap.parse_args(argv)
    if args.batch < 1:
        ap.error("--batch must be >= 1")
    if args.persons is not None and args.persons < 1:
        ap.error("--persons must be >= 1")
    if not all(0.0 <= r < 1.0 for r in [args.fmr, *(args.more_fmr or [])]):
        ap.error("--fmr and --more-fmr must be in [0, 1)")
    return args


def summary(result: dict[str, Any]) -> str:
    """A few human lines (printed when ``--json`` is not given)."""
    lines = []
    for kind in ("plain", "masked"):
        r = result.get(kind, {})
        if "scores" not in r:
            lines.append(f"{kind}: absent ({r.get('absent')})")
            continue
        s, t = r["scores"], r["threshold_at_fmr"]
        lines.append(
            f"{kind}: Rank-1 {s['rank1']:.3f}  Rank-5 {s['rank5']:.3f}  Rank-10 {s['rank10']:.3f}"
            f"  mAP {s['mAP']:.3f}  ({s['queries_scored']}/{s['queries']} queries);"
            f" threshold at {t['target_rate']:.1%} FMR {t['threshold']:.3f} (TMR"
            f" {t['true_match_rate']:.3f}); {r['speed']['end_to_end']['crops_per_s']} crops/s"
            " end to end"
        )
    return "\n".join(lines)


def main(
    argv: list[str] | None = None,
    *,
    reid: ReIDEmbedder | None = None,
    segmenter: Segmenter | None = None,
) -> int:
    args = parse_args(argv)
    result = run(args, reid=reid, segmenter=segmenter)
    write_result(result, args.out, echo=args.json)
    if not args.json:
        print(summary(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
