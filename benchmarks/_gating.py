"""``pipeline_bench.py --gating``: motion gating against ungated runs and the bare detector.

Two scenes, each run three ways in this one process, one after the other, on the same
frames: ``limit`` (bare :meth:`PersonDetector.detect` over every sampled frame, batches
of ``runtime.frames_per_batch``, frames decoded beforehand), ``ungated`` and ``gated``
(:class:`~mcvision.actors.camera.CameraWorker` with in-process models, decoding its own
frames, gating off / on). Camera-frames/s count every sampled frame a camera handled
(detected or skipped with a reason).

* **footage, half empty**: the footage clip has people in view about three quarters of
  the time and its empty moments are short (the tracker's lost-track buffer spans them),
  so it is made half empty honestly: the first empty stretch of the clip itself (the
  same camera's empty scene) is looped into each of the clip's empty moments until
  people are in view about half the sampled frames. Both runs' updates go through
  :class:`SiteIdentity`; the gated visits are compared with the ungated ones (count,
  in/out of matched visits).
* **crowded simulated store**: a rendered crowded scenario (three cameras, ground truth),
  both runs replayed through :class:`SiteIdentity` and scored with
  :func:`mcvision.evaluate.score.evaluate` (global IDF1, visitor count, in/out MAE,
  zone dwell error).
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mcvision.config import SiteConfig, load_config, parse_config

T0 = 1_764_000_000.0
FOOTAGE = "footage/one-by-one-person-detection.mp4"


def with_gating(cfg: SiteConfig, enabled: bool, **gating: Any) -> SiteConfig:
    """``cfg`` with the site's gating block switched on/off (and fields overridden)."""
    return cfg.model_copy(
        update={"gating": cfg.gating.model_copy(update={"enabled": enabled, **gating})}
    )


def with_storage(cfg: SiteConfig, root: Path) -> SiteConfig:
    return cfg.model_copy(update={"storage": cfg.storage.model_copy(update={"root": str(root)})})


def presence(detector: Any, path: Path, fps: float, imgsz: int) -> tuple[list[int], float]:
    """People the detector finds per sampled frame of ``path``, and the native fps."""
    from mcvision.actors.camera import shrink
    from mcvision.capture.source import FrameSampler

    cap = cv2.VideoCapture(str(path))
    native = cap.get(cv2.CAP_PROP_FPS) or fps
    sampler = FrameSampler(fps)
    counts: list[int] = []
    i = -1
    while True:
        ok, img = cap.read()
        if not ok:
            break
        i += 1
        if sampler.keep(i / native):
            counts.append(len(detector.detect([shrink(img, imgsz)[0]])[0]))
    cap.release()
    return counts, native


def half_empty_clip(
    footage: Path, out: Path, detector: Any, fps: float, imgsz: int, target: float = 0.5
) -> dict[str, Any]:
    """Write the half-empty footage (see the module doc) to ``out``; what was done."""
    counts, native = presence(detector, footage, fps, imgsz)
    step = native / fps  # native frames per sampled frame
    empty = [c == 0 for c in counts]
    runs: list[tuple[int, int]] = []  # empty stretches, sampled-frame indices [a, b)
    a = None
    for i, e in enumerate([*empty, False]):
        if e and a is None:
            a = i
        elif not e and a is not None:
            runs.append((a, i))
            a = None
    if not runs or runs[0][0] != 0:
        raise SystemExit("the footage does not start empty: no empty scene to loop")
    filler_n = int(runs[0][1] * step)  # native frames of the first empty stretch
    seen = sum(not e for e in empty)
    need_s = max(0.0, seen / target - len(counts)) / fps  # empty seconds to add
    spots = [(x + y) // 2 for x, y in runs[1:]]  # middle of each later empty moment
    if counts and counts[-1] > 0:
        spots.append(len(counts))
    spots = spots or [len(counts)]
    per_spot = round(need_s * native / len(spots))
    cap = cv2.VideoCapture(str(footage))
    frames = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    cap.release()
    h, w = frames[0].shape[:2]
    filler = frames[:filler_n] + frames[:filler_n][::-1]  # ping-pong: no jump at the seam
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), native, (w, h))
    cut = {round(s * step) for s in spots}
    added = 0
    for i, img in enumerate([*frames, None]):
        if i in cut:
            for k in range(per_spot):
                writer.write(filler[k % len(filler)])
            added += per_spot
        if img is not None:
            writer.write(img)
    writer.release()
    total = len(frames) + added
    return {
        "source": FOOTAGE,
        "construction": "the clip's own first empty stretch (same camera, nobody in view) "
        f"looped into its {len(spots)} empty moments",
        "people_in_view_original": round(seen / len(counts), 3),
        "people_in_view_target": target,
        "added_empty_s": round(added / native, 1),
        "length_s": round(total / native, 1),
    }


