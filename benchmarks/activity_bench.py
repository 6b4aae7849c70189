"""Activity benchmark: labelled real clips (``--clips``), or walking vs standing on the simulator.

Usage::

    python benchmarks/activity_bench.py --clips CLIPS_DIR [--labels CSV] --work W --json
    python benchmarks/activity_bench.py --json                    # simulator, seeds 0 1 2
    python benchmarks/activity_bench.py --json --seeds 3 4 --work /tmp/act

**Real clips** (``--clips DIR``, see ``_activity_clips.py`` for the scoring): any folder
of clips with a ``labels.csv`` (``clip,start_s,end_s,label``; or ``--labels CSV``, e.g.
``benchmarks/labels/upfall_subject1.csv`` for the UP-Fall subject-1 clips). The pose
model runs once per clip (keypoints cached in ``--work``); every classifier variant
(rules, each learned model alone, hybrid and its tuning grid) replays the cached
keypoints. Variants are tuned on the ``trial1`` clips and reported on ``trial2``.
Writes ``benchmarks/results/activity_clips.json``.

**Simulator** (no ``--clips``):

Each seed renders a one-camera store (the default store's entrance camera with two
zones; shoppers walk in, dwell at one or two zones and leave; a member of staff walks
between the zones and dwells) with the assets' MOT17-mini people, runs it through
:class:`~mcvision.actors.camera.CameraWorker` with in-process models and
``activity.enabled: true`` (detector → ByteTrack → :class:`ActivityMonitor`), and
scores the labels on the tracklet updates:

* truth: :func:`mcvision.sim.truth.activity_truth` — per person, camera and second,
  ``walking`` (moving along the route) or ``standing`` (dwelling); seconds in which a
  dwell starts or ends are left out;
* matching: each local track's foot points go through
  :func:`mcvision.evaluate.metrics.tracking_metrics` (motmetrics), which maps every
  track to the person it matched most; a frame counts for that person only when the
  track's foot is within ``max_dist`` box heights of theirs;
* prediction for a second: the majority of the matched frames' labels in it
  (every label but ``walking`` counts as standing: without pose the rules give only
  ``walking``, ``standing`` and box-shape ``fallen``);
* scores: confusion matrix (rows: truth), per-class recall, balanced accuracy (mean
  recall), coverage (truth seconds with a prediction); ``strict`` compares each truth
  second with the labels of the same second, ``aligned`` with the labels
  ``activity.min_label_s`` (2 s) later — an online label describes the window just
  before it and the smoother holds a change back that long, so ``strict`` mixes the
  labels' latency into their accuracy on these short (3-6 s) dwells and walks.

Ablations replay the captured boxes through :class:`ActivityMonitor` with other
thresholds (no detection rerun): ``speed_only`` (the depth cue off) beside the
defaults, so the gain of ``walk_depth_rate`` is measured on the same tracks.

Writes the JSON to stdout (``--json``) and to ``benchmarks/results/activity.json``.
"""

from __future__ import annotations

import argparse
import os
import pickle
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import mcvision  # noqa: E402, F401  (applies the thread/offline environment first)
from mcvision.config import ActivityConfig, SiteConfig, load_config  # noqa: E402
from mcvision.sim.scenario import OUTSIDE, DoorSpec, Scenario, ZoneSpec  # noqa: E402
from mcvision.sim.truth import GroundTruth, activity_truth  # noqa: E402
from mcvision.types import Detections, TrackletUpdate  # noqa: E402
from mcvision.vision.weights import assets_dir  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_result  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "activity.json"
START_TS = 1_764_000_000.0  # epoch seconds of every render's first frame
CLASSES = ("walking", "standing")
#: Threshold overrides replayed on the captured boxes (name -> activity.thresholds).
ABLATIONS: dict[str, dict[str, float]] = {
    "speed_only": {"walk_depth_rate": 1e9},
    "defaults": {},
}


def people_dir() -> Path:
    root = assets_dir()
    if root is None or not (root / "footage" / "MOT17-mini").is_dir():
        raise SystemExit("MOT17-mini not found: set MCVISION_ASSETS to the assets folder")
    return root / "footage" / "MOT17-mini"


