"""Vision benchmark: detector latency per format and batch size, tracker update time.

Usage::

    python benchmarks/vision_bench.py --json            # all sections
    python benchmarks/vision_bench.py --json --only detector tracker

Writes the JSON to stdout and to ``benchmarks/results/vision.json``. The result is a
dict of sections, each built by one ``bench_<name>()`` function registered in
:data:`SECTIONS`; add a section by writing a function and registering it.

Baseline: each detector format reports its batch-N per-frame latency as a ratio
against its own batch-1 latency measured in the same run; the tracker reports
BoT-SORT against ByteTrack.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import mcvision  # noqa: E402  (applies the thread/offline environment first)
from mcvision.vision import weights  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _vision_reid_seg import bench_reid, bench_segmenter  # noqa: E402  (ReID, mask sections)

RESULTS = ROOT / "benchmarks" / "results" / "vision.json"
PRW_FRAME = "footage/PRW_multicam_c1_c3/frames/c1s1_014901.jpg"
VIDEO = "footage/one-by-one-person-detection.mp4"
DETECTOR_FORMATS = {
    "openvino_int8_640": "yolo11n_int8_openvino_model",
    "onnx_int8_320": "yolo11n_int8_320.onnx",
}
BATCHES = (1, 4, 8)


def _timed(fn: Callable[[], Any], repeat: int, warmup: int = 2) -> dict[str, float]:
    """Median / p90 / mean milliseconds of ``fn`` over ``repeat`` calls."""
    for _ in range(warmup):
        fn()
    ms = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1000)
    ms.sort()
    return {
        "median_ms": round(statistics.median(ms), 3),
        "p90_ms": round(ms[min(len(ms) - 1, int(0.9 * len(ms)))], 3),
        "mean_ms": round(statistics.fmean(ms), 3),
        "n": repeat,
    }


def _frames(n: int) -> list[np.ndarray]:
    """``n`` real frames: the 768×432 video's, falling back to the PRW full-HD frame."""
    import cv2

    assets = weights.assets_dir()
    if assets is None:
        raise SystemExit("assets not found: set MCVISION_ASSETS (needs models/ and footage/)")
    cap = cv2.VideoCapture(str(assets / VIDEO))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 100)  # a person is in view
    out = []
    while len(out) < n:
        ok, f = cap.read()
        if not ok:
            break
        out.append(f)
    cap.release()
    return out


def bench_detector(repeat: int = 20) -> dict[str, Any]:
    """Per-frame latency of each available detector format at batch 1, 4, 8."""
    import cv2

    from mcvision.vision.detector import PersonDetector

    assets = weights.assets_dir()
    frames = _frames(max(BATCHES))
    hd = cv2.imread(str(assets / PRW_FRAME)) if assets else None
    out: dict[str, Any] = {"frame_size": list(frames[0].shape[1::-1]), "formats": {}}
    for label, ref in DETECTOR_FORMATS.items():
        try:
            det = PersonDetector(ref)
        except (weights.WeightsNotFound, weights.WeightsCorrupt) as err:
            out["formats"][label] = {"skipped": str(err).splitlines()[0]}
            continue
        row: dict[str, Any] = {"weights": ref, "imgsz": det.imgsz, "batches": {}}
        for b in BATCHES:
            batch = frames[:b]
            t = _timed(lambda d=det, x=batch: d.detect(x), max(3, repeat // b))
            t["per_frame_ms"] = round(t["median_ms"] / b, 3)
            row["batches"][str(b)] = t
        base = row["batches"]["1"]["per_frame_ms"]
        for b in BATCHES:
            row["batches"][str(b)]["ratio_vs_batch1"] = round(
                row["batches"][str(b)]["per_frame_ms"] / base, 3
            )
        if hd is not None:
            row["full_hd_frame"] = _timed(lambda d=det: d.detect([hd]), repeat)
        out["formats"][label] = row
    return out


def bench_tracker(n_frames: int = 300) -> dict[str, Any]:
    """Tracker update time on real detections (first ``n_frames`` of the video)."""
    import cv2

    from mcvision.config import TrackerConfig
    from mcvision.tracking.tracker import Tracker
    from mcvision.vision.detector import PersonDetector

    assets = weights.assets_dir()
    cap = cv2.VideoCapture(str(assets / VIDEO)) if assets else None
    if cap is None:
        raise SystemExit("assets not found: set MCVISION_ASSETS")
    det = PersonDetector(DETECTOR_FORMATS["onnx_int8_320"])
    frames, dets = [], []
    for _ in range(n_frames):
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
        dets.append(det.detect([f])[0])
    cap.release()
    out: dict[str, Any] = {"frames": len(dets), "trackers": {}}
    for name, cfg in {
        "bytetrack": TrackerConfig(type="bytetrack"),
        "botsort": TrackerConfig(type="botsort"),
        "botsort_gmc": TrackerConfig(type="botsort", gmc=True),
    }.items():
        tracker = Tracker(cfg, fps=10)
        ms = []
        for f, d in zip(frames, dets, strict=True):
            t0 = time.perf_counter()
            tracker.update(d, f)
            ms.append((time.perf_counter() - t0) * 1000)
        out["trackers"][name] = {
            "median_ms": round(statistics.median(ms), 4),
            "mean_ms": round(statistics.fmean(ms), 4),
        }
    base = out["trackers"]["bytetrack"]["median_ms"]
    for row in out["trackers"].values():
        row["ratio_vs_bytetrack"] = round(row["median_ms"] / base, 2) if base else None
    return out


#: Section name → function building it.
SECTIONS: dict[str, Callable[[], dict[str, Any]]] = {
    "detector": bench_detector,
    "tracker": bench_tracker,
    "reid": bench_reid,  # from _vision_reid_seg.py
    "segmenter": bench_segmenter,  # from _vision_reid_seg.py
}


def run(only: list[str] | None = None) -> dict[str, Any]:
    """Run the chosen sections (all by default) and return the result dict."""
    names = only or list(SECTIONS)
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        raise SystemExit(f"unknown section(s) {unknown}; known: {sorted(SECTIONS)}")
    result: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "omp_threads": os.environ.get("OMP_NUM_THREADS"),
            "load_avg_1m": round(os.getloadavg()[0], 2),  # other work skews the timings
            "mcvision": mcvision.__version__,
        },
    }
    for n in names:
        result[n] = SECTIONS[n]()
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print JSON (default: a short table)")
    ap.add_argument("--only", nargs="+", choices=sorted(SECTIONS), help="sections to run")
    ap.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    args = ap.parse_args(argv)
    result = run(args.only)
    if args.out.exists():  # keep sections other runs wrote
        try:
            merged = json.loads(args.out.read_text())
        except ValueError:
            merged = {}
        merged.update(result)
        result = merged
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2)
    args.out.write_text(text + "\n")
    if args.json:
        print(text)
    else:
        for section, body in result.items():
            print(f"{section}: {json.dumps(body)[:300]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
