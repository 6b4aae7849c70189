"""Accuracy benchmark: the crowded store with real cross-camera appearance, tuned and held out.

Usage::

    python benchmarks/accuracy_bench.py --json                    # the whole run (~30 min)
    python benchmarks/accuracy_bench.py --json --ray-seed 3       # plus seed 3 through Ray
    python benchmarks/accuracy_bench.py --json --work /tmp/acc    # keep renders/captures
    python benchmarks/accuracy_bench.py --ray-only 3               # seed 3: Ray vs in-process
    python benchmarks/accuracy_bench.py --centring --thresholds 0.3 0.4 0.5 0.6 0.7 0.72 0.8
    python benchmarks/accuracy_bench.py --correction --match-threshold 0.72 \
        --merge-thresholds 0.76 0.8 0.84 0.88 --work /tmp/acc   # the late-correction ablation
    python benchmarks/accuracy_bench.py --geometry --match-threshold 0.4 --reid-backend openvino \
        --reid-weights reid_openvino/person-reidentification-retail-0286 --tag _retail0286
    python benchmarks/accuracy_bench.py --reid-backend openvino \
        --reid-weights reid_openvino/person-reidentification-retail-0286 --tag _retail0286 \
        --thresholds 0.25 0.3 0.35 0.4 0.45 0.5 0.55 --small-seeds  # the embedder ablation

**Crowded store** (``crowded_scenario``: 24 shoppers + 2 staff, 5 min at 5 fps, groups,
re-entries, an overlapping camera pair, look-alikes) with people from the assets'
Market-1501 ``bounding_box_train`` crops: each simulated camera shows a person as one
real Market camera saw them. The people are split by identity: **tuning** seeds 0-2
draw from even Market person ids, **held-out** seeds 3-5 from odd ones, so the held-out
numbers are on unseen seeds *and* unseen people. ``identity.match_threshold`` is swept on
the tuning seeds only (full variant, best mean global IDF1); the held-out seeds are
scored once, with the chosen value, for three identity variants:

* ``motion_only``: ``identity.use_reid: false`` (hand-over by transit timing only);
* ``reid_no_topology``: ReID with ``identity.use_topology: false``;
* ``full``: ReID + topology.

**Small store** (``small_scenario``, MOT17-mini people pasted as the same cut-out on every
camera, config defaults): held-out seeds 3-5, for continuity with earlier results.

Each seed renders once and every camera runs once through :class:`CameraWorker` with
in-process models; the captured tracklet updates are replayed through
:class:`SiteIdentity` per variant (the code the Ray ``IdentityActor`` wraps), and each
store is scored with :func:`mcvision.evaluate.score.evaluate`. ``--ray-seed`` runs
``mcvision eval`` (the whole runtime through Ray) on that crowded seed with the chosen
threshold and records it beside the in-process ``full`` numbers.

Writes ``accuracy.json`` (tuning split: the sweep and the variants), ``accuracy_heldout.json``
(held-out crowded seeds) and ``accuracy_small.json`` (small store) in ``benchmarks/results/``
(``--tag`` suffixes the names; ``--ray-only`` writes ``accuracy_ray.json``).

``--correction``: the late-correction ablation (``accuracy_correction.json``). At the given
``--match-threshold`` (the one chosen for the embedder by the main run), ``full`` without late
correction (``identity.correction_window_s: 0``) and ``+correction`` with each
``--merge-thresholds`` value run on the tuning seeds; the best mean global IDF1 picks the merge
threshold, and the held-out seeds are scored once for ``full`` and ``+correction`` at that value,
in the same run.

``--segmenters none yolo-seg sam``: masked ReID crops. The held-out seeds are captured once
per ``models.segmenter`` variant (:data:`SEGMENTER_VARIANTS`) and replayed with the identity
defaults; writes ``accuracy_segmenter.json``.

``--track-buffers 10 30``: the tracker's lost-track buffer, swept on the tuning seeds and
scored on the held-out ones (``accuracy_tracker.json``).

``--geometry``: the floor-plane ablation. Every render's ``site.yaml`` carries the
simulator's own floor calibration per camera (:mod:`mcvision.sim.floor`); the held-out
seeds are replayed with the full identity at ``--match-threshold`` (the value chosen on
the tuning seeds by the main run) without (``identity.use_geometry: false``) and with
the geometry, in the same run. The geometry parameters are the config defaults; with
more than one ``--floor-weights`` value, ``identity.floor_weight`` is swept on the
tuning seeds first and the best one is scored on the held-out seeds. Writes
``accuracy_geometry.json``.
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
from mcvision.config import (  # noqa: E402
    DetectorConfig,
    IdentityConfig,
    ReIDConfig,
    SegmenterConfig,
    SiteConfig,
    TrackerConfig,
    parse_config,
    resolve_paths,
)
from mcvision.types import TrackletUpdate  # noqa: E402
from mcvision.vision.weights import assets_dir  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _detection_cache import DetectionCache, cache_name  # noqa: E402
from _results import write_result  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
START_TS = 1_764_000_000.0  # epoch seconds of every render's first frame
TUNE_SEEDS = (0, 1, 2)
HELDOUT_SEEDS = (3, 4, 5)
THRESHOLDS = (0.5, 0.55, 0.6, 0.65, 0.72, 0.8)  # identity.match_threshold sweep (tuning seeds)
VARIANTS: dict[str, dict[str, Any]] = {
    "motion_only": {"use_reid": False},
    "reid_no_topology": {"use_topology": False},
    "full": {},
}
#: identity settings the cameras use (which frames are embedded): swept by capturing anew
CAPTURE_SETTINGS = ("embed_first_frames", "embed_every_frames")
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


def _asset(*parts: str) -> Path:
    root = assets_dir()
    path = root.joinpath(*parts) if root is not None else None
    if path is None or not path.is_dir():
        raise SystemExit(f"{'/'.join(parts)} not found: set MCVISION_ASSETS to the assets folder")
    return path


def market_split(work: Path, parity: int) -> Path:
    """A crop folder of the Market train people whose id has this parity (links, in ``work``).

    Tuning seeds draw people from even ids and held-out seeds from odd ids, so no person
    of the held-out scenes was seen while tuning.
    """
    src = _asset("reid", "market1501", "bounding_box_train")
    dest = work / "market1501" / f"train_{'even' if parity == 0 else 'odd'}"
    if not dest.is_dir():
        dest.mkdir(parents=True)
        for f in sorted(src.iterdir()):
            if f.name[:4].isdigit() and int(f.name[:4]) % 2 == parity:
                (dest / f.name).symlink_to(f)
    return dest


def render(
    seed: int, scene: Path, people: Path, scenario: str, matting: str | None = None
) -> dict[str, Any]:
    """Render ``scenario`` for ``seed`` into ``scene`` (kept when already there); its report.

    ``matting`` overrides the scenario's person mattes (``seg+sam``: SAM where YOLO-seg
    finds no person).
    """
    from mcvision.sim.render import run_sim
    from mcvision.sim.scenario import resolve_scenario

    report = scene / "render_report.json"
    if not ((scene / "site.yaml").exists() and report.exists()):
        sc = resolve_scenario(scenario)
        if matting:
            sc = sc.model_copy(update={"matting": matting})
        run_sim([people], scene, seed=seed, scenario=sc, check_detector=True)
    return json.loads(report.read_text())


def render_summary(report: dict[str, Any]) -> dict[str, Any]:
    """What a render was: people, load, occlusion, detector recall, look-alikes."""
    crop = report.get("crop_people", {})
    return {
        "people": report["people"],
        "visits": report["visits"],
        "max_people_in_view": report["max_people_in_view"],
        "occluded_frames": report["occluded_frames"],
        "groups": report.get("groups", []),
        "lookalike_sets": crop.get("lookalike_sets", []),
        "mattes": crop.get("mattes"),
        "detector_recall": report.get("detector", {}).get("recall"),
        "detector_precision": report.get("detector", {}).get("precision"),
    }


def scene_config(
    scene: Path, reid: dict[str, Any] | None = None, overrides: dict[str, Any] | None = None
) -> SiteConfig:
    """The scene's site config, with ``models.reid`` overridden by ``reid`` (embedder ablation)
    and other ``models`` sections by ``overrides`` (e.g. ``{"segmenter": {...}}``, ``{"tracker":
    {...}}``: the segmenter and tracker ablations).

    Motion gating is off unless the scene's config sets it: every sampled frame is detected,
    as in every accuracy table so far (``pipeline_bench.py --gating --gating-scenes crowded``
    measures the gate on these scenes against these ungated captures). The config is
    validated again with the new embedder, so thresholds the scene leaves out take that
    embedder's values (:data:`mcvision.config.EMBEDDER_THRESHOLDS`).
    """
    import yaml

    path = scene / "site.yaml"
    data = yaml.safe_load(path.read_text())
    data.setdefault("gating", {}).setdefault("enabled", False)
    models = data.setdefault("models", {})
    if reid:
        models["reid"] = {**(models.get("reid") or {}), **reid}
    for section, override in (overrides or {}).items():
        if section == "identity":  # capture-side identity settings (the embedding cadence)
            data["identity"] = {**(data.get("identity") or {}), **override}
        else:
            models[section] = {**(models.get(section) or {}), **override}
    return resolve_paths(parse_config(data, source=str(path)), scene)


#: Tracker settings that name a capture when not at their defaults (the short name).
_TRACKER_NAMES = {
    "match_thresh": "m",
    "track_high_thresh": "h",
    "track_low_thresh": "l",
    "new_track_thresh": "n",
}


def _cache_name(reid: dict[str, Any] | None, overrides: dict[str, Any] | None = None) -> str:
    """The captured updates' file, named by the embedder (segmenter, tracker) that made them."""
    emb = ReIDConfig(**(reid or {}))
    seg = SegmenterConfig(**(overrides or {}).get("segmenter", {}))
    trk = TrackerConfig(**(overrides or {}).get("tracker", {}))
    masks = "" if seg.backend == "none" else f"_seg-{seg.backend}-{seg.max_per_second}"
    # always named: the default buffer changed (30 -> 10), so an unnamed cache is stale
    tracks = f"_trk-{trk.type}-{trk.track_buffer}"
    for field, short in _TRACKER_NAMES.items():  # a non-default setting names the capture
        value = getattr(trk, field)
        if value != TrackerConfig.model_fields[field].default:
            tracks += f"-{short}{value:g}"
    det = (overrides or {}).get("detector", {})
    if "conf" in det and det["conf"] != DetectorConfig.model_fields["conf"].default:
        tracks += f"-c{det['conf']:g}"
    cadence = "".join(
        f"_{name}-{value}"
        for name, value in sorted((overrides or {}).get("identity", {}).items())
        if value != IdentityConfig.model_fields[name].default
    )
    return f"updates_{emb.backend}_{Path(emb.weights).name}{masks}{tracks}{cadence}.pkl"