def scenario(duration_s: float = 40.0, fps: float = 5.0, shoppers: int = 3) -> Scenario:
    """One camera: the small store's entrance camera with a second zone and the street door only.

    Shoppers arrive in the first third, dwell 3-6 s at one or two zones and leave; one
    member of staff walks from zone to zone and dwells there throughout.
    """
    from mcvision.sim.scenario import small_scenario

    base = small_scenario()
    cam = base.cameras[0].model_copy(
        update={
            "doors": [DoorSpec(to=OUTSIDE, point=(0.04, 0.82))],
            "zones": [
                ZoneSpec(
                    name="checkout",
                    polygon=[(0.45, 0.55), (0.7, 0.55), (0.7, 0.92), (0.45, 0.92)],
                    dwell_s=(3.0, 6.0),
                ),
                ZoneSpec(
                    name="display",
                    polygon=[(0.78, 0.5), (0.96, 0.5), (0.96, 0.8), (0.78, 0.8)],
                    dwell_s=(3.0, 6.0),
                ),
            ],
        }
    )
    pop = base.population.model_copy(
        update={
            "shoppers": shoppers,
            "staff": 1,
            "returning": 0,
            "zones_per_visit": (1, 2),
            "arrivals_s": (1.0, max(2.0, duration_s / 3)),
        }
    )
    return base.model_copy(
        update={
            "site_id": "actstore",
            "cameras": [cam],
            "transits": [],
            "population": pop,
            "duration_s": float(duration_s),
            "fps": float(fps),
        }
    )


def render(seed: int, scene: Path, sc: Scenario | None = None) -> None:
    """Render the scenario for ``seed`` into ``scene`` (kept when already there)."""
    from mcvision.sim.render import run_sim

    if (scene / "site.yaml").exists() and (scene / "ground_truth.json").exists():
        return
    run_sim([people_dir()], scene, seed=seed, scenario=sc or scenario(), check_detector=False)


def site(scene: Path, **thresholds: float) -> SiteConfig:
    """The render's site config with ``activity`` on (and threshold overrides).

    Motion gating is off, as when ``activity.json`` was measured: every frame is detected.
    """
    cfg = load_config(scene / "site.yaml")
    act = ActivityConfig.model_validate(
        {
            **cfg.activity.model_dump(),
            "enabled": True,
            "thresholds": {**cfg.activity.thresholds.model_dump(), **thresholds},
        }
    )
    gating = cfg.gating.model_copy(update={"enabled": False})
    return cfg.model_copy(update={"activity": act, "gating": gating})


def capture(scene: Path, models: Any) -> list[TrackletUpdate]:
    """The scene's camera through CameraWorker (activity on); its non-ended updates."""
    from mcvision.actors.camera import BufferSink, CameraWorker

    cache = scene / "activity_updates.pkl"
    if cache.exists():
        with cache.open("rb") as f:
            return pickle.load(f)
    cfg = site(scene)
    out: list[TrackletUpdate] = []
    for cam in cfg.cameras:
        sink = BufferSink()
        CameraWorker(cfg, cam.id, models, sink, start_ts=START_TS).run()
        out += [u for u in sink.all_updates if not u.ended]
    with cache.open("wb") as f:
        pickle.dump(out, f)
    return out


