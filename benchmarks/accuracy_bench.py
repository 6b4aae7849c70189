"""Accuracy benchmark: the default simulated store, three seeds, three identity ablations.

Usage::

    python benchmarks/accuracy_bench.py --json                  # seeds 0 1 2
    python benchmarks/accuracy_bench.py --json --seeds 3 4 5 --out held_out.json
    python benchmarks/accuracy_bench.py --json --ray-seed 0     # plus one full run through Ray

Each seed renders the default scenario once (``mcvision sim`` with the assets'
MOT17-mini people), runs every camera once through :class:`CameraWorker` with
in-process models, and replays the captured tracklet updates through
:class:`SiteIdentity` three times:

* ``motion_only``: ``identity.use_reid: false`` (hand-over by transit timing only);
* ``reid_no_topology``: ReID with ``identity.use_topology: false``;
* ``full``: the defaults.

Detection, tracking and ReID are deterministic per render, so the three variants
see the same updates and differ only in the identity logic — the same code the
Ray runtime uses (``IdentityActor`` wraps ``SiteIdentity``). Each variant's store
is scored with :func:`mcvision.evaluate.score.evaluate`. ``--ray-seed`` also runs
``mcvision eval`` on that seed's render (the full runtime through Ray) and records
its numbers beside the in-process ``full`` ones.

Writes the JSON to stdout (``--json``) and to ``benchmarks/results/accuracy.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import mcvision  # noqa: E402, F401  (applies the thread/offline environment first)
from mcvision.config import SiteConfig, load_config  # noqa: E402
from mcvision.types import TrackletUpdate  # noqa: E402
from mcvision.vision.weights import assets_dir  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_result  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "accuracy.json"
START_TS = 1_764_000_000.0  # epoch seconds of every render's first frame
VARIANTS: dict[str, dict[str, Any]] = {
    "motion_only": {"use_reid": False},
    "reid_no_topology": {"use_topology": False},
    "full": {},
}
METRICS = (
    "global_idf1",
    "fragmentation",
    "merge",
    "visitors_pred",
    "visitors_true",
    "visitor_count_error",
    "in_mae_s",
    "out_mae_s",
    "dwell_mae_s",
    "zone_dwell_rel_error",
)


def people_dir() -> Path:
    root = assets_dir()
    if root is None or not (root / "footage" / "MOT17-mini").is_dir():
        raise SystemExit("MOT17-mini not found: set MCVISION_ASSETS to the assets folder")
    return root / "footage" / "MOT17-mini"


def render(seed: int, scene: Path) -> None:
    """Render the default scenario for ``seed`` into ``scene`` (kept when already there)."""
    from mcvision.sim.render import run_sim

    if (scene / "site.yaml").exists() and (scene / "ground_truth.json").exists():
        return
    run_sim([people_dir()], scene, seed=seed, check_detector=False)


def capture(scene: Path, models: Any) -> dict[str, list[list[TrackletUpdate]]]:
    """Every camera of the scene through CameraWorker; the update batches per camera."""
    from mcvision.actors.camera import BufferSink, CameraWorker

    cache = scene / "updates.pkl"
    if cache.exists():
        with cache.open("rb") as f:
            return pickle.load(f)
    cfg = load_config(scene / "site.yaml")
    out = {}
    for cam in cfg.cameras:
        sink = BufferSink()
        CameraWorker(cfg, cam.id, models, sink, start_ts=START_TS).run()
        out[cam.id] = sink.batches
    with cache.open("wb") as f:
        pickle.dump(out, f)
    return out


def with_identity(cfg: SiteConfig, store: Path, **identity: Any) -> SiteConfig:
    return cfg.model_copy(
        update={
            "identity": cfg.identity.model_copy(update=identity),
            "storage": cfg.storage.model_copy(update={"root": str(store)}),
        }
    )


def replay(scene: Path, batches: dict[str, list[list[TrackletUpdate]]], store: Path,
           **identity: Any) -> dict[str, Any]:
    """The captured updates through SiteIdentity (batches in arrival order); scored."""
    from mcvision.evaluate.score import evaluate
    from mcvision.identity.site import SiteIdentity

    shutil.rmtree(store, ignore_errors=True)
    cfg = with_identity(load_config(scene / "site.yaml"), store, **identity)
    core = SiteIdentity(cfg)
    ordered = sorted((b for bs in batches.values() for b in bs if b), key=lambda b: b[0].ts)
    for b in ordered:
        core.ingest(b)
        core.tick(b[-1].ts, flush=False)
    core.close()
    return summarize(evaluate(scene, store, start_ts=START_TS).model_dump())


def summarize(report: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of an :class:`EvalReport` dump."""
    t, v = report["tracking"], report["visits"]
    true = v["unique_visitors_gt"]
    return {
        "global_idf1": t["overall"]["idf1"],
        "fragmentation": t["fragmentation"],
        "merge": t["merge"],
        "visitors_pred": v["unique_visitors_pred"],
        "visitors_true": true,
        "visitor_count_error": abs(v["unique_visitors_pred"] - true) / true if true else None,
        "in_mae_s": v["in_mae_s"],
        "out_mae_s": v["out_mae_s"],
        "dwell_mae_s": v["total_dwell_mae_s"],
        "zone_dwell_rel_error": v["zone_dwell_rel_error_mean"],
    }