def capture(
    scene: Path,
    models: Any,
    reid: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, list[list[TrackletUpdate]]]:
    """Every camera of the scene through CameraWorker; the update batches per camera.

    The detector answers from the scene's stored detections where it has them
    (:class:`DetectionCache`: a tracker or embedder variant re-runs only the tracking and
    the embedding). The cameras' stats (frames segmented, embeddings, wall time) go beside the cache, in
    ``<cache>.stats.json``.
    """
    from mcvision.actors.camera import BufferSink, CameraWorker

    cache = scene / _cache_name(reid, overrides)
    if cache.exists():
        with cache.open("rb") as f:
            return pickle.load(f)
    cfg = scene_config(scene, reid, overrides)
    # the detector is the same in every variant: its boxes are kept beside the render
    models = DetectionCache(models, scene / cache_name(cfg.models.detector))
    out, stats = {}, {}
    for cam in cfg.cameras:
        sink = BufferSink()
        t0 = time.perf_counter()
        st = CameraWorker(cfg, cam.id, models, sink, start_ts=START_TS).run()
        stats[cam.id] = {
            "frames": st.frames,
            "embeddings": st.embeddings,
            "segmented": st.segmented,
            "wall_s": round(time.perf_counter() - t0, 1),
        }
        out[cam.id] = sink.batches
        models.save()
    with cache.open("wb") as f:
        pickle.dump(out, f)
    cache.with_name(cache.name + ".stats.json").write_text(json.dumps(stats, indent=1))
    return out


def with_identity(cfg: SiteConfig, store: Path, **identity: Any) -> SiteConfig:
    return cfg.model_copy(
        update={
            "identity": cfg.identity.model_copy(update=identity),
            "storage": cfg.storage.model_copy(update={"root": str(store)}),
        }
    )


def replay(
    scene: Path,
    batches: dict[str, list[list[TrackletUpdate]]],
    store: Path,
    reid: dict[str, Any] | None = None,
    **identity: Any,
) -> dict[str, Any]:
    """The captured updates through SiteIdentity (batches in arrival order); scored."""
    from mcvision.evaluate.score import evaluate
    from mcvision.identity.site import SiteIdentity

    shutil.rmtree(store, ignore_errors=True)
    cfg = with_identity(scene_config(scene, reid), store, **identity)
    core = SiteIdentity(cfg)
    ordered = sorted((b for bs in batches.values() for b in bs if b), key=lambda b: b[0].ts)
    for b in ordered:
        core.ingest(b)
        core.tick(b[-1].ts, flush=False)
    core.close()
    row = summarize(evaluate(scene, store, start_ts=START_TS).model_dump())
    if cfg.identity.correction_window_s > 0:
        row["merges"] = core.store.sql(
            "SELECT count(*) AS n FROM events WHERE kind = 'identity_merged'"
        )[0]["n"]
    return row


