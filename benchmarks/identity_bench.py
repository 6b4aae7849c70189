"""Identity core cost per update: paced gallery writes against a write per batch.

Usage::

    python benchmarks/identity_bench.py --json [--shoppers 16] [--seconds 60]

Renders a simulated store (``pipeline_bench.render_crowd``), runs two cameras on
its busiest view in-process (detector, tracker, ReID) to collect the tracklet
updates once, then feeds the same updates to a fresh :class:`SiteIdentity` (real
LanceDB gallery and Parquet store in a temporary folder) twice:

* ``per_batch``: ``identity.gallery_flush_s = 0`` — embeddings written to LanceDB after
  every update batch (the old behaviour);
* ``paced``: the default ``identity.gallery_flush_s`` (2 s of data time).

CPU seconds of this process (all threads, LanceDB's included) per update, and
the ratio ``per_batch / paced``. JSON to ``benchmarks/results/identity.json``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import mcvision  # noqa: E402, F401  (applies the thread/offline environment first)
from mcvision.config import SiteConfig, parse_config  # noqa: E402
from mcvision.types import TrackletUpdate  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_result  # noqa: E402
from pipeline_bench import render_crowd  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "identity.json"
T0 = 1_764_000_000.0


def site(clip: Path, root: Path, cameras: int = 2, gallery_flush_s: float = 2.0) -> SiteConfig:
    return parse_config(
        {
            "site_id": "idbench",
            "cameras": [{"id": f"cam{i}", "source": str(clip), "fps": 5} for i in range(cameras)],
            "storage": {"root": str(root)},
            "identity": {"gallery_flush_s": gallery_flush_s},
        }
    )


def capture(cfg: SiteConfig) -> list[list[TrackletUpdate]]:
    """Every camera's update batches, merged in time order."""
    from mcvision.actors.camera import BufferSink, CameraWorker, LocalModels

    models = LocalModels(cfg)
    batches: list[list[TrackletUpdate]] = []
    for cam in cfg.cameras:
        sink = BufferSink()
        CameraWorker(cfg, cam.id, models, sink, start_ts=T0).run()
        batches.extend(b for b in sink.batches if b)
    return sorted(batches, key=lambda b: b[0].ts)


def ingest(cfg: SiteConfig, batches: list[list[TrackletUpdate]]) -> dict[str, Any]:
    """Feed the batches to a fresh core; CPU and wall time per update."""
    from mcvision.identity.site import SiteIdentity

    core = SiteIdentity(cfg)
    n = sum(len(b) for b in batches)
    c0, w0 = time.process_time(), time.perf_counter()
    for b in batches:
        core.ingest(b)
    core.close()
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    return {
        "gallery_flush_s": cfg.identity.gallery_flush_s,
        "updates": n,
        "batches": len(batches),
        "cpu_ms_per_update": round(cpu / n * 1000, 4),
        "wall_ms_per_update": round(wall / n * 1000, 4),
        "gallery_rows": core.gallery.count(),
    }


def run(shoppers: int, seconds: float) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="mcv-idbench-"))
    clip, people = render_crowd(tmp / "crowd", seconds, shoppers)
    batches = capture(site(clip, tmp / "capture"))
    out: dict[str, Any] = {
        "scene": {"shoppers": shoppers, "seconds": seconds, "people_per_frame": round(people, 2)},
        "machine": {"cpus": os.cpu_count()},
    }
    for name, flush_s in (("per_batch", 0.0), ("paced", 2.0)):
        out[name] = ingest(site(clip, tmp / name, gallery_flush_s=flush_s), batches)
    out["ratio_cpu_per_batch_over_paced"] = round(
        out["per_batch"]["cpu_ms_per_update"] / out["paced"]["cpu_ms_per_update"], 3
    )
    shutil.rmtree(tmp, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shoppers", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    write_result(run(args.shoppers, args.seconds), args.out, echo=args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