def mean(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for k in METRICS:
        vals = [r[k] for r in rows if r.get(k) is not None]
        out[k] = round(statistics.fmean(vals), 4) if vals else None
    return out


def ray_eval(scene: Path, work: Path) -> dict[str, Any]:
    """``mcvision eval --json`` on a copy of the scene (the full runtime through Ray)."""
    copy = work / f"ray_{scene.name}"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(scene, copy, ignore=shutil.ignore_patterns("store", "updates.pkl", "runs"))
    exe = Path(sys.executable).with_name("mcvision")
    cmd = [str(exe) if exe.exists() else "mcvision", "eval", str(copy), "--json", "--no-progress"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=copy, check=False)
    if proc.returncode != 0:
        return {"error": proc.stderr[-2000:]}
    lines = proc.stdout.splitlines()  # the run may print before the JSON report
    starts = [i for i, ln in enumerate(lines) if ln == "{"]
    if not starts:
        return {"error": f"no JSON report in the output: {proc.stdout[-2000:]}"}
    row = summarize(json.loads("\n".join(lines[starts[-1]:])))
    row["wall_s"] = round(time.perf_counter() - t0, 1)
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the JSON result")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--work", help="keep renders and captured updates here (reused when present)")
    ap.add_argument("--out", default=str(RESULTS), help="where to write the JSON")
    ap.add_argument("--ray-seed", type=int, help="also run this seed through Ray (mcvision eval)")
    args = ap.parse_args(argv)

    from mcvision.actors.camera import LocalModels

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="mcv-acc-"))
    work.mkdir(parents=True, exist_ok=True)
    models = None
    per_seed: dict[str, dict[str, Any]] = {}
    timing: dict[str, float] = {}
    for seed in args.seeds:
        scene = work / f"seed{seed}"
        t0 = time.perf_counter()
        render(seed, scene)
        t1 = time.perf_counter()
        if models is None and not (scene / "updates.pkl").exists():
            models = LocalModels(load_config(scene / "site.yaml"))
        batches = capture(scene, models)
        t2 = time.perf_counter()
        per_seed[str(seed)] = {
            name: replay(scene, batches, work / f"store_{seed}_{name}", **ident)
            for name, ident in VARIANTS.items()
        }
        timing[f"seed{seed}"] = {  # type: ignore[assignment]
            "render_s": round(t1 - t0, 1), "capture_s": round(t2 - t1, 1),
            "replay_s": round(time.perf_counter() - t2, 1),
        }
        print(f"seed {seed}: " + ", ".join(
            f"{n} IDF1 {r['global_idf1']:.3f}" for n, r in per_seed[str(seed)].items()
        ), file=sys.stderr, flush=True)
    result: dict[str, Any] = {
        "scenario": "default (mcvision.sim.scenario.default_scenario)",
        "people": "MOT17-mini",
        "seeds": args.seeds,
        "variants": {n: {"identity": i} for n, i in VARIANTS.items()},
        "per_seed": per_seed,
        "mean": {n: mean([per_seed[str(s)][n] for s in args.seeds]) for n in VARIANTS},
        "targets": {"global_idf1": ">= 0.85", "visitor_count_error": "<= 0.10",
                    "in_mae_s": "<= 3", "out_mae_s": "<= 3", "zone_dwell_rel_error": "<= 0.10"},
        "how": "in-process CameraWorker + LocalModels, updates replayed through SiteIdentity",
        "timing_s": timing,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
    }
    if args.ray_seed is not None:
        scene = work / f"seed{args.ray_seed}"
        render(args.ray_seed, scene)
        result["ray_full"] = {"seed": args.ray_seed, **ray_eval(scene, work)}
    write_result(result, args.out, echo=args.json)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