def summarize(report: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of an :class:`EvalReport` dump."""
    t, v = report["tracking"], report["visits"]
    true = v["unique_visitors_gt"]
    return {
        "global_idf1": t["overall"]["idf1"],
        "fragmentation": t["fragmentation"],
        "merge": t["merge"],
        "id_starts": t["id_starts"],
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


def ray_eval(
    scene: Path, work: Path, reid: dict[str, Any] | None = None, **identity: Any
) -> dict[str, Any]:
    """``mcvision eval --json`` on a copy of the scene (the full runtime through Ray)."""
    import yaml

    copy = work / f"ray_{scene.name}"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(
        scene,
        copy,
        ignore=shutil.ignore_patterns("store", "updates*.pkl", "detections*.pkl", "runs"),
    )
    site = yaml.safe_load((copy / "site.yaml").read_text())
    site.setdefault("identity", {}).update(identity)
    if reid:
        site.setdefault("models", {}).setdefault("reid", {}).update(reid)
    (copy / "site.yaml").write_text(yaml.safe_dump(site, sort_keys=False))
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
    row = summarize(json.loads("\n".join(lines[starts[-1] :])))
    row["wall_s"] = round(time.perf_counter() - t0, 1)
    return row


def run_seeds(
    seeds: list[int],
    work: Path,
    scenario: str,
    people: Any,
    variants: dict[str, dict[str, Any]],
    state: dict[str, Any],
    reid: dict[str, Any] | None = None,
) -> tuple[dict[str, dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """Render, capture and replay ``variants`` on each seed: (per seed, renders, timing)."""
    from mcvision.actors.camera import LocalModels

    per_seed: dict[str, dict[str, Any]] = {}
    renders: dict[str, Any] = {}
    timing: dict[str, Any] = {}
    for seed in seeds:
        scene = work / f"{scenario}_seed{seed}"
        t0 = time.perf_counter()
        renders[str(seed)] = render_summary(render(seed, scene, people(seed), scenario))
        t1 = time.perf_counter()
        if state.get("models") is None and not (scene / _cache_name(reid)).exists():
            state["models"] = LocalModels(scene_config(scene, reid))
        batches = capture(scene, state.get("models"), reid)
        t2 = time.perf_counter()
        per_seed[str(seed)] = {
            name: replay(scene, batches, work / f"store_{scenario}_{seed}_{name}", reid, **ident)
            for name, ident in variants.items()
        }
        timing[f"seed{seed}"] = {
            "render_s": round(t1 - t0, 1),
            "capture_s": round(t2 - t1, 1),
            "replay_s": round(time.perf_counter() - t2, 1),
        }
        print(
            f"{scenario} seed {seed}: "
            + ", ".join(f"{n} IDF1 {r['global_idf1']:.3f}" for n, r in per_seed[str(seed)].items()),
            file=sys.stderr,
            flush=True,
        )
    return per_seed, renders, timing


def _result(
    scenario: str,
    people: str,
    split: str,
    seeds: list[int],
    variants: dict[str, Any],
    per_seed: dict[str, Any],
    renders: dict[str, Any],
    timing: dict[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    return {
        "scenario": scenario,
        "people": people,
        "split": split,
        "seeds": seeds,
        "variants": {n: {"identity": i} for n, i in variants.items()},
        "per_seed": per_seed,
        "mean": {n: mean([per_seed[str(s)][n] for s in seeds]) for n in variants},
        "renders": renders,
        **extra,
        "targets": {
            "global_idf1": ">= 0.85",
            "visitor_count_error": "<= 0.10",
            "in_mae_s": "<= 3",
            "out_mae_s": "<= 3",
            "zone_dwell_rel_error": "<= 0.10",
        },
        "how": "in-process CameraWorker + LocalModels, updates replayed through SiteIdentity",
        "timing_s": timing,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
    }


def machine(args: argparse.Namespace) -> dict[str, Any]:
    """Where a result was measured (``--shared``: other work shared the CPUs)."""
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "shared": args.shared}


def work_dir(args: argparse.Namespace) -> Path:
    """``--work`` (kept, reused when present) or a fresh temporary folder."""
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="mcv-acc-"))
    work.mkdir(parents=True, exist_ok=True)
    return work


def chosen_threshold(args: argparse.Namespace, scene: Path, reid: dict[str, Any]) -> float:
    """``--match-threshold``, else the scene config's (the embedder's default)."""
    if args.match_threshold is not None:
        return float(args.match_threshold)
    if (scene / "site.yaml").exists():
        return scene_config(scene, reid).identity.match_threshold
    return SiteConfig.model_validate(
        {"site_id": "s", "cameras": [{"id": "c", "source": "c.mp4"}], "models": {"reid": reid}}
    ).identity.match_threshold


def tuning_dir(args: argparse.Namespace, work: Path) -> Path:
    """``--tune-work`` (the tuning seeds' renders, e.g. an earlier render generation) or ``work``."""
    if not args.tune_work:
        return work
    tune = Path(args.tune_work)
    tune.mkdir(parents=True, exist_ok=True)
    return tune


def render_generations(args: argparse.Namespace) -> dict[str, Any]:
    """Which render folders the tuning and held-out seeds came from (``--render-note``)."""
    return {
        "tuning": args.tune_render_note or "the same render code as the held-out seeds",
        "heldout": args.render_note or "rendered by this code",
    }


def cleaned_up(args: argparse.Namespace, work: Path) -> int:
    """Remove a temporary work folder (never ``--work``); the exit code 0."""
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def ray_only(args: argparse.Namespace, reid: dict[str, Any]) -> int:
    """One held-out crowded seed: the whole runtime through Ray beside the in-process replay."""
    from mcvision.actors.camera import LocalModels

    work = work_dir(args)
    seed = args.ray_only
    scene = work / f"crowded_seed{seed}"
    t0 = time.perf_counter()
    render(seed, scene, market_split(work, 1), "crowded")
    thr = chosen_threshold(args, scene, reid)
    models = (
        None if (scene / _cache_name(reid)).exists() else LocalModels(scene_config(scene, reid))
    )
    batches = capture(scene, models, reid)
    inproc = replay(scene, batches, work / f"store_ray_only_{seed}", reid, match_threshold=thr)
    ray = ray_eval(scene, work, reid, match_threshold=thr)
    emb = scene_config(scene, reid).models.reid
    result = {
        "scenario": "crowded",
        "people": "Market-1501 bounding_box_train, odd person ids",
        "seed": seed,
        "identity": {"match_threshold": thr},
        "embedder": {"backend": emb.backend, "weights": emb.weights},
        "in_process_full": inproc,
        "ray_full": ray,
        "how": "the same render: updates replayed in ts order through SiteIdentity, and"
        " `mcvision eval` (camera actors, Serve deployments, IdentityActor through Ray)",
        "bench_wall_s": round(time.perf_counter() - t0, 1),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
    }
    write_result(result, Path(args.out_dir) / f"accuracy_ray{args.tag}.json", echo=args.json)
    return cleaned_up(args, work)


def centring(args: argparse.Namespace, reid: dict[str, Any]) -> int:
    """The site-adaptation ablation: full identity with and without per-camera centring.

    Both are swept over ``--thresholds`` on the tuning seeds; each keeps its best value,
    and the held-out seeds are scored once with it.
    """
    work = work_dir(args)
    tune_work = tuning_dir(args, work)
    state: dict[str, Any] = {}
    t0 = time.perf_counter()
    tune, held = market_split(tune_work, 0), market_split(work, 1)
    out: dict[str, Any] = {}
    no_corr = {"correction_window_s": 0.0}  # adaptation alone (late correction: --correction)
    for name, extra in (("full", no_corr), ("full_centred", {**no_corr, "camera_centring": True})):
        sweep = {f"{t:g}": {**extra, "match_threshold": t} for t in args.thresholds}
        rows, _, _ = run_seeds(
            args.tune_seeds, tune_work, "crowded", lambda _s: tune, sweep, state, reid
        )
        means = {k: mean([rows[str(s)][k] for s in args.tune_seeds]) for k in sweep}
        best = max(args.thresholds, key=lambda t: (means[f"{t:g}"]["global_idf1"] or 0.0, -t))
        variant = {name: {**extra, "match_threshold": best}}
        held_rows, _, _ = run_seeds(
            args.heldout_seeds, work, "crowded", lambda _s: held, variant, state, reid
        )
        out[name] = {
            "identity": variant[name],
            "tuning_mean_idf1": {k: m["global_idf1"] for k, m in means.items()},
            "heldout_per_seed": {s: r[name] for s, r in held_rows.items()},
            "heldout_mean": mean([held_rows[str(s)][name] for s in args.heldout_seeds]),
        }
    emb = scene_config(tune_work / f"crowded_seed{args.tune_seeds[0]}", reid).models.reid
    result = {
        "scenario": "crowded",
        "people": "Market-1501 bounding_box_train: tuning even ids, held-out odd ids",
        "tune_seeds": args.tune_seeds,
        "heldout_seeds": args.heldout_seeds,
        "renders": render_generations(args),
        "embedder": {"backend": emb.backend, "weights": emb.weights},
        "variants": out,
        "how": "captured updates replayed through SiteIdentity (as the main run); late"
        " correction off in both (identity.correction_window_s: 0)",
        "bench_wall_s": round(time.perf_counter() - t0, 1),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
    }
    write_result(result, Path(args.out_dir) / f"accuracy_centring{args.tag}.json", echo=args.json)
    return cleaned_up(args, work)


def correction(args: argparse.Namespace, reid: dict[str, Any]) -> int:
    """The late-correction ablation: ``full`` vs ``+correction`` (merge threshold tuned)."""
    work = work_dir(args)
    state: dict[str, Any] = {}
    t0 = time.perf_counter()
    thr = chosen_threshold(args, work / f"crowded_seed{args.tune_seeds[0]}", reid)
    window = {"correction_window_s": args.correction_window}
    full = {"match_threshold": thr, "correction_window_s": 0.0}
    sweep = {"full": full} | {
        f"+correction@{m:g}": {"match_threshold": thr, "merge_threshold": m, **window}
        for m in args.merge_thresholds
    }
    people = {0: lambda _s: market_split(work, 0), 1: lambda _s: market_split(work, 1)}
    rows, _, tune_timing = run_seeds(
        args.tune_seeds, work, "crowded", people[0], sweep, state, reid
    )
    means = {k: mean([rows[str(s)][k] for s in args.tune_seeds]) for k in sweep}
    best = max(
        args.merge_thresholds, key=lambda m: (means[f"+correction@{m:g}"]["global_idf1"] or 0.0, m)
    )
    chosen = {"full": full, "+correction": sweep[f"+correction@{best:g}"]}
    held, _, held_timing = run_seeds(
        args.heldout_seeds, work, "crowded", people[1], chosen, state, reid
    )
    emb = scene_config(work / f"crowded_seed{args.tune_seeds[0]}", reid).models.reid
    result = {
        "scenario": "crowded",
        "people": "Market-1501 bounding_box_train: tuning even ids, held-out odd ids",
        "tune_seeds": args.tune_seeds,
        "heldout_seeds": args.heldout_seeds,
        "embedder": {"backend": emb.backend, "weights": emb.weights},
        "tuning": {
            "parameter": "identity.merge_threshold",
            "values": args.merge_thresholds,
            "chosen": best,
            "criterion": "best mean global IDF1 of +correction on the tuning"
            " seeds (ties: the stricter value)",
            "mean": means,
            "per_seed": rows,
        },
        "variants": {n: {"identity": v} for n, v in chosen.items()},
        "heldout_per_seed": held,
        "heldout_mean": {n: mean([held[str(s)][n] for s in args.heldout_seeds]) for n in chosen},
        "heldout_merges": {s: r["+correction"].get("merges") for s, r in held.items()},
        "how": "captured updates replayed through SiteIdentity (as the main run); both variants"
        " in the same process and run",
        "timing_s": {"tuning": tune_timing, "heldout": held_timing},
        "bench_wall_s": round(time.perf_counter() - t0, 1),
        "machine": machine(args),
    }
    write_result(result, Path(args.out_dir) / f"accuracy_correction{args.tag}.json", echo=args.json)
    return cleaned_up(args, work)


def geometry(args: argparse.Namespace, reid: dict[str, Any]) -> int:
    """The floor-geometry ablation: full identity without and with the floor calibrations."""
    from mcvision.config import IdentityConfig

    work = work_dir(args)
    state: dict[str, Any] = {}
    t0 = time.perf_counter()
    thr = chosen_threshold(args, work / f"crowded_seed{args.heldout_seeds[0]}", reid)
    no_corr: dict[str, Any] = {"correction_window_s": 0.0}  # late correction: its own variants
    split = {"track_split_gap_s": args.track_split_gap} if args.track_split_gap else {}
    weights = args.floor_weights or [IdentityConfig().floor_weight]
    tuning: dict[str, Any] | None = None
    if len(weights) > 1:
        tune = market_split(work, 0)
        sweep = {
            f"geometry@{w:g}": {
                "match_threshold": thr,
                "use_geometry": True,
                "floor_weight": w,
                **no_corr,
                **split,
            }
            for w in weights
        }
        rows, _, _ = run_seeds(
            args.tune_seeds, work, "crowded", lambda _s: tune, sweep, state, reid
        )
        means = {k: mean([rows[str(s)][k] for s in args.tune_seeds]) for k in sweep}
        best = max(weights, key=lambda w: (means[f"geometry@{w:g}"]["global_idf1"] or 0.0, -w))
        tuning = {
            "parameter": "identity.floor_weight",
            "values": weights,
            "chosen": best,
            "seeds": args.tune_seeds,
            "people": "even ids",
            "mean_idf1": {k: m["global_idf1"] for k, m in means.items()},
        }
        weights = [best]
    geo = {"match_threshold": thr, "use_geometry": True, "floor_weight": weights[0], **no_corr}
    variants = {
        "full": {"match_threshold": thr, "use_geometry": False, **no_corr},
        "full_geometry": geo,
        # diagnostics: one part of the geometry at a time (nothing is chosen from them)
        "geometry_walkable_only": {**geo, "floor_weight": 0.0, "floor_apart_m": 1e6},
        "geometry_apart_only": {**geo, "floor_weight": 0.0, "max_walk_speed_mps": 1e4},
        "geometry_bonus_only": {**geo, "floor_apart_m": 1e6, "max_walk_speed_mps": 1e4},
        # late correction (identity.correction) without and with geometry-triggered merges
        "full_correction": {
            "match_threshold": thr,
            "use_geometry": False,
            "correction_window_s": args.correction_window,
        },
        "full_geometry_correction": {**geo, "correction_window_s": args.correction_window},
    }
    variants = {k: {**v, **split} for k, v in variants.items()}
    held = market_split(work, 1)
    per_seed, renders, timing = run_seeds(
        args.heldout_seeds, work, "crowded", lambda _s: held, variants, state, reid
    )
    first = work / f"crowded_seed{args.heldout_seeds[0]}"
    cfg = scene_config(first, reid)
    ic = cfg.identity
    result = _result(
        "crowded",
        "Market-1501 bounding_box_train, odd person ids",
        "held-out",
        args.heldout_seeds,
        variants,
        per_seed,
        renders,
        timing,
        geometry={
            "calibrated_cameras": [c.id for c in cfg.cameras if c.floor is not None],
            "floor_model": "the simulator's own floor plan (mcvision.sim.floor), written into"
            " each render's site.yaml as image-floor point pairs",
            "parameters": {
                "floor_match_m": ic.floor_match_m,
                "floor_apart_m": ic.floor_apart_m,
                "floor_weight": weights[0],
                "max_walk_speed_mps": ic.max_walk_speed_mps,
                "track_split_gap_s": args.track_split_gap,
            },
            "tuned": tuning or "not tuned: the config defaults, set a priori (no seed looked at)",
            "diagnostics": "geometry_*_only: the walkable-transit gate, the far-apart veto, or"
            " the same-spot cost term alone, to see which part does what",
            "correction": "full_correction / full_geometry_correction: late correction on"
            " (correction_window_s, merge_threshold of the config); with geometry a same-spot"
            " coincidence of two IDs' live tracks can also merge them ('merges' counts all)",
        },
        tuned_on={
            "match_threshold": thr,
            "seeds": list(TUNE_SEEDS),
            "people": "even ids",
            "note": "chosen by the main run on the tuning seeds (accuracy*.json)",
        },
    )
    emb = cfg.models.reid
    result["embedder"] = {"backend": emb.backend, "weights": emb.weights}
    result["bench_wall_s"] = round(time.perf_counter() - t0, 1)
    result["machine"]["shared"] = args.shared
    write_result(result, Path(args.out_dir) / f"accuracy_geometry{args.tag}.json", echo=args.json)
    return cleaned_up(args, work)


def pairs(args: argparse.Namespace, reid: dict[str, Any]) -> int:
    """The per camera-pair threshold ablation: ``full`` vs ``+pairs`` (``pair_fmr`` tuned).

    Both at the embedder's ``--match-threshold`` (default: the config's) without late
    correction; ``identity.pair_fmr`` is swept over ``--pair-fmrs`` on the tuning seeds
    (``--centred``: with per-camera centring in both variants, at that threshold) and the
    held-out seeds are scored once for both variants, in the same run.
    """
    work = work_dir(args)
    tune_work = tuning_dir(args, work)
    state: dict[str, Any] = {}
    t0 = time.perf_counter()
    first = tune_work / f"crowded_seed{args.tune_seeds[0]}"
    thr = chosen_threshold(args, first, reid)
    base = {"match_threshold": thr, "correction_window_s": 0.0}
    if args.centred:
        base["camera_centring"] = True
    sweep = {"full": base} | {
        f"+pairs@{f:g}": {**base, "pair_thresholds": True, "pair_fmr": f} for f in args.pair_fmrs
    }
    tune = market_split(tune_work, 0)
    rows, _, tune_timing = run_seeds(
        args.tune_seeds, tune_work, "crowded", lambda _s: tune, sweep, state, reid
    )
    means = {k: mean([rows[str(s)][k] for s in args.tune_seeds]) for k in sweep}
    best = max(args.pair_fmrs, key=lambda f: (means[f"+pairs@{f:g}"]["global_idf1"] or 0.0, -f))
    chosen = {"full": base, "+pairs": sweep[f"+pairs@{best:g}"]}
    held_people = market_split(work, 1)
    held, held_renders, held_timing = run_seeds(
        args.heldout_seeds, work, "crowded", lambda _s: held_people, chosen, state, reid
    )
    emb = scene_config(first, reid).models.reid
    result = {
        "scenario": "crowded",
        "people": "Market-1501 bounding_box_train: tuning even ids, held-out odd ids",
        "tune_seeds": args.tune_seeds,
        "heldout_seeds": args.heldout_seeds,
        "renders": render_generations(args),
        "embedder": {"backend": emb.backend, "weights": emb.weights},
        "tuning": {
            "parameter": "identity.pair_fmr",
            "values": args.pair_fmrs,
            "chosen": best,
            "criterion": "best mean global IDF1 of +pairs on the tuning seeds (ties: the lower"
            " rate)",
            "mean": means,
        },
        "tuning_full_beaten": (means[f"+pairs@{best:g}"]["global_idf1"] or 0.0)
        > (means["full"]["global_idf1"] or 0.0),
        "variants": {n: {"identity": v} for n, v in chosen.items()},
        "heldout_per_seed": held,
        "heldout_mean": {n: mean([held[str(s)][n] for s in args.heldout_seeds]) for n in chosen},
        "heldout_render": held_renders,
        "how": "captured updates replayed through SiteIdentity (as the main run); both variants"
        " in the same process and run; late correction off (its own ablation)",
        "timing_s": {"tuning": tune_timing, "heldout": held_timing},
        "bench_wall_s": round(time.perf_counter() - t0, 1),
        "machine": machine(args),
    }
    name = f"accuracy_pairs{'_centred' if args.centred else ''}{args.tag}.json"
    write_result(result, Path(args.out_dir) / name, echo=args.json)
    return cleaned_up(args, work)


OSNET = {"backend": "onnx", "weights": "osnet_x0_25_msmt17.onnx"}
RETAIL0286 = {"backend": "openvino", "weights": "reid_openvino/person-reidentification-retail-0286"}


def ablation_rows(args: argparse.Namespace) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """The README's ablation: row name -> (embedder, identity settings).

    Each embedder at its own thresholds (the config's per-embedder defaults); the
    adaptation rows at the values tuned by ``--centring`` and ``--pairs`` on the tuning
    seeds (``--centring-threshold``, ``--pair-fmr``); late correction only where named.
    ``--rows`` keeps the named rows only (the numbers are deterministic in the captured
    updates, so rows of separate runs on the same renders compare).
    """
    off = {"correction_window_s": 0.0}
    centred = {"camera_centring": True, "match_threshold": args.centring_threshold}
    pair = {"pair_thresholds": True, "pair_fmr": args.pair_fmr}
    rows: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
        "osnet_x0_25": (OSNET, off),
        "retail0286": (RETAIL0286, off),
        "retail0286+geometry": (RETAIL0286, {**off, "use_geometry": True}),
    }
    if args.centring_threshold is not None:
        rows["retail0286+centring"] = (RETAIL0286, {**off, **centred})
    if args.pair_fmr is not None:
        rows["retail0286+pairs"] = (RETAIL0286, {**off, **pair})
    rows["osnet_x0_25+correction"] = (OSNET, {})
    rows["retail0286+correction"] = (RETAIL0286, {})
    if args.rows:
        unknown = sorted(set(args.rows) - set(rows))
        if unknown:
            raise SystemExit(f"--rows: no such ablation row {unknown}; rows: {sorted(rows)}")
        rows = {n: r for n, r in rows.items() if n in args.rows}
    return rows


