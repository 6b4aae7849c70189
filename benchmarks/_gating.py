"""``pipeline_bench.py --gating``: motion gating against ungated runs and the bare detector.

Two scenes. Camera-frames/s count every sampled frame a camera handled (detected or
skipped with a reason).

* **footage, half empty**, three ways in this one process on the same frames, in
  ``--repeat`` interleaved rounds (the order rotates): ``limit`` (bare
  :meth:`PersonDetector.detect` over every sampled frame, batches of
  ``runtime.frames_per_batch``, frames decoded beforehand), ``ungated`` and ``gated``
  (:class:`~mcvision.actors.camera.CameraWorker` with in-process models, decoding its own
  frames, gating off / on). The footage clip has people in view about three quarters of
  the time and its empty moments are short (the tracker's lost-track buffer spans them),
  so it is made half empty honestly: the first empty stretch of the clip itself (the
  same camera's empty scene, less the moment before the first person is detected) is
  looped into each of the clip's empty moments until people are in view about half the
  sampled frames. The result is cut in two in an empty moment: the gate's settings were
  tuned on the first part (``--gating-part tune``), the second is reported (``heldout``,
  the default). Both runs' updates go through :class:`SiteIdentity`; the gated visits
  are compared with the ungated ones (count, in/out of matched visits).
* **crowded simulated store**: a rendered crowded scenario (three cameras, ground truth);
  the gated run, camera by camera, against the ungated updates ``accuracy_bench.py``
  captured; both replayed through :class:`SiteIdentity` and scored with
  :func:`mcvision.evaluate.score.evaluate` (global IDF1, visitor count, in/out MAE,
  zone dwell error). Accuracy only: no timing.
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

from mcvision.config import SiteConfig, parse_config

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


def part_paths(clip: Path) -> tuple[Path, Path]:
    """The half-empty clip's two parts: the one the gate was tuned on, the held-out one."""
    return clip.with_name(clip.stem + "_tune.mp4"), clip.with_name(clip.stem + "_heldout.mp4")


