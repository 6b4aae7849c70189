"""Floor-point benchmark: a person's floor position from the box's bottom edge or from the mask.

Usage::

    python benchmarks/floor_point_bench.py --scene WORK/crowded_seed3 --scene WORK/crowded_seed5

The identity's floor geometry puts each sighting on the floor plan at the foot point: today
the bottom centre of the detector's box. Where a person's feet are hidden (someone in
front), the box stops at what is seen and the point moves up the image, i.e. away on the
floor. A mask's lowest pixels are an alternative foot point. This scores both against the
simulator's truth on rendered scenes (``accuracy_bench.py --work`` renders them; each has
``ground_truth.json``, its videos and a ``site.yaml`` with every camera's floor calibration):

* frames are sampled where at least one person is partly hidden (visibility < 0.9), evenly
  over each camera's video, ``--frames`` per camera;
* YOLO11 (the site's detector) finds people; detections are matched to the true boxes
  (Hungarian on IoU >= 0.5);
* for each match: the floor distance (metres, the camera's own calibration) from the true
  foot point to the box's bottom centre (``box``) and to the mask's foot point (``mask``:
  the centre of the mask pixels in its lowest 3 rows) for each ``--segmenters`` backend;
* summarised by the true visibility (``hidden`` < 0.9 <= ``clear``).

The true foot point is the bottom centre of the person's whole pasted cut-out (:class:`GTBox`),
seen or not. Writes ``benchmarks/results/floor_point.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import mcvision  # noqa: E402,F401  (applies the thread/offline environment first)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_result  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "floor_point.json"
HIDDEN = 0.9  # true visibility below this: partly hidden
IOU_MIN = 0.5


def mask_foot(mask: np.ndarray, rows: int = 3) -> tuple[float, float] | None:
    """The centre of a mask's pixels in its lowest ``rows`` rows (None for an empty mask).

    Example:
        >>> m = np.zeros((10, 10), bool)
        >>> m[2:8, 4:7] = True
        >>> mask_foot(m)
        (5.0, 8.0)
    """
    ys, xs = np.nonzero(mask)
    if not len(ys):
        return None
    low = ys >= ys.max() - (rows - 1)
    return float(xs[low].mean()), float(ys.max() + 1)


def box_foot(box: np.ndarray) -> tuple[float, float]:
    """The bottom centre of an ``xyxy`` box."""
    return float((box[0] + box[2]) / 2), float(box[3])


def _match(pred: np.ndarray, true: np.ndarray) -> list[tuple[int, int]]:
    from scipy.optimize import linear_sum_assignment

    from mcvision.vision.segmenter import box_iou

    if not len(pred) or not len(true):
        return []
    iou = box_iou(pred, true)
    rows, cols = linear_sum_assignment(-iou)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if iou[r, c] >= IOU_MIN]


def _sample(rows: list[list[Any]], n: int) -> list[int]:
    """``n`` frame indices spread over the frames where someone is partly hidden."""
    hidden = [i for i, boxes in enumerate(rows) if any(b.visibility < HIDDEN for b in boxes)]
    if len(hidden) <= n:
        return hidden
    return [hidden[round(k)] for k in np.linspace(0, len(hidden) - 1, n)]


def _summary(errors: list[float]) -> dict[str, Any]:
    a = np.asarray(errors, np.float64)
    if not len(a):
        return {"n": 0}
    return {
        "n": len(a),
        "median_m": round(float(np.median(a)), 3),
        "mean_m": round(float(a.mean()), 3),
        "p90_m": round(float(np.percentile(a, 90)), 3),
    }


def score_scene(
    scene: Path, frames: int, detector: Any, segmenters: dict[str, Any]
) -> dict[str, dict[str, list[float]]]:
    """Per visibility class, per method: the floor errors (m) of one rendered scene."""
    from mcvision.capture.source import read_frames
    from mcvision.config import load_config
    from mcvision.identity.geometry import FloorCalibration
    from mcvision.sim.truth import load_ground_truth

    cfg = load_config(scene / "site.yaml")
    gt = load_ground_truth(scene / "ground_truth.json")
    methods = ["box", *segmenters]
    errors: dict[str, dict[str, list[float]]] = {
        v: {m: [] for m in methods} for v in ("hidden", "clear")
    }
    for cam in gt.cameras:
        floor = cfg.camera(cam.id).floor
        if floor is None:
            continue
        calib = FloorCalibration.from_config(cam.id, floor)
        picks = _sample(gt.frames[cam.id], frames)
        images = read_frames(scene / cam.video, picks)
        for i in picks:
            if i not in images:
                continue
            truth = gt.frames[cam.id][i]
            dets = detector.detect([images[i]])[0]
            pairs = _match(dets.xyxy, np.array([b.box for b in truth], np.float32))
            if not pairs:
                continue
            dets = dets[np.array([p for p, _ in pairs])]
            masks = {
                name: seg.segment_batch([images[i]], [dets])[0].mask
                for name, seg in segmenters.items()
            }
            for k, (_, t) in enumerate(pairs):
                g = truth[t]
                where = calib.project([g.foot])[0]
                vis = "hidden" if g.visibility < HIDDEN else "clear"
                feet = {"box": box_foot(dets.xyxy[k])}
                for name, m in masks.items():
                    feet[name] = (mask_foot(m[k]) if m is not None else None) or feet["box"]
                for name, foot in feet.items():
                    errors[vis][name].append(
                        float(np.linalg.norm(calib.project([foot])[0] - where))
                    )
    return errors


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scene", type=Path, action="append", required=True, help="a rendered scene")
    ap.add_argument("--frames", type=int, default=15, help="sampled frames per camera")
    ap.add_argument(
        "--segmenters", nargs="+", default=["yolo-seg", "sam"], choices=["yolo-seg", "sam"]
    )
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--json", action="store_true", help="print the JSON")
    args = ap.parse_args(argv)

    from mcvision.config import SegmenterConfig, load_config
    from mcvision.vision.detector import PersonDetector
    from mcvision.vision.segmenter import build_segmenter

    t0 = time.perf_counter()
    site = load_config(args.scene[0] / "site.yaml")
    detector = PersonDetector.from_config(site.models.detector)
    segs = {n: build_segmenter(SegmenterConfig(backend=n)) for n in args.segmenters}  # type: ignore[arg-type]
    total: dict[str, dict[str, list[float]]] = {}
    per_scene: dict[str, Any] = {}
    for scene in args.scene:
        errs = score_scene(scene, args.frames, detector, segs)
        per_scene[scene.name] = {
            v: {m: _summary(e) for m, e in ms.items()} for v, ms in errs.items()
        }
        for v, ms in errs.items():
            for m, e in ms.items():
                total.setdefault(v, {}).setdefault(m, []).extend(e)
    load = os.getloadavg()[0]
    result = {
        "benchmark": "floor_point",
        "scenes": [s.name for s in args.scene],
        "frames_per_camera": args.frames,
        "sampling": f"frames where someone's true visibility < {HIDDEN}, evenly over each video",
        "truth": "simulator: bottom centre of the whole pasted cut-out, seen or not",
        "methods": {
            "box": "bottom centre of the detector's box (today's foot point)",
            **{n: f"{n} mask: centre of its lowest 3 rows of pixels" for n in args.segmenters},
        },
        "error": "floor distance (m, the camera's floor calibration) to the true foot point",
        "all": {v: {m: _summary(e) for m, e in ms.items()} for v, ms in total.items()},
        "per_scene": per_scene,
        "detector": site.models.detector.weights,
        "wall_s": round(time.perf_counter() - t0, 1),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_avg_1m_end": round(load, 2),
        },
    }
    write_result(result, args.out, echo=args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