def ablation(args: argparse.Namespace) -> int:
    """Held-out seeds only: every ablation row (embedder x adaptation x late correction)."""
    work = work_dir(args)
    t0 = time.perf_counter()
    rows = ablation_rows(args)
    held = market_split(work, 1)
    per_seed: dict[str, dict[str, Any]] = {str(s): {} for s in args.heldout_seeds}
    renders: dict[str, Any] = {}
    timing: dict[str, Any] = {}
    settings: dict[str, Any] = {}
    for emb in (OSNET, RETAIL0286):
        variants = {n: ident for n, (e, ident) in rows.items() if e == emb}
        if not variants:
            continue
        state: dict[str, Any] = {}  # one LocalModels per embedder
        got, renders, timing[emb["weights"]] = run_seeds(
            args.heldout_seeds, work, "crowded", lambda _s: held, variants, state, emb
        )
        for s, r in got.items():
            per_seed[s].update(r)
        cfg = scene_config(work / f"crowded_seed{args.heldout_seeds[0]}", emb)
        for n, ident in variants.items():
            full = cfg.identity.model_copy(update=ident)
            settings[n] = {
                "embedder": emb,
                "identity": ident,
                "match_threshold": full.match_threshold,
                "merge_threshold": full.merge_threshold if full.correction_window_s > 0 else None,
            }
    result = {
        "scenario": "crowded",
        "people": "Market-1501 bounding_box_train, odd person ids (held-out)",
        "seeds": args.heldout_seeds,
        "renders_generation": render_generations(args)["heldout"],
        "rows": settings,
        "per_seed": per_seed,
        "mean": {n: mean([per_seed[str(s)][n] for s in args.heldout_seeds]) for n in rows},
        "renders": renders,
        "how": "captured updates (one capture per embedder) replayed through SiteIdentity;"
        " every row in the same run; thresholds tuned on the tuning seeds by the other modes"
        " (accuracy_retail0286.json, accuracy_correction_retail0286.json, --centring, --pairs)",
        "timing_s": timing,
        "bench_wall_s": round(time.perf_counter() - t0, 1),
        "machine": machine(args),
    }
    write_result(result, Path(args.out_dir) / f"accuracy_ablation{args.tag}.json", echo=args.json)
    return cleaned_up(args, work)