def half_empty_clip(
    footage: Path,
    out: Path,
    detector: Any,
    fps: float,
    imgsz: int,
    target: float = 0.5,
    margin_s: float = 2.0,
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
    # Native frames of the first empty stretch, less its last ``margin_s``: a person is
    # partly in view (moving) a moment before the detector first finds them, and the
    # ping-pong loop would turn that into someone peeking in and backing out.
    filler_n = int(max(1, runs[0][1] - round(margin_s * fps)) * step)
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
    cut = sorted({round(s * step) for s in spots})
    # The two parts split in the middle of the middle filler (nobody in view there).
    split_at = cut[(len(cut) - 1) // 2]
    parts = [
        cv2.VideoWriter(str(p), cv2.VideoWriter_fourcc(*"mp4v"), native, (w, h))
        for p in part_paths(out)
    ]
    added = 0
    part_frames = [0, 0]

    def put(img: np.ndarray, part: int) -> None:
        writer.write(img)
        parts[part].write(img)
        part_frames[part] += 1

    for i, img in enumerate([*frames, None]):
        if i in cut:
            for k in range(per_spot):
                put(
                    filler[k % len(filler)],
                    int(i > split_at or (i == split_at and k >= per_spot // 2)),
                )
            added += per_spot
        if img is not None:
            put(img, int(i >= split_at))
    writer.release()
    for p in parts:
        p.release()
    total = len(frames) + added
    return {
        "parts": {
            "tune": {
                "file": part_paths(out)[0].name,
                "length_s": round(part_frames[0] / native, 1),
            },
            "heldout": {
                "file": part_paths(out)[1].name,
                "length_s": round(part_frames[1] / native, 1),
            },
            "split": "in the middle of the middle inserted empty stretch (nobody in view)",
        },
        "source": FOOTAGE,
        "construction": "the clip's own first empty stretch (same camera, nobody in view; "
        f"less its last {margin_s:g} s, where the first person is partly in view before "
        f"the detector finds them) looped (ping-pong) into its {len(spots)} empty moments",
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


def footage_scene(
    work: Path,
    models: Any,
    fps: float,
    gating: dict[str, Any],
    part: str = "heldout",
    rounds: int = 1,
) -> dict[str, Any]:
    """The half-empty footage (``part``: the held-out part, the tuning part or all of it):
    ``rounds`` interleaved rounds of limit, ungated, gated (the order rotates each round);
    the median round's rates, every round's ratios, and the visits compared."""
    from mcvision.vision.weights import assets_dir
    from pipeline_bench import load_average  # type: ignore[import-not-found]

    assets = assets_dir()
    if assets is None or not (assets / FOOTAGE).exists():
        raise SystemExit("assets not found: set MCVISION_ASSETS (needs models/ and footage/)")
    work.mkdir(parents=True, exist_ok=True)
    clip = work / "half_empty.mp4"
    probe = parse_config({"site_id": "gatebench", "cameras": [{"id": "cam0", "source": "x.mp4"}]})
    scene = half_empty_clip(
        assets / FOOTAGE, clip, models.detector, fps, probe.models.detector.imgsz
    )
    source = {"all": clip, "tune": part_paths(clip)[0], "heldout": part_paths(clip)[1]}[part]
    scene["reported_part"] = part
    base = parse_config(
        {
            "site_id": "gatebench",
            "cameras": [{"id": "cam0", "source": str(source), "fps": fps}],
            "storage": {"root": str(work / "store")},
        }
    )
    variants = ("limit", "ungated", "gated")
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for r in range(rounds):
        for v in variants[r % 3 :] + variants[: r % 3]:
            if v == "limit":
                runs[v].append({**limit(base, models.detector), "load": load_average()[0]})
            else:
                run = run_site(with_gating(base, v == "gated", **gating), models)
                runs[v].append({**run, "load": load_average()[0]})
    per_round = [
        _ratios({v: runs[v][r] for v in variants}) | {"load": runs["gated"][r]["load"]}
        for r in range(rounds)
    ]
    out: dict[str, Any] = {"scene": scene, "rounds": rounds}
    for v in variants:
        med = sorted(runs[v], key=lambda x: x["fps"])[len(runs[v]) // 2]
        out[v] = _strip(med) | {"fps_rounds": [x["fps"] for x in runs[v]]}
    ungated, gated = runs["ungated"][0], runs["gated"][0]
    scene["people_in_view_constructed"] = round(
        _frames_with_people(ungated["batches"]) / max(ungated["frames_read"], 1), 3
    )
    v_un = replay_visits(base, ungated["batches"], work / "store_ungated")
    v_g = replay_visits(base, gated["batches"], work / "store_gated")
    out["visits"] = compare_visits(v_un, v_g)
    out["ratios"] = _ratios(out)
    out["ratios_per_round"] = per_round
    out["ratios_median_of_rounds"] = {
        k: sorted(x[k] for x in per_round)[rounds // 2]
        for k in ("gated/limit", "ungated/limit", "gated/ungated")
    }
    out["upper_bound_gated_over_ungated"] = round(
        gated["frames_read"] / max(gated["frames_detected"], 1), 3
    )
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
    ungated_updates: Path,
    reid: dict[str, Any] | None = None,
    cameras: list[str] | None = None,
) -> dict[str, Any]:
    """A rendered crowded store (read only): the gated run scored against the ungated one.

    ``ungated_updates`` is a pickle of ``{camera: [update batches]}`` that
    ``accuracy_bench.py`` captured with gating off (the same CameraWorker path, the same
    ``reid`` embedder). The gated run goes camera by camera, each camera's batches kept
    in ``work`` (``cameras`` limits which run now, so a long scene can be split over
    several invocations); once every camera has run, both update sets are replayed
    through :class:`SiteIdentity` and scored with the same code.
    """
    import pickle

    from accuracy_bench import START_TS, scene_config, summarize  # type: ignore[import-not-found]
    from mcvision.evaluate.score import evaluate

    assert START_TS == T0
    if not (scene / "site.yaml").exists():
        raise SystemExit(f"no rendered scene at {scene} (render one with `mcvision sim`)")
    base = scene_config(scene, reid)
    if match_threshold is None:  # the config's, which follows the embedder
        match_threshold = base.identity.match_threshold
    base = base.model_copy(
        update={"identity": base.identity.model_copy(update={"match_threshold": match_threshold})}
    )
    work.mkdir(parents=True, exist_ok=True)
    gated_cfg = with_gating(base, True, **gating)
    runs: dict[str, dict[str, Any]] = {}
    for cam in base.cameras:
        cache = work / f"gated_{cam.id}.pkl"
        if not cache.exists() and (cameras is None or cam.id in cameras):
            run = run_camera(gated_cfg, cam.id, models)
            with cache.open("wb") as f:
                pickle.dump(run, f)
        if cache.exists():
            with cache.open("rb") as f:
                runs[cam.id] = pickle.load(f)
    out: dict[str, Any] = {
        "scene": {
            "kind": "crowded simulated store",
            "name": scene.name,
            "cameras": [c.id for c in base.cameras],
            "match_threshold": match_threshold,
            "embedder": reid or "site default",
        },
    }
    missing = [c.id for c in base.cameras if c.id not in runs]
    if missing:
        out["pending_cameras"] = missing
        return out
    with ungated_updates.open("rb") as f:
        ungated_batches = pickle.load(f)
    stats = [r["stats"] for r in runs.values()]
    read = sum(st["frames_read"] for st in stats)
    detected = sum(st["frames"] for st in stats)
    skipped = sum(sum(st["skipped"].values()) for st in stats)
    gated = {
        "frames_read": read,
        "frames_detected": detected,
        "processed": {k: sum(st["processed"][k] for st in stats) for k in stats[0]["processed"]},
        "skipped": {k: sum(st["skipped"][k] for st in stats) for k in stats[0]["skipped"]},
        "accounted": read == detected + skipped,
        "detected_fraction": round(detected / max(read, 1), 3),
        "batches": {k: r["batches"] for k, r in runs.items()},
    }
    ungated = {
        "source": f"captured with gating off by accuracy_bench.py: {ungated_updates.name}",
        "updates": sum(len(b) for bs in ungated_batches.values() for b in bs),
        "batches": ungated_batches,
    }
    for name, run in (("ungated", ungated), ("gated", gated)):
        store = work / f"store_{name}"
        replay_visits(base, run["batches"], store)
        run["accuracy"] = summarize(evaluate(scene, store, start_ts=T0).model_dump())
        out[name] = _strip(run)
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
    reid = (
        {"backend": args.reid_backend, "weights": args.reid_weights} if args.reid_backend else None
    )
    probe = parse_config(
        {
            "site_id": "x",
            "cameras": [{"id": "c", "source": "x.mp4"}],
            **({"models": {"reid": reid}} if reid else {}),
        }
    )
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
        result["footage"] = footage_scene(
            work / "footage", models, args.fps, gating, args.gating_part, max(1, args.repeat)
        )
    if "crowded" in args.gating_scenes:
        result["crowded"] = crowded_scene(
            Path(args.scene),
            work / "crowded",
            models,
            gating,
            args.match_threshold,
            Path(args.ungated_updates),
            reid,
            args.gating_cameras,
        )
    result["load_after"] = load_average()
    result["bench_wall_s"] = round(time.perf_counter() - t0, 1)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return result