def run_camera(cfg: SiteConfig, camera_id: str, models: Any) -> dict[str, Any]:
    """One camera through :class:`CameraWorker`: its update batches, stats and wall time."""
    from mcvision.actors.camera import BufferSink, CameraWorker

    sink = BufferSink()
    worker = CameraWorker(cfg, camera_id, models, sink, start_ts=T0)
    t0 = time.perf_counter()
    stats = worker.run()
    wall = time.perf_counter() - t0
    return {
        "batches": sink.batches,
        "stats": sink.last_stats,
        "wall_s": wall,
        "status": stats.status,
    }


def run_site(cfg: SiteConfig, models: Any) -> dict[str, Any]:
    """Every camera of the site, one after the other; totals and per-camera stats."""
    runs = {c.id: run_camera(cfg, c.id, models) for c in cfg.cameras}
    read = sum(r["stats"]["frames_read"] for r in runs.values())
    wall = sum(r["wall_s"] for r in runs.values())
    processed = sum(r["stats"]["frames"] for r in runs.values())
    skipped: dict[str, int] = {}
    by_reason: dict[str, int] = {}
    for r in runs.values():
        for k, v in r["stats"]["skipped"].items():
            skipped[k] = skipped.get(k, 0) + v
        for k, v in r["stats"]["processed"].items():
            by_reason[k] = by_reason.get(k, 0) + v
    return {
        "frames_read": read,
        "frames_detected": processed,
        "processed": by_reason,
        "skipped": skipped,
        "accounted": read == processed + sum(skipped.values()),
        "wall_s": round(wall, 2),
        "fps": round(read / max(wall, 1e-9), 2),
        "detected_fraction": round(processed / max(read, 1), 3),
        "batches": {k: r["batches"] for k, r in runs.items()},
    }