#: ``--segmenters`` variants: ``models.segmenter`` of each capture. ``sam`` is the CPU
#: default (the budget ``max_per_second`` 0.2); ``sam@1`` five times that; ``yolo-seg``
#: masks every ReID-due crop (no budget: it costs about a detector pass).
SEGMENTER_VARIANTS: dict[str, dict[str, Any]] = {
    "none": {"backend": "none"},
    "yolo-seg": {"backend": "yolo-seg", "max_per_second": None},
    "sam": {"backend": "sam"},
    "sam@1": {"backend": "sam", "max_per_second": 1.0},
}


def segmenters(args: argparse.Namespace, reid: dict[str, Any]) -> int:
    """The segmenter ablation: masked ReID crops (``models.segmenter``) on the held-out seeds.

    Each seed is captured once per variant (the masks change the embeddings, not the
    tracks) and replayed with the scene's identity defaults (``--match-threshold`` when
    given); nothing is tuned, so the held-out seeds are the report.
    """
    from mcvision.actors.camera import LocalModels

    work = work_dir(args)
    t0 = time.perf_counter()
    held = market_split(work, 1)
    per_seed: dict[str, dict[str, Any]] = {}
    mattes: dict[str, Any] = {}
    for seed in args.heldout_seeds:
        scene = work / f"crowded_seed{seed}"
        mattes[str(seed)] = render(seed, scene, held, "crowded", args.matting)["crop_people"][
            "mattes"
        ]
        ident = {} if args.match_threshold is None else {"match_threshold": args.match_threshold}
        per_seed[str(seed)] = {}
        for name in args.segmenters:
            seg = {"segmenter": SEGMENTER_VARIANTS[name]}
            cache = scene / _cache_name(reid, seg)
            models = None if cache.exists() else LocalModels(scene_config(scene, reid, seg))
            batches = capture(scene, models, reid, seg)
            store = work / f"store_seg_{seed}_{name}"
            row = replay(scene, batches, store, reid, **ident)
            stats = json.loads(cache.with_name(cache.name + ".stats.json").read_text())
            row["capture"] = {
                k: sum(c[k] for c in stats.values()) for k in next(iter(stats.values()))
            }
            per_seed[str(seed)][name] = row
            print(f"seed {seed} {name}: IDF1 {row['global_idf1']:.3f}", file=sys.stderr, flush=True)
    cfg = scene_config(work / f"crowded_seed{args.heldout_seeds[0]}", reid)
    result = {
        "scenario": "crowded",
        "people": "Market-1501 bounding_box_train, odd person ids",
        "split": "held-out (nothing tuned here)",
        "seeds": args.heldout_seeds,
        "embedder": {"backend": cfg.models.reid.backend, "weights": cfg.models.reid.weights},
        "identity": {"match_threshold": cfg.identity.match_threshold, **ident},
        "matting": args.matting or "the scenario's (seg)",
        "mattes": mattes,
        "variants": {n: SEGMENTER_VARIANTS[n] for n in args.segmenters},
        "per_seed": per_seed,
        "mean": {
            n: mean([per_seed[str(s)][n] for s in args.heldout_seeds]) for n in args.segmenters
        },
        "how": "each variant captured through CameraWorker + LocalModels (masks on the ReID-due"
        " crops the segment budget lets through, on the frames' own time) and replayed through"
        " SiteIdentity; 'capture' sums the cameras' frames, embeddings, segmented frames, wall s",
        "bench_wall_s": round(time.perf_counter() - t0, 1),
        "machine": machine(args),
    }
    write_result(result, Path(args.out_dir) / f"accuracy_segmenter{args.tag}.json", echo=args.json)
    return cleaned_up(args, work)


