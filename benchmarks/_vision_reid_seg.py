"""ReID and mask-backend benchmark sections (dicts), for ``benchmarks/vision_bench.py``.

Each section returns a JSON-ready dict. Ratios are against a baseline measured in the same
run: ReID against batch 1 of the same backend (per-crop speed-up) and against the ONNX
backend at the same batch; masks against ``yolo-seg``.

Run alone: ``python benchmarks/_vision_reid_seg.py [--assets DIR] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import mcvision  # noqa: F401  (offline/thread environment before model imports)
from mcvision.vision.weights import assets_dir

PRW = "footage/PRW_multicam_c1_c3"
OSNET = "models/osnet_x0_25_msmt17.onnx"
YOLO_SEG = "models/yolov8n-seg_int8_320.onnx"


def _time_ms(fn: Callable[[], Any], repeats: int, warmup: int = 3) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return {"median_ms": round(statistics.median(times), 3), "min_ms": round(min(times), 3)}


def _crops(assets: Path, n: int) -> list[Any]:
    import cv2

    from mcvision.vision.crops import crop_boxes

    boxes = json.loads((assets / PRW / "approx_boxes_handpicked.json").read_text())
    found = []
    for frame, box in boxes["person_0001"].items():
        found += crop_boxes(cv2.imread(str(assets / PRW / frame)), [box])
    for frame, people in boxes["other_people"].items():
        found += crop_boxes(cv2.imread(str(assets / PRW / frame)), list(people.values()))
    return [found[i % len(found)] for i in range(n)]


def bench_reid(
    assets: Path | None = None, batches: tuple[int, ...] = (1, 8, 32), repeats: int = 5
) -> dict[str, Any]:
    """ReID time per batch for the ``onnx`` and ``torchreid`` backends (OSNet x0.25).

    The torchreid weights are converted from the ONNX into a temporary folder.
    """
    from mcvision.vision.reid import OnnxReID, TorchreidReID, convert_osnet_onnx_to_torchreid

    assets = assets or assets_dir()
    if assets is None:
        return {"skipped": "no assets directory"}
    out: dict[str, Any] = {"model": "osnet_x0_25_msmt17", "input": "256x128", "backends": {}}
    with tempfile.TemporaryDirectory() as tmp:
        pth = convert_osnet_onnx_to_torchreid(assets / OSNET, Path(tmp) / "osnet.pth")
        backends = {
            "onnx": OnnxReID(assets / OSNET),
            "torchreid": TorchreidReID(pth, arch="osnet_x0_25"),
        }
        for name, reid in backends.items():
            rows = {}
            for b in batches:
                crops = _crops(assets, b)
                t = _time_ms(partial(reid.embed, crops), repeats)
                t["per_crop_ms"] = round(t["median_ms"] / b, 3)
                rows[str(b)] = t
            base = rows[str(batches[0])]["per_crop_ms"]
            for r in rows.values():
                r["per_crop_speedup_vs_batch1"] = round(base / r["per_crop_ms"], 2)
            out["backends"][name] = rows
    for b in map(str, batches):
        onnx_ms = out["backends"]["onnx"][b]["median_ms"]
        torch_ms = out["backends"]["torchreid"][b]["median_ms"]
        out["backends"]["torchreid"][b]["time_ratio_vs_onnx"] = round(torch_ms / onnx_ms, 2)
    return out


def bench_segmenter(assets: Path | None = None, repeats: int = 5) -> dict[str, Any]:
    """Mask time per 1080p frame (PRW c1s1_014901, 4 detected people) per available backend.

    ``sam-tiny-random`` is a random-init, shrunk Meta SAM (256² input, 2 blocks): it
    measures the ``meta_sam`` wrapper's cost (one embedding per frame, one batched prompt
    call, upsampling to the frame), not SAM ViT-B, whose weights are not available
    offline. The ``sam`` backend (the ONNX distilled SAM, real weights) has its own
    benchmark: ``benchmarks/segmenter_bench.py``.
    """
    import cv2

    from mcvision.types import Detections
    from mcvision.vision.segmenter import (
        NoSegmenter,
        SamSegmenter,
        YoloSegSegmenter,
        tiny_random_sam,
    )

    assets = assets or assets_dir()
    if assets is None:
        return {"skipped": "no assets directory"}
    frame = cv2.imread(str(assets / PRW / "frames/c1s1_014901.jpg"))
    boxes = json.loads((assets / PRW / "approx_boxes_handpicked.json").read_text())
    xyxy = [d[:4] for d in boxes["model_detections_c1s1_014901_yolov8n_int8_openvino"]]
    dets = Detections(xyxy=xyxy)
    backends = {
        "none": NoSegmenter(),
        "yolo-seg": YoloSegSegmenter(assets / YOLO_SEG, imgsz=320),
        "sam-tiny-random": SamSegmenter(tiny_random_sam(img_size=256, embed_dim=64, depth=2)),
    }
    out: dict[str, Any] = {
        "frame": f"{frame.shape[1]}x{frame.shape[0]}",
        "boxes": len(dets),
        "backends": {},
    }
    for name, seg in backends.items():
        out["backends"][name] = _time_ms(partial(seg.segment, frame, dets), repeats)
    base = out["backends"]["yolo-seg"]["median_ms"]
    for r in out["backends"].values():
        r["time_ratio_vs_yolo_seg"] = round(r["median_ms"] / base, 3)
    out["unavailable"] = {
        "meta_sam": "no SAM checkpoint offline (ViT-B set_image ~13-15 s/frame on 2 CPU cores)",
        "mobile_sam": "no MobileSAM weights offline",
        "sam2": "no SAM 2 weights offline",
    }
    return out


SECTIONS: dict[str, Callable[..., dict[str, Any]]] = {
    "reid": bench_reid,
    "segmenter": bench_segmenter,
}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run both sections and print (or write) the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--assets", type=Path, default=None)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    result = {name: fn(args.assets, repeats=args.repeats) for name, fn in SECTIONS.items()}
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)
    return result


if __name__ == "__main__":
    main()