def limit(cfg: SiteConfig, detector: Any, max_frames: int | None = None) -> dict[str, Any]:
    """Bare detector frames/s over every sampled frame (decoded and shrunk beforehand), or
    over the first ``max_frames`` of them spread over the cameras."""
    from mcvision.actors.camera import shrink
    from mcvision.capture.source import open_source

    frames = []
    per_cam = None if max_frames is None else max(1, max_frames // len(cfg.cameras))
    for cam in cfg.cameras:
        src = open_source(cam, start_ts=T0)
        for f in src.frames():
            frames.append(shrink(f.image, cfg.models.detector.imgsz)[0])
            if per_cam is not None and len(frames) % per_cam == 0:
                break
        src.stop()
    batch = cfg.runtime.frames_per_batch
    detector.detect(frames[:2])
    t0 = time.perf_counter()
    for i in range(0, len(frames), batch):
        detector.detect(frames[i : i + batch])
    wall = time.perf_counter() - t0
    return {
        "frames": len(frames),
        "wall_s": round(wall, 2),
        "fps": round(len(frames) / max(wall, 1e-9), 2),
        "batch": batch,
    }


def replay_visits(cfg: SiteConfig, batches: dict[str, list[list[Any]]], store: Path) -> list[Any]:
    """The updates through :class:`SiteIdentity` (arrival order); the closed visits."""
    from mcvision.identity.site import SiteIdentity

    shutil.rmtree(store, ignore_errors=True)
    core = SiteIdentity(with_storage(cfg, store))
    latest: dict[str, Any] = {}

    def keep(rec: Any) -> None:
        for v in rec.visits:
            latest[v.visit_id] = v

    ordered = sorted((b for bs in batches.values() for b in bs if b), key=lambda b: b[0].ts)
    for b in ordered:
        keep(core.ingest(b))
        keep(core.tick(b[-1].ts, flush=False))
    keep(core.close())
    return sorted((v for v in latest.values() if v.closed), key=lambda v: v.in_ts)


def compare_visits(ref: list[Any], other: list[Any]) -> dict[str, Any]:
    """Count and in/out differences of ``other`` against ``ref`` (visits paired in order)."""
    pairs = list(zip(ref, other, strict=False))
    d_in = [abs(a.in_ts - b.in_ts) for a, b in pairs]
    d_out = [abs(a.out_ts - b.out_ts) for a, b in pairs]
    return {
        "visits_ungated": len(ref),
        "visits_gated": len(other),
        "count_equal": len(ref) == len(other),
        "in_abs_diff_s_max": round(max(d_in), 3) if d_in else None,
        "out_abs_diff_s_max": round(max(d_out), 3) if d_out else None,
        "in_abs_diff_s_mean": round(float(np.mean(d_in)), 3) if d_in else None,
        "out_abs_diff_s_mean": round(float(np.mean(d_out)), 3) if d_out else None,
        "within_1s": bool(d_in and max(d_in) <= 1.0 and max(d_out) <= 1.0),
    }


def _strip(run: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in run.items() if k != "batches"}


def footage_scene(work: Path, models: Any, fps: float, gating: dict[str, Any]) -> dict[str, Any]:
    """The half-empty footage: limit, ungated, gated; visits compared."""
    from mcvision.vision.weights import assets_dir

    assets = assets_dir()
    if assets is None or not (assets / FOOTAGE).exists():
        raise SystemExit("assets not found: set MCVISION_ASSETS (needs models/ and footage/)")
    work.mkdir(parents=True, exist_ok=True)
    clip = work / "half_empty.mp4"
    base = parse_config(
        {
            "site_id": "gatebench",
            "cameras": [{"id": "cam0", "source": str(clip), "fps": fps}],
            "storage": {"root": str(work / "store")},
        }
    )
    scene = half_empty_clip(
        assets / FOOTAGE, clip, models.detector, fps, base.models.detector.imgsz
    )
    out: dict[str, Any] = {"scene": scene, "limit": limit(base, models.detector)}
    ungated = run_site(with_gating(base, False), models)
    gated = run_site(with_gating(base, True, **gating), models)
    scene["people_in_view_constructed"] = round(
        _frames_with_people(ungated["batches"]) / max(ungated["frames_read"], 1), 3
    )
    out["ungated"], out["gated"] = _strip(ungated), _strip(gated)
    v_un = replay_visits(base, ungated["batches"], work / "store_ungated")
    v_g = replay_visits(base, gated["batches"], work / "store_gated")
    out["visits"] = compare_visits(v_un, v_g)
    out["ratios"] = _ratios(out)
    return out


def _frames_with_people(batches: dict[str, list[list[Any]]]) -> int:
    """Sampled frames with at least one tracked person (distinct update timestamps)."""
    return sum(
        len({(cam, u.ts) for b in bs for u in b if not u.ended}) for cam, bs in batches.items()
    )


def _ratios(out: dict[str, Any]) -> dict[str, float]:
    lim, un, g = out["limit"]["fps"], out["ungated"]["fps"], out["gated"]["fps"]
    return {
        "gated/limit": round(g / lim, 3),
        "ungated/limit": round(un / lim, 3),
        "gated/ungated": round(g / un, 3),
    }


def crowded_scene(
    scene: Path,
    work: Path,
    models: Any,
    gating: dict[str, Any],
    match_threshold: float | None,
    ungated_updates: Path | None = None,
) -> dict[str, Any]:
    """A rendered crowded store (read only): limit, ungated, gated; both scored on its truth.

    With ``ungated_updates`` (a pickle of ``{camera: [update batches]}`` that
    ``accuracy_bench.py`` captured with gating off, i.e. the same CameraWorker path) the
    ungated camera run and the limit are not repeated: only the gated run is timed, and
    both update sets are replayed and scored here with the same identity code.
    """
    from accuracy_bench import START_TS, summarize  # type: ignore[import-not-found]
    from mcvision.evaluate.score import evaluate

    assert START_TS == T0
    if not (scene / "site.yaml").exists():
        raise SystemExit(f"no rendered scene at {scene} (render one with `mcvision sim`)")
    base = load_config(scene / "site.yaml")
    if match_threshold is None:  # the config's, which follows the embedder
        match_threshold = base.identity.match_threshold
    base = base.model_copy(
        update={"identity": base.identity.model_copy(update={"match_threshold": match_threshold})}
    )
    out: dict[str, Any] = {
        "scene": {
            "kind": "crowded simulated store",
            "name": scene.name,
            "cameras": [c.id for c in base.cameras],
            "match_threshold": match_threshold,
        },
    }
    if ungated_updates is None:
        out["limit"] = limit(base, models.detector, max_frames=600)
        out["limit"]["note"] = "bare detector over the first 200 sampled frames of each camera"
    for name, enabled in (("ungated", False), ("gated", True)):
        if name == "ungated" and ungated_updates is not None:
            import pickle

            with ungated_updates.open("rb") as f:
                batches = pickle.load(f)
            run = {
                "batches": batches,
                "source": f"captured earlier: {ungated_updates.name}",
                "updates": sum(len(b) for bs in batches.values() for b in bs),
            }
        else:
            run = run_site(with_gating(base, enabled, **gating), models)
        store = work / f"store_{name}"
        replay_visits(base, run["batches"], store)
        run["accuracy"] = summarize(evaluate(scene, store, start_ts=T0).model_dump())
        out[name] = _strip(run)
    if "limit" in out:
        out["ratios"] = _ratios(out)
    acc_u, acc_g = out["ungated"]["accuracy"], out["gated"]["accuracy"]
    out["accuracy_delta"] = {
        k: (
            round(acc_g[k] - acc_u[k], 4)
            if isinstance(acc_u.get(k), int | float) and isinstance(acc_g.get(k), int | float)
            else None
        )
        for k in acc_u
    }
    return out


def run_gating(args: Any) -> dict[str, Any]:
    """Both scenes (``args.scene`` for the crowded one); the result dict."""
    import tempfile

    from mcvision.actors.camera import LocalModels
    from pipeline_bench import load_average, machine_info  # type: ignore[import-not-found]

    work = Path(args.work or tempfile.mkdtemp(prefix="mcv-gating-"))
    gating = dict(args.gating_set or {})
    probe = parse_config({"site_id": "x", "cameras": [{"id": "c", "source": "x.mp4"}]})
    models = LocalModels(probe)
    result: dict[str, Any] = {
        "what": "camera-frames/s (every sampled frame, detected or skipped) of CameraWorker "
        "with in-process models, gating off vs on, against the bare detector, same process",
        "gating": {**with_gating(probe, True, **gating).gating.model_dump()},
        "fps_sampled": args.fps,
        "machine": machine_info(),
        "machine_shared": bool(args.shared),
        "load_before": load_average(),
    }
    t0 = time.perf_counter()
    if "footage" in args.gating_scenes:
        result["footage"] = footage_scene(work / "footage", models, args.fps, gating)
    if "crowded" in args.gating_scenes:
        reuse = Path(args.ungated_updates) if args.ungated_updates else None
        result["crowded"] = crowded_scene(
            Path(args.scene), work / "crowded", models, gating, args.match_threshold, reuse
        )
    result["load_after"] = load_average()
    result["bench_wall_s"] = round(time.perf_counter() - t0, 1)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return result