def _captured_rows(
    seeds: list[int], work: Path, people: Path, reid: dict[str, Any], variants: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Per seed and variant (``models`` overrides): render, capture, replay with the defaults."""
    from mcvision.actors.camera import LocalModels

    rows: dict[str, dict[str, Any]] = {}
    for seed in seeds:
        scene = work / f"crowded_seed{seed}"
        render(seed, scene, people, "crowded")
        rows[str(seed)] = {}
        for name, over in variants.items():
            cache = scene / _cache_name(reid, over)
            models = None if cache.exists() else LocalModels(scene_config(scene, reid, over))
            batches = capture(scene, models, reid, over)
            rows[str(seed)][name] = replay(scene, batches, work / f"store_v_{seed}_{name}", reid)
            idf1 = rows[str(seed)][name]["global_idf1"]
            print(f"seed {seed} {name}: IDF1 {idf1:.3f}", file=sys.stderr, flush=True)
    return rows


def track_buffers(args: argparse.Namespace, reid: dict[str, Any]) -> int:
    """The tracker ablation: ``models.tracker.track_buffer`` (frames a lost track is kept).

    Swept on the tuning seeds (best mean global IDF1; ties: the shorter buffer); the
    held-out seeds are scored once with the default and with the chosen value.
    """
    work = work_dir(args)
    t0 = time.perf_counter()
    sweep = {f"track_buffer={b}": {"tracker": {"track_buffer": b}} for b in args.track_buffers}
    tune = _captured_rows(args.tune_seeds, work, market_split(work, 0), reid, sweep)
    means = {k: mean([tune[str(s)][k] for s in args.tune_seeds]) for k in sweep}
    best = max(
        args.track_buffers,
        key=lambda b: (means[f"track_buffer={b}"]["global_idf1"] or 0.0, -b),
    )
    default = TrackerConfig().track_buffer
    chosen = {f"track_buffer={b}": {"tracker": {"track_buffer": b}} for b in {default, best}}
    held = _captured_rows(args.heldout_seeds, work, market_split(work, 1), reid, chosen)
    fps = scene_config(work / f"crowded_seed{args.heldout_seeds[0]}", reid).cameras[0].fps
    result = {
        "scenario": "crowded",
        "people": "Market-1501 bounding_box_train: tuning even ids, held-out odd ids",
        "tune_seeds": args.tune_seeds,
        "heldout_seeds": args.heldout_seeds,
        "parameter": "models.tracker.track_buffer (frames; the cameras sample at"
        f" {fps:g} fps, so {default} frames = {default / fps:g} s)",
        "tuning": {"values": args.track_buffers, "chosen": best, "mean": means, "per_seed": tune},
        "heldout_per_seed": held,
        "heldout_mean": {n: mean([held[str(s)][n] for s in args.heldout_seeds]) for n in chosen},
        "how": "each value captured through CameraWorker + LocalModels and replayed through"
        " SiteIdentity with the scene's identity defaults",
        "bench_wall_s": round(time.perf_counter() - t0, 1),
        "machine": machine(args),
    }
    write_result(result, Path(args.out_dir) / f"accuracy_tracker{args.tag}.json", echo=args.json)
    return cleaned_up(args, work)


def _models_variant(text: str) -> tuple[str, dict[str, dict[str, Any]]]:
    """``NAME=SECTION.KEY:VALUE,...`` (e.g. ``weak=detector.conf:0.1,tracker.new_track_thresh:0.45``;
    ``defaults=`` is the config as it is) → (name, ``models`` overrides)."""
    name, sep, body = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=SECTION.KEY:VALUE,..., got {text!r}")
    over: dict[str, dict[str, Any]] = {}
    for item in filter(None, body.split(",")):
        key, colon, value = item.partition(":")
        section, dot, field = key.partition(".")
        if not colon or not dot or section not in ("detector", "tracker"):
            raise argparse.ArgumentTypeError(
                f"{item!r} in {text!r}: expected detector.KEY:VALUE or tracker.KEY:VALUE"
            )
        over.setdefault(section, {})[field] = _identity_value(value)
    return name, over


def tracker_variants(args: argparse.Namespace, reid: dict[str, Any]) -> int:
    """Detector + tracker variants (``--tracker-variants``): each captured once per seed.

    The best mean global IDF1 on the tuning seeds is chosen (ties: the first listed); the
    held-out seeds are scored with the first variant (the baseline) and the chosen one.
    Writes ``accuracy_tracker_variants<tag>.json``.
    """
    work = work_dir(args)
    t0 = time.perf_counter()
    variants = dict(args.tracker_variants)
    names = list(variants)
    tune = _captured_rows(args.tune_seeds, work, market_split(work, 0), reid, variants)
    means = {k: mean([tune[str(s)][k] for s in args.tune_seeds]) for k in names}
    best = max(names, key=lambda n: (means[n]["global_idf1"] or 0.0, -names.index(n)))
    chosen = {n: variants[n] for n in dict.fromkeys([names[0], best])}
    held = _captured_rows(args.heldout_seeds, work, market_split(work, 1), reid, chosen)
    result = {
        "scenario": "crowded",
        "people": "Market-1501 bounding_box_train: tuning even ids, held-out odd ids",
        "tune_seeds": args.tune_seeds,
        "heldout_seeds": args.heldout_seeds,
        "parameter": "models.detector / models.tracker settings (the first variant: baseline)",
        "variants": variants,
        "defaults": {
            "detector.conf": DetectorConfig().conf,
            **{f"tracker.{k}": v for k, v in TrackerConfig().model_dump().items()},
        },
        "tuning": {"chosen": best, "mean": means, "per_seed": tune},
        "heldout_per_seed": held,
        "heldout_mean": {n: mean([held[str(s)][n] for s in args.heldout_seeds]) for n in chosen},
        "how": "each variant captured through CameraWorker + LocalModels (the detector's boxes"
        " cached per confidence threshold) and replayed through SiteIdentity with the scene's"
        " identity defaults",
        "bench_wall_s": round(time.perf_counter() - t0, 1),
        "machine": machine(args),
    }
    out = Path(args.out_dir) / f"accuracy_tracker_variants{args.tag}.json"
    write_result(result, out, echo=args.json)
    return cleaned_up(args, work)


def _identity_value(text: str) -> Any:
    """A command-line identity value: ``none``/``null`` → None, a number, else the text."""
    if text.lower() in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def identity_sweep(args: argparse.Namespace, reid: dict[str, Any]) -> int:
    """One ``identity`` parameter swept on the tuning seeds, scored on the held-out ones.

    ``--sweep NAME V1 V2 ...``: each value replays the seeds' captured updates (captured
    once per seed, with ``--track-buffer`` when given) with ``identity.NAME`` set, on top
    of ``--identity KEY=VALUE`` settings shared by every variant; a setting of the cameras
    (:data:`CAPTURE_SETTINGS`) is captured once per value instead. The best mean global IDF1
    on the tuning seeds is chosen (ties: the first value listed); the held-out seeds are
    scored once with the config's value and with the chosen one. Writes
    ``accuracy_sweep_<NAME><tag>.json``.
    """
    from mcvision.actors.camera import LocalModels

    work = work_dir(args)
    t0 = time.perf_counter()
    name, values = args.sweep[0], [_identity_value(v) for v in args.sweep[1:]]
    fixed = dict(kv.split("=", 1) for kv in args.identity)
    fixed = {k: _identity_value(v) for k, v in fixed.items()}
    over = {"tracker": {"track_buffer": args.track_buffer}} if args.track_buffer else {}

    def rows(seeds: list[int], parity: int, vals: list[Any]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for seed in seeds:
            scene = work / f"crowded_seed{seed}"
            render(seed, scene, market_split(work, parity), "crowded")
            out[str(seed)] = {}
            for v in vals:
                # a capture-side setting (the embedding cadence) is captured once per value
                o = {**over, "identity": {name: v}} if name in CAPTURE_SETTINGS else over
                cached = (scene / _cache_name(reid, o)).exists()
                models = None if cached else LocalModels(scene_config(scene, reid, o))
                batches = capture(scene, models, reid, o)
                store = work / f"store_sweep_{seed}"
                row = replay(scene, batches, store, reid, **fixed, **{name: v})
                out[str(seed)][f"{name}={v}"] = row
                print(f"seed {seed} {name}={v}: IDF1 {row['global_idf1']:.3f}", file=sys.stderr)
        return out

    tune = rows(args.tune_seeds, 0, values)
    means = {
        f"{name}={v}": mean([tune[str(s)][f"{name}={v}"] for s in args.tune_seeds]) for v in values
    }
    best = max(values, key=lambda v: (means[f"{name}={v}"]["global_idf1"] or 0.0, -values.index(v)))
    scene0 = work / f"crowded_seed{args.tune_seeds[0]}"
    default = getattr(scene_config(scene0, reid).identity.model_copy(update=fixed), name)
    chosen = [default] if default == best else [default, best]
    chosen += [v for v in args.heldout_also if v not in chosen]
    held = rows(args.heldout_seeds, 1, chosen)
    result = {
        "scenario": "crowded",
        "people": "Market-1501 bounding_box_train: tuning even ids, held-out odd ids",
        "tune_seeds": args.tune_seeds,
        "heldout_seeds": args.heldout_seeds,
        "parameter": f"identity.{name}",
        "embedder": ReIDConfig(**reid).model_dump(mode="json"),
        "identity": fixed,
        "tracker": TrackerConfig(**over.get("tracker", {})).model_dump(mode="json"),
        "tuning": {
            "values": values,
            "chosen": best,
            "default": default,
            "mean": means,
            "per_seed": tune,
        },
        "heldout_per_seed": held,
        "heldout_mean": {
            f"{name}={v}": mean([held[str(s)][f"{name}={v}"] for s in args.heldout_seeds])
            for v in chosen
        },
        "how": "captured once per seed through CameraWorker + LocalModels (gating off), each"
        " value replayed through SiteIdentity",
        "bench_wall_s": round(time.perf_counter() - t0, 1),
        "machine": machine(args),
    }
    out = Path(args.out_dir) / f"accuracy_sweep_{name}{args.tag}.json"
    write_result(result, out, echo=args.json)
    return cleaned_up(args, work)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the JSON results")
    ap.add_argument("--tune-seeds", type=int, nargs="+", default=list(TUNE_SEEDS))
    ap.add_argument("--heldout-seeds", type=int, nargs="+", default=list(HELDOUT_SEEDS))
    ap.add_argument(
        "--small-seeds",
        type=int,
        nargs="*",
        default=list(HELDOUT_SEEDS),
        help="small-store seeds (none: skip the small store)",
    )
    ap.add_argument("--thresholds", type=float, nargs="+", default=list(THRESHOLDS))
    ap.add_argument("--work", help="keep renders and captured updates here (reused when present)")
    ap.add_argument("--out-dir", default=str(RESULTS), help="where to write the JSON files")
    ap.add_argument("--ray-seed", type=int, help="also run this held-out crowded seed through Ray")
    ap.add_argument("--reid-backend", help="embedder ablation: models.reid.backend (e.g. openvino)")
    ap.add_argument("--reid-weights", help="embedder ablation: models.reid.weights")
    ap.add_argument("--tag", default="", help="suffix of the JSON names, e.g. _retail0286")
    ap.add_argument(
        "--ray-only",
        type=int,
        metavar="SEED",
        help="only: this held-out crowded seed through Ray and in-process (accuracy_ray.json)",
    )
    ap.add_argument(
        "--match-threshold",
        type=float,
        default=None,
        help="with --ray-only, --geometry, --correction, --pairs (default: the config's, which"
        " follows the embedder)",
    )
    ap.add_argument(
        "--tune-work",
        help="the tuning seeds' renders, when not in --work (e.g. an earlier render"
        " generation; say so with --tune-render-note)",
    )
    ap.add_argument("--tune-render-note", help="recorded: what the tuning renders are")
    ap.add_argument("--render-note", help="recorded: what the held-out renders are")
    ap.add_argument(
        "--pairs",
        action="store_true",
        help="only: full vs +per camera-pair thresholds, identity.pair_fmr swept on the"
        " tuning seeds (accuracy_pairs.json)",
    )
    ap.add_argument("--centred", action="store_true", help="with --pairs: centring in both")
    ap.add_argument(
        "--pair-fmrs",
        type=float,
        nargs="+",
        default=[0.002, 0.01, 0.05, 0.2],
        help="with --pairs: identity.pair_fmr values",
    )
    ap.add_argument(
        "--ablation",
        action="store_true",
        help="only: the README's ablation rows on the held-out seeds (accuracy_ablation.json)",
    )
    ap.add_argument(
        "--centring-threshold", type=float, help="with --ablation: the centred match threshold"
    )
    ap.add_argument("--pair-fmr", type=float, help="with --ablation: identity.pair_fmr")
    ap.add_argument("--rows", nargs="+", help="with --ablation: only these rows")
    ap.add_argument(
        "--centring",
        action="store_true",
        help="only: identity.camera_centring on, threshold swept on the tuning seeds,"
        " reported on the held-out ones (accuracy_centring.json)",
    )
    ap.add_argument(
        "--correction",
        action="store_true",
        help="only: full vs +correction (identity.merge_threshold swept on the tuning"
        " seeds at --match-threshold), accuracy_correction.json",
    )
    ap.add_argument(
        "--merge-thresholds",
        type=float,
        nargs="+",
        default=[0.76, 0.8, 0.84, 0.88],
        help="with --correction",
    )
    ap.add_argument(
        "--correction-window",
        type=float,
        default=60.0,
        help="with --correction: identity.correction_window_s",
    )
    ap.add_argument(
        "--geometry",
        action="store_true",
        help="only: full identity without and with floor geometry on the held-out"
        " seeds, at --match-threshold (accuracy_geometry.json)",
    )
    ap.add_argument(
        "--floor-weights",
        type=float,
        nargs="+",
        help="with --geometry: identity.floor_weight values swept on the tuning seeds",
    )
    ap.add_argument(
        "--track-split-gap",
        type=float,
        default=0.0,
        help="with --geometry: identity.track_split_gap_s in every variant (0: off)",
    )
    ap.add_argument(
        "--segmenters",
        nargs="+",
        choices=sorted(SEGMENTER_VARIANTS),
        help="only: the held-out seeds captured with each segmenter (masked ReID crops),"
        " accuracy_segmenter.json",
    )
    ap.add_argument(
        "--track-buffers",
        type=int,
        nargs="+",
        help="only: models.tracker.track_buffer values swept on the tuning seeds, the best"
        " and the default scored on the held-out ones (accuracy_tracker.json)",
    )
    ap.add_argument(
        "--tracker-variants",
        type=_models_variant,
        nargs="+",
        metavar="NAME=SECTION.KEY:VALUE,...",
        help="only: detector/tracker variants (e.g. 'weak=detector.conf:0.1,"
        "tracker.new_track_thresh:0.45'; the first is the baseline) on the tuning seeds, the"
        " best and the baseline on the held-out ones (accuracy_tracker_variants.json)",
    )
    ap.add_argument(
        "--sweep",
        nargs="+",
        metavar=("NAME", "VALUE"),
        help="only: identity.NAME swept over the values on the tuning seeds, the best and"
        " the config's scored on the held-out ones (accuracy_sweep_NAME.json)",
    )
    ap.add_argument(
        "--identity",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="with --sweep: an identity setting of every variant (repeatable)",
    )
    ap.add_argument(
        "--heldout-also",
        type=_identity_value,
        nargs="+",
        default=[],
        help="with --sweep: values also scored on the held-out seeds (e.g. the feature off)",
    )
    ap.add_argument(
        "--track-buffer", type=int, help="with --sweep: models.tracker.track_buffer of the captures"
    )
    ap.add_argument(
        "--matting",
        choices=["feather", "seg", "seg+sam"],
        help="with --segmenters: the renders' person mattes (use another --work)",
    )
    ap.add_argument(
        "--shared",
        action="store_true",
        help="record that other work shared the machine during the run",
    )
    args = ap.parse_args(argv)
    reid = {k: v for k, v in (("backend", args.reid_backend), ("weights", args.reid_weights)) if v}
    if args.sweep:
        if len(args.sweep) < 2:
            ap.error("--sweep needs a parameter name and at least one value")
        if any(kv.split("=", 1)[0] == args.sweep[0] for kv in args.identity):
            ap.error(f"--identity sets {args.sweep[0]}, the parameter --sweep varies")
        return identity_sweep(args, reid)
    if args.ablation:
        return ablation(args)
    if args.pairs:
        return pairs(args, reid)
    if args.correction:
        return correction(args, reid)
    if args.ray_only is not None:
        return ray_only(args, reid)
    if args.centring:
        return centring(args, reid)
    if args.geometry:
        return geometry(args, reid)
    if args.segmenters:
        return segmenters(args, reid)
    if args.track_buffers:
        return track_buffers(args, reid)
    if args.tracker_variants:
        return tracker_variants(args, reid)

    work = work_dir(args)
    out_dir = Path(args.out_dir)
    state: dict[str, Any] = {}
    t_all = time.perf_counter()
    tune_people = market_split(work, 0)
    held_people = market_split(work, 1)
    market = "Market-1501 bounding_box_train (real per-camera crops), {} person ids"

    # 1. tuning seeds: the threshold sweep (full variant) and the ablations at the chosen value
    sweep_variants = {f"full@{t:g}": {"match_threshold": t} for t in args.thresholds}
    sweep, renders, timing = run_seeds(
        args.tune_seeds, work, "crowded", lambda _s: tune_people, sweep_variants, state, reid
    )
    sweep_mean = {n: mean([sweep[str(s)][n] for s in args.tune_seeds]) for n in sweep_variants}
    best = max(args.thresholds, key=lambda t: (sweep_mean[f"full@{t:g}"]["global_idf1"] or 0.0, -t))
    chosen = {n: {**v, "match_threshold": best} for n, v in VARIANTS.items()}
    others = {n: v for n, v in chosen.items() if n != "full"}  # full@best was run in the sweep
    tune_rows, _, tune_timing = run_seeds(
        args.tune_seeds, work, "crowded", lambda _s: tune_people, others, state, reid
    )
    for seed in args.tune_seeds:
        tune_rows[str(seed)]["full"] = sweep[str(seed)][f"full@{best:g}"]
    tuning = {
        "parameter": "identity.match_threshold",
        "values": args.thresholds,
        "chosen": best,
        "criterion": "best mean global IDF1 of the full variant on the tuning seeds",
        "mean": {f"{t:g}": sweep_mean[f"full@{t:g}"] for t in args.thresholds},
    }
    results = {
        "accuracy.json": _result(
            "crowded",
            market.format("even"),
            "tuning",
            args.tune_seeds,
            chosen,
            tune_rows,
            renders,
            {"sweep": timing, "variants": tune_timing},
            tuning=tuning,
        )
    }
    # 2. held-out seeds and people, scored once with the chosen settings
    held, held_renders, held_timing = run_seeds(
        args.heldout_seeds, work, "crowded", lambda _s: held_people, chosen, state, reid
    )
    extra: dict[str, Any] = {
        "tuned_on": {"seeds": args.tune_seeds, "people": "even ids", "match_threshold": best}
    }
    if args.ray_seed is not None:
        scene = work / f"crowded_seed{args.ray_seed}"
        render(args.ray_seed, scene, held_people, "crowded")
        extra["ray_full"] = {
            "seed": args.ray_seed,
            "match_threshold": best,
            **ray_eval(scene, work, reid, match_threshold=best),
        }
    results["accuracy_heldout.json"] = _result(
        "crowded",
        market.format("odd"),
        "held-out",
        args.heldout_seeds,
        chosen,
        held,
        held_renders,
        held_timing,
        **extra,
    )
    # 3. the small store, config defaults, for continuity
    if args.small_seeds:
        mot = _asset("footage", "MOT17-mini")
        small, small_renders, small_timing = run_seeds(
            args.small_seeds, work, "small", lambda _s: mot, VARIANTS, state, reid
        )
        results["accuracy_small.json"] = _result(
            "small",
            "MOT17-mini (the same cut-out on every camera)",
            "held-out seeds, defaults",
            args.small_seeds,
            VARIANTS,
            small,
            small_renders,
            small_timing,
        )
    total = round(time.perf_counter() - t_all, 1)
    embedder = scene_config(work / f"crowded_seed{args.tune_seeds[0]}", reid).models.reid
    for name, result in results.items():
        result["bench_wall_s"] = total
        result["embedder"] = {"backend": embedder.backend, "weights": embedder.weights}
        write_result(result, out_dir / name.replace(".json", f"{args.tag}.json"), echo=args.json)
    return cleaned_up(args, work)


if __name__ == "__main__":
    raise SystemExit(main())