def relabel(updates: Sequence[TrackletUpdate], activity: ActivityConfig) -> list[TrackletUpdate]:
    """Copies of ``updates`` labelled anew by an :class:`ActivityMonitor` per camera."""
    from dataclasses import replace

    from mcvision.vision.activity import ActivityMonitor

    frames: dict[tuple[str, float], list[TrackletUpdate]] = defaultdict(list)
    for u in updates:
        frames[(u.camera_id, u.ts)].append(replace(u, activity=None))
    monitors: dict[str, ActivityMonitor] = {}
    out: list[TrackletUpdate] = []
    for (cam, ts), ups in sorted(frames.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        mon = monitors.setdefault(cam, ActivityMonitor.from_config(activity))
        dets = Detections(
            xyxy=np.stack([u.box for u in ups]).astype(np.float32),
            tracker_id=np.array([u.local_id for u in ups]),
        )
        mon.label_updates(ts, ups, dets)
        out += ups
    return out


def score(
    gt: GroundTruth,
    updates: Sequence[TrackletUpdate],
    start_ts: float = START_TS,
    *,
    max_dist: float = 0.5,
    lag_s: float = 0.0,
) -> dict[str, Any]:
    """Walking-vs-standing confusion, recall and balanced accuracy of labelled updates.

    ``lag_s``: compare truth second ``k`` with the labels of ``[k + lag_s, k + 1 + lag_s)``
    (an online label describes the window just before it, and smoothing delays changes).
    """
    from mcvision.evaluate.metrics import tracking_metrics

    truth = activity_truth(gt)
    n_frames = {c.id: c.frames for c in gt.cameras}
    preds: dict[tuple[str, int], list[tuple[str, float, float]]] = defaultdict(list)
    rows = []
    for u in updates:
        i = round((u.ts - start_ts) * gt.fps)
        if u.camera_id not in n_frames or not 0 <= i < n_frames[u.camera_id]:
            continue
        key = f"{u.camera_id}#{u.local_id}"
        preds[(u.camera_id, i)].append((key, float(u.foot[0]), float(u.foot[1])))
        rows.append((key, u.camera_id, i, u))
    id_map = tracking_metrics(gt, preds, max_dist=max_dist).id_map
    votes: dict[tuple[str, str, int], Counter[str]] = defaultdict(Counter)
    for key, cam, i, u in rows:
        pid = id_map.get(key)
        if pid is None or u.activity is None:
            continue
        g = next((b for b in gt.frames[cam][i] if b.id == pid), None)
        if g is None:
            continue
        h = max(g.box[3] - g.box[1], 1.0)
        if np.hypot(u.foot[0] - g.foot[0], u.foot[1] - g.foot[1]) > max_dist * h:
            continue
        lab = "walking" if u.activity == "walking" else "standing"
        votes[(pid, cam, int(np.floor(i / gt.fps - lag_s + 1e-9)))][lab] += 1
    confusion = {t: dict.fromkeys(CLASSES, 0) for t in CLASSES}
    for k, t in truth.items():
        if k in votes:
            v = votes[k]
            confusion[t][max(CLASSES, key=lambda c: (v[c], c == "standing"))] += 1
    recall = {
        t: round(confusion[t][t] / n, 4) if (n := sum(confusion[t].values())) else None
        for t in CLASSES
    }
    rs = [r for r in recall.values() if r is not None]
    scored = sum(sum(r.values()) for r in confusion.values())
    return {
        "confusion": confusion,
        "recall": recall,
        "balanced_accuracy": round(statistics.fmean(rs), 4) if len(rs) == len(CLASSES) else None,
        "accuracy": round(sum(confusion[t][t] for t in CLASSES) / scored, 4) if scored else None,
        "truth_seconds": dict(Counter(truth.values())),
        "scored_seconds": scored,
        "coverage": round(scored / len(truth), 4) if truth else None,
    }


def scores(gt: GroundTruth, updates: Sequence[TrackletUpdate], lag_s: float) -> dict[str, Any]:
    """``strict`` (labels of the same second) and ``aligned`` (labels ``lag_s`` later)."""
    return {"strict": score(gt, updates), "aligned": score(gt, updates, lag_s=lag_s)}


def evaluate_scene(scene: Path, models: Any) -> dict[str, Any]:
    """Capture (CameraWorker labels) plus the ablations replayed on the same boxes.

    ``aligned`` compares with the labels ``activity.min_label_s`` later: the smoother's
    delay, the latency of every label change.
    """
    from mcvision.sim.truth import load_ground_truth

    gt = load_ground_truth(scene / "ground_truth.json")
    updates = capture(scene, models)
    base = site(scene).activity
    out = {"camera_worker": scores(gt, updates, base.min_label_s)}
    for name, th in ABLATIONS.items():
        act = ActivityConfig.model_validate(
            {**base.model_dump(), "thresholds": {**base.thresholds.model_dump(), **th}}
        )
        out[name] = scores(gt, relabel(updates, act), base.min_label_s)
    return out


CLIPS_RESULTS = ROOT / "benchmarks" / "results" / "activity_clips.json"
#: hybrid tuning grid (tuned on trial 1): fall_p, fall_window_s, posture span_s
HYBRID_GRID = [
    {"fall_p": fp, "fall_window_s": fw, "posture_span_s": ps}
    for fp in (0.5, 0.7, 0.85)
    for fw in (3.0, 5.0)
    for ps in (1.0, 2.0)
]


def clip_variants() -> dict[str, Any]:
    """name -> (factory of a fresh ActivityMonitor, the classifier) per variant."""
    from mcvision.vision.activity import (
        ActivityMonitor,
        HybridClassifier,
        NFDClassifier,
        PostureClassifier,
        RuleClassifier,
        StandingFallClassifier,
    )
    from mcvision.vision.activity.learned import NFDHead, PostureLSTM, StandingFallHead

    posture = {1.0: PostureLSTM(span_s=1.0), 2.0: PostureLSTM(span_s=2.0)}
    fall = StandingFallHead()
    out: dict[str, Any] = {
        "rules": RuleClassifier(),
        "posture_lstm": PostureClassifier(model=posture[1.0]),
        "standing_fall": StandingFallClassifier(model=fall),
        "nfd_fall": NFDClassifier(model=NFDHead()),
        "nfd_fall_18fps": NFDClassifier(model=NFDHead(fps=18.0)),
    }
    for g in HYBRID_GRID:
        name = f"hybrid(fall_p={g['fall_p']},fall_window_s={g['fall_window_s']},posture_span_s={g['posture_span_s']})"
        out[name] = HybridClassifier(
            posture=posture[g["posture_span_s"]],
            fall=fall,
            fall_p=g["fall_p"],
            fall_window_s=g["fall_window_s"],
        )
    return {k: ((lambda c=c: ActivityMonitor(c)), c) for k, c in out.items()}


def _objective(r: dict[str, Any]) -> tuple[float, float]:
    """Tuning order: fall alerts (recall - false-alert rate), then balanced accuracy."""
    fa = r["fall_alerts"]
    bal = r["per_second"]["stored"]["balanced_accuracy_walk_stand_sit"] or 0.0
    return ((fa["recall"] or 0.0) - len(fa["false_alert_clips"]) / 10.0, bal)


def _shown(path: str) -> str:
    """A path relative to the repository when inside it, else its name."""
    p = Path(path).resolve()
    return str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else p.name


def run_clips(args: argparse.Namespace) -> int:
    """The real-clip benchmark (see the module doc)."""
    import _activity_clips as ac

    clips_dir = Path(args.clips)
    work = Path(args.work) if args.work else Path(tempfile.gettempdir()) / "mcv-activity-pose"
    t0 = time.perf_counter()
    rows, obs, dur, pose_s = ac.load_clips(
        clips_dir, Path(args.labels) if args.labels else None, work, args.step, args.max_clip_s
    )
    t_load = time.perf_counter() - t0
    variants = clip_variants()
    splits = {sp: [c for c in rows if ac.split_of(c) == sp] for sp in ("trial1", "trial2")}
    if not all(splits.values()):
        splits = {"all": list(rows)}
    per_variant: dict[str, Any] = {}
    for name, (make, clf) in variants.items():
        t1 = time.perf_counter()
        replays = {c: ac.replay(obs[c], make, dur[c]) for c in rows}
        res = {
            sp: ac.score_clips({c: (rows[c], replays[c]) for c in cs}) for sp, cs in splits.items()
        }
        res["all"] = ac.score_clips({c: (rows[c], replays[c]) for c in rows})
        longest = max(obs, key=lambda c: len(obs[c]))
        res["cost"] = ac.batch_cost(clf, obs[longest])
        per_variant[name] = res
        print(
            f"{name}: {time.perf_counter() - t1:.1f}s; all: bal "
            f"{res['all']['per_second']['stored']['balanced_accuracy_walk_stand_sit']} "
            f"falls {res['all']['fall_alerts']['alerted_within_s']}/{res['all']['fall_alerts']['fall_clips']}"
            f" false {len(res['all']['fall_alerts']['false_alert_clips'])}"
            f" bend {res['all']['pickup_clips_with_bending']}/{res['all']['pickup_clips']}",
            file=sys.stderr,
            flush=True,
        )
    tune, report = ("trial1", "trial2") if "trial1" in splits else ("all", "all")
    hybrids = [k for k in per_variant if k.startswith("hybrid(")]
    best = max(hybrids, key=lambda k: _objective(per_variant[k][tune]))
    headline = ["rules", "posture_lstm", "standing_fall", "nfd_fall", best]

    def row(name: str, split: str) -> dict[str, Any]:
        r = per_variant[name][split]
        ps, fa = r["per_second"]["stored"], r["fall_alerts"]
        return {
            "variant": name,
            "balanced_accuracy_walk_stand_sit": ps["balanced_accuracy_walk_stand_sit"],
            "recall": ps["recall"],
            "fall_alert_recall_within_3s": fa["recall"],
            "fall_alert_precision": fa["precision"],
            "time_to_alert_mean_s": fa["time_to_alert_s"]["mean"],
            "time_to_alert_max_s": fa["time_to_alert_s"]["max"],
            "false_alert_clips": fa["false_alert_clips"],
            "fall_clips_last_3s_fallen": f"{r['fall_clips_last_3s_fallen']}/{fa['fall_clips']}",
            "pickup_clips_with_bending": f"{r['pickup_clips_with_bending']}/{r['pickup_clips']}",
            "classify_ms_per_track_second": r["classify_ms_per_track_second"],
            "cost": per_variant[name]["cost"],
        }

    result: dict[str, Any] = {
        "clips": clips_dir.name,
        "labels": _shown(args.labels) if args.labels else "labels.csv in the clips folder",
        "clip_counts": ac.counts(rows),
        "frames": f"every {args.step}th frame of each clip"
        + (f", first {args.max_clip_s:g} s" if args.max_clip_s else "")
        + " (pose model on the whole frame; main subject = the tallest person when"
        " first seen, followed over frames)",
        "tuned_on": tune,
        "reported_on": report,
        "hybrid_grid": HYBRID_GRID,
        "chosen_hybrid": best,
        "headline": {
            sp: [row(n, sp) for n in headline] for sp in (report, "all") if sp in per_variant[best]
        },
        "per_variant": per_variant,
        "pose_seconds_spent": round(pose_s, 1),
        "load_s": round(t_load, 1),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "note": "2 CPU cores shared with other jobs: costs are indicative",
        },
    }
    write_result(result, args.out if args.out != str(RESULTS) else CLIPS_RESULTS, echo=args.json)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--clips", help="a folder of labelled clips (labels.csv): the real-clip benchmark"
    )
    ap.add_argument("--labels", help="the clips' labels CSV (default: CLIPS/labels.csv)")
    ap.add_argument("--step", type=int, default=2, help="--clips: run every STEP-th frame")
    ap.add_argument(
        "--max-clip-s",
        type=float,
        default=None,
        help="--clips: score only each clip's first seconds (pose runs on them only)",
    )
    ap.add_argument("--json", action="store_true", help="print the JSON result")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--tuned-on", type=int, default=0, help="the seed thresholds were tuned on")
    ap.add_argument("--duration", type=float, default=40.0, help="seconds per scene")
    ap.add_argument("--fps", type=float, default=5.0)
    ap.add_argument("--shoppers", type=int, default=3)
    ap.add_argument("--work", help="keep renders / captured updates / clip keypoints here (reused)")
    ap.add_argument("--out", default=str(RESULTS), help="where to write the JSON")
    args = ap.parse_args(argv)
    if args.clips:
        return run_clips(args)

    from mcvision.actors.camera import LocalModels

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="mcv-act-"))
    work.mkdir(parents=True, exist_ok=True)
    sc = scenario(args.duration, args.fps, args.shoppers)
    models = None
    per_seed: dict[str, Any] = {}
    timing: dict[str, Any] = {}
    for seed in args.seeds:
        scene = work / f"seed{seed}"
        t0 = time.perf_counter()
        render(seed, scene, sc)
        t1 = time.perf_counter()
        if models is None and not (scene / "activity_updates.pkl").exists():
            models = LocalModels(site(scene))
        per_seed[str(seed)] = evaluate_scene(scene, models)
        timing[f"seed{seed}"] = {
            "render_s": round(t1 - t0, 1),
            "run_and_score_s": round(time.perf_counter() - t1, 1),
        }
        r = per_seed[str(seed)]["camera_worker"]
        print(
            f"seed {seed}: balanced accuracy {r['aligned']['balanced_accuracy']} (strict"
            f" {r['strict']['balanced_accuracy']}), recall {r['aligned']['recall']}",
            file=sys.stderr,
            flush=True,
        )
    held_out = [s for s in args.seeds if s != args.tuned_on]
    variants = ["camera_worker", *ABLATIONS]

    def mean_ba(seeds: list[int], variant: str, kind: str) -> float | None:
        vals = [per_seed[str(s)][variant][kind]["balanced_accuracy"] for s in seeds]
        vals = [v for v in vals if v is not None]
        return round(statistics.fmean(vals), 4) if vals else None

    from mcvision.vision.activity import Thresholds

    result: dict[str, Any] = {
        "scenario": "one camera (default entrance camera, zones checkout + display), "
        f"{args.duration:g} s at {args.fps:g} fps, {args.shoppers} shoppers + 1 staff",
        "people": "MOT17-mini",
        "seeds": args.seeds,
        "tuned_on_seed": args.tuned_on,
        "held_out_seeds": held_out,
        "thresholds": Thresholds().__dict__,
        "ablations": ABLATIONS,
        "per_seed": per_seed,
        "latency_s": ActivityConfig().min_label_s,
        "balanced_accuracy_held_out": {
            k: {v: mean_ba(held_out, v, k) for v in variants} for k in ("aligned", "strict")
        },
        "balanced_accuracy_all": {
            k: {v: mean_ba(args.seeds, v, k) for v in variants} for k in ("aligned", "strict")
        },
        "how": "in-process CameraWorker + LocalModels (no pose), activity.enabled; tracks "
        "matched to truth people with evaluate.metrics.tracking_metrics",
        "timing_s": timing,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
    }
    write_result(result, args.out, echo=args.json)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
