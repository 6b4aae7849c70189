"""Pipeline benchmark: mcvision on Ray against the detector-bound limit and a naive loop.

Usage::

    python benchmarks/pipeline_bench.py --json                       # 2 cameras, 60 s at 5 fps
    python benchmarks/pipeline_bench.py --json --cameras 4 --seconds 20 --fps 10
    python benchmarks/pipeline_bench.py --gating --gating-scenes footage --repeat 3   # gating.json
    python benchmarks/pipeline_bench.py --gating --gating-scenes crowded --scene SEED_DIR \
        --ungated-updates SEED_DIR/updates_....pkl --reid-backend openvino \
        --reid-weights reid_openvino/person-reidentification-retail-0286 --match-threshold 0.4 \
        --work W --out benchmarks/results/gating_crowded_seedN.json [--gating-cameras cam1]

``--gating`` measures motion gating instead (see ``benchmarks/_gating.py``): the half-empty
footage and a rendered crowded store, gated vs ungated vs the bare detector, with the
accuracy of both runs; it writes ``benchmarks/results/gating.json``.

Writes the JSON to stdout and to ``benchmarks/results/pipeline.json`` (``--out`` elsewhere).
All three variants run in one process, on the same frames, one after the other:

* ``limit``: bare :meth:`PersonDetector.detect` over every sampled frame of every camera
  (decoded beforehand, batches of the Detector deployment's ``max_batch_size``) — the
  throughput the detector alone allows on this machine;
* ``naive``: one process looping over the cameras frame by frame: Ultralytics
  ``YOLO(weights).track(frame, persist=True)`` with one model object per camera (so each
  camera has its own tracker; person class only; same weights) and a ReID embedding of
  *every* detection of *every* frame with the pipeline's ReID model. It decodes its frames
  from the files like the pipeline does;
* ``pipeline``: :class:`~mcvision.runner.SiteRunner` on N cameras (copies of the same
  clip). Ray/Serve startup is excluded: the driver polls the IdentityActor's camera stats
  every ``--poll`` seconds; the clock starts at the first poll that sees a processed frame
  and stops when every camera's run has returned; frames counted are those processed in
  between (``fps``). ``fps_from_online`` counts all frames from the first poll that saw a
  camera online (it includes the first batch and the replicas' first-request warm-up).

Baselines are measured in the same run: the result holds ``pipeline/limit`` and
``pipeline/naive``, plus the machine's CPU count and load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import mcvision  # noqa: E402,F401  (applies the thread/offline environment first)
from mcvision.config import SiteConfig, parse_config  # noqa: E402
from mcvision.vision import weights  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "pipeline.json"
FOOTAGE = "footage/one-by-one-person-detection.mp4"
T0 = 1_764_000_000.0  # epoch of the clips' first frame (any fixed day works)


def machine_info() -> dict[str, Any]:
    """CPU count, platform and the thread setting the models run with."""
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages (zeros where the OS has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return [0.0, 0.0, 0.0]


def prepare_clips(footage: Path, out: Path, cameras: int, seconds: float) -> list[Path]:
    """``cameras`` copies of the first ``seconds`` of ``footage`` in ``out``."""
    from mcvision.demo import write_trimmed_copy

    if cameras < 1:
        raise ValueError(f"cameras must be >= 1, got {cameras}")
    if seconds <= 0:
        raise ValueError(f"seconds must be > 0, got {seconds}")
    out.mkdir(parents=True, exist_ok=True)
    first = write_trimmed_copy(footage, out / "cam0.mp4", seconds)
    clips = [first]
    for i in range(1, cameras):
        clips.append(Path(shutil.copyfile(first, out / f"cam{i}.mp4")))
    return clips


def render_crowd(out: Path, seconds: float, shoppers: int, seed: int = 0) -> tuple[Path, float]:
    """A simulated store with ``shoppers`` people (MOT17 people on rendered floors).

    Returns the video of its busiest camera and that camera's mean people per frame
    (from the render's ground truth): a crowded scene where per-detection ReID costs
    what it does in a busy store, unlike the one-person-at-a-time footage.
    """
    from mcvision.demo import demo_scenario, find_people
    from mcvision.sim.render import run_sim
    from mcvision.sim.truth import load_ground_truth

    sc = demo_scenario(seconds, fps=10.0, shoppers=shoppers)
    pop = sc.population.model_copy(update={"arrivals_s": (0.0, max(1.0, seconds / 2))})
    sc = sc.model_copy(update={"population": pop})
    res = run_sim([find_people()], out, seed=seed, scenario=sc, check_detector=False)
    gt = load_ground_truth(res.ground_truth)
    busiest = max(gt.frames, key=lambda c: sum(len(f) for f in gt.frames[c]))
    frames = gt.frames[busiest]
    return res.videos[busiest], sum(len(f) for f in frames) / max(len(frames), 1)


def site_config(
    clips: list[Path],
    fps: float,
    storage: Path,
    port: int,
    overrides: dict[str, Any] | None = None,
    models: dict[str, Any] | None = None,
) -> SiteConfig:
    """A site with one camera per clip, no zones, motion gating off.

    Ungated, every sampled frame goes to the detector: the pipeline measured against the
    bare detector (``--gating`` measures the gate itself). ``overrides`` are merged into
    ``runtime``; ``models`` is the site's ``models`` block (e.g. another embedder),
    validated with the rest so thresholds follow the embedder.
    """
    runtime: dict[str, Any] = {"api_port": port}
    runtime.update(overrides or {})
    data: dict[str, Any] = {
        "site_id": "bench",
        "cameras": [{"id": f"cam{i}", "source": str(p), "fps": fps} for i, p in enumerate(clips)],
        "storage": {"root": str(storage)},
        "runtime": runtime,
        "gating": {"enabled": False},
    }
    if models:
        data["models"] = models
    return parse_config(data)


def decode_frames(cfg: SiteConfig) -> dict[str, list[np.ndarray]]:
    """Every sampled frame of every camera, as the cameras' sources yield them."""
    from mcvision.capture.source import open_source

    out: dict[str, list[np.ndarray]] = {}
    for cam in cfg.cameras:
        src = open_source(cam, start_ts=T0)
        try:
            out[cam.id] = [f.image for f in src.frames()]
        finally:
            src.stop()
    return out


def bench_limit(cfg: SiteConfig, frames: dict[str, list[np.ndarray]]) -> dict[str, Any]:
    """Bare detector throughput over all cameras' frames (batches as the deployment's)."""
    from mcvision.vision.detector import PersonDetector

    det = PersonDetector.from_config(cfg.models.detector)
    batch = cfg.runtime.detector.max_batch_size
    every = [f for fs in frames.values() for f in fs]
    det.detect(every[:2])  # warm-up
    t0 = time.perf_counter()
    people = 0
    for i in range(0, len(every), batch):
        people += sum(len(d) for d in det.detect(every[i : i + batch]))
    wall = time.perf_counter() - t0
    return _rate(len(every), wall, detections=people, batch=batch)


def bench_naive(cfg: SiteConfig) -> dict[str, Any]:
    """One process, one ``YOLO.track`` per camera, ReID on every detection of every frame."""
    from ultralytics import YOLO

    from mcvision.capture.source import open_source
    from mcvision.vision.crops import crop_boxes
    from mcvision.vision.reid import build_reid

    dcfg = cfg.models.detector
    path = str(weights.resolve(dcfg.weights))
    models = {c.id: YOLO(path, task="detect") for c in cfg.cameras}
    reid = build_reid(cfg.models.reid)
    kwargs = dict(conf=dcfg.conf, iou=dcfg.iou, classes=[0], verbose=False, persist=True)
    # Warm-up on a blank frame with a throwaway model (keeps the cameras' trackers clean).
    warm = YOLO(path, task="detect")
    warm.track(np.zeros((432, 768, 3), np.uint8), **kwargs)
    reid.embed([np.zeros((128, 64, 3), np.uint8)])
    _threads()
    sources = {c.id: open_source(c, start_ts=T0) for c in cfg.cameras}
    iters = {k: iter(s.frames()) for k, s in sources.items()}
    n = people = 0
    t0 = time.perf_counter()
    try:
        while iters:
            for cam_id in list(iters):
                frame = next(iters[cam_id], None)
                if frame is None:
                    del iters[cam_id]
                    continue
                _threads()
                [res] = models[cam_id].track(frame.image, **kwargs)
                boxes = res.boxes.xyxy.cpu().numpy() if res.boxes is not None else np.empty((0, 4))
                if len(boxes):
                    reid.embed(crop_boxes(frame.image, boxes))
                n += 1
                people += len(boxes)
    finally:
        for s in sources.values():
            s.stop()
    wall = time.perf_counter() - t0
    return _rate(n, wall, detections=people, embeddings=people)


def _threads() -> None:
    """Undo Ultralytics' one-thread cap on its first predict (PLATFORM.md)."""
    from mcvision import _env

    _env.set_torch_threads()


def _watch(url: str, stop: threading.Event, parts: list[int]) -> None:
    """One live-view client: read the MJPEG stream until ``stop``, counting its parts."""
    import httpx

    while not stop.is_set():
        try:
            with httpx.stream("GET", url, timeout=30) as r:
                if r.status_code != 200:
                    time.sleep(0.2)
                    continue
                for chunk in r.iter_bytes():
                    parts[0] += chunk.count(b"--mcvisionframe")
                    if stop.is_set():
                        return
        except httpx.HTTPError:
            time.sleep(0.2)


def bench_pipeline(
    cfg: SiteConfig, poll_s: float = 0.05, timeout_s: float = 600, viewers: int = 0
) -> dict[str, Any]:
    """Run the site through :class:`SiteRunner`; frames/s from the first processed frame.

    ``viewers`` > 0: that many clients watch ``/cameras/{id}/live`` (round-robin over the
    cameras) for the whole run; the parts they got are reported.
    """
    import ray

    from mcvision.runner import SiteRunner

    runner = SiteRunner(cfg, start_ts=T0)
    t_start = time.perf_counter()
    runner.start()
    startup = time.perf_counter() - t_start
    stop_watching = threading.Event()
    watched = [[0] for _ in range(viewers)]
    watchers = [
        threading.Thread(
            target=_watch,
            daemon=True,
            args=(
                f"{runner.api_url}/api/v1/cameras/{cfg.cameras[i % len(cfg.cameras)].id}/live",
                stop_watching,
                watched[i],
            ),
        )
        for i in range(viewers)
    ]
    for w in watchers:
        w.start()
    pending = dict(runner.runs)
    results: dict[str, dict[str, Any]] = {}
    t_online = t_first = None
    frames_at_first = 0
    cpu_first: dict[int, tuple[str, float]] = {}
    deadline = time.monotonic() + timeout_s
    try:
        while pending:
            done, _ = ray.wait(list(pending.values()), num_returns=len(pending), timeout=poll_s)
            now = time.perf_counter()
            for cam_id, ref in list(pending.items()):
                if ref in done:
                    results[cam_id] = ray.get(ref)
                    del pending[cam_id]
            if t_first is None:
                stats = runner.camera_stats()
                if t_online is None and any(
                    s.get("status") in ("online", "ended") for s in stats.values()
                ):
                    t_online = now
                processed = sum(int(s.get("frames", 0)) for s in stats.values())
                if processed:
                    t_first, frames_at_first = now, processed
                    cpu_first = cpu_snapshot()
            if time.monotonic() > deadline:
                raise TimeoutError(f"cameras still running after {timeout_s} s: {sorted(pending)}")
        t_end = time.perf_counter()
        cpu_end = cpu_snapshot()
        batches = {name: serve_stats(name) for name in ("Detector", "Embedder")}
    finally:
        stop_watching.set()
        for w in watchers:
            w.join(timeout=10)
        summary = runner.stop()
    frames = sum(int(r.get("frames", 0)) for r in results.values())
    t_first = t_first if t_first is not None else t_end
    t_online = t_online if t_online is not None else t_first
    if frames > frames_at_first:
        out = _rate(frames - frames_at_first, t_end - t_first, clock="first_frame")
    else:  # everything ran before the first poll saw a frame (tiny inputs)
        out = _rate(frames, t_end - t_online, clock="online")
        frames_at_first = 0
    out.update(
        frames_total=frames,
        frames_before_clock=frames_at_first,
        fps_from_online=round(frames / max(t_end - t_online, 1e-9), 2),
        startup_s=round(startup, 2),
        embeddings=sum(int(r.get("embeddings", 0)) for r in results.values()),
        updates=sum(int(r.get("updates", 0)) for r in results.values()),
        camera_status={k: r.get("status") for k, r in sorted(results.items())},
        visits=summary.get("visits") if isinstance(summary.get("visits"), int) else None,
        batches=batches,
        # Where the CPU went while the clock ran (percent of one core; the machine has
        # cpu_count x 100): the limit's detector alone can use all of it.
        cpu_percent=cpu_by_role(cpu_first, cpu_end, t_end - (t_first or t_end)),
    )
    if viewers:
        out.update(viewers=viewers, viewer_frames=[w[0] for w in watched])
    return out


ROLES = (  # process title fragment -> role, first match wins
    ("Replica:mcvision:Detector", "detector"),
    ("Replica:mcvision:Embedder", "embedder"),
    ("CameraActor", "cameras"),
    ("IdentityActor", "identity"),
    ("ServeReplica", "serve_other"),
    ("ProxyActor", "serve_other"),
    ("ServeController", "serve_other"),
)


def cpu_snapshot() -> dict[int, tuple[str, float]]:
    """CPU seconds so far of this process and all its descendants, with their role."""
    import psutil

    me = psutil.Process()
    out: dict[int, tuple[str, float]] = {}
    for proc in [me, *me.children(recursive=True)]:
        try:
            title = " ".join(proc.cmdline()[:1]) or proc.name()
            t = proc.cpu_times()
        except psutil.Error:  # exited meanwhile
            continue
        role = (
            "driver"
            if proc.pid == me.pid
            else next((r for frag, r in ROLES if frag in title), "ray_system")
        )
        out[proc.pid] = (role, t.user + t.system)
    return out


def cpu_by_role(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]], wall_s: float
) -> dict[str, float]:
    """Percent of one core each role used between two snapshots (machine = cores x 100).

    Example:
        >>> cpu_by_role({1: ("detector", 1.0)}, {1: ("detector", 2.5), 2: ("cameras", 0.5)}, 1.0)
        {'cameras': 50.0, 'detector': 150.0, 'total': 200.0}
    """
    used: dict[str, float] = {}
    for pid, (role, cpu) in after.items():
        prev = before.get(pid, (role, 0.0))[1]
        used[role] = used.get(role, 0.0) + max(0.0, cpu - prev)
    out = {k: round(100 * v / max(wall_s, 1e-9), 1) for k, v in sorted(used.items())}
    out["total"] = round(sum(out.values()), 1)
    return out


def serve_stats(name: str) -> dict[str, Any]:
    """Batch-size histogram of a running deployment (empty when it cannot be asked)."""
    from ray import serve

    from mcvision.serve.deployments import APP_NAME

    try:
        h = serve.get_deployment_handle(name, app_name=APP_NAME)
        return dict(h.batch_stats.remote().result(timeout_s=30))
    except Exception as err:  # stats are informative only
        return {"error": str(err)}


def free_port() -> int:
    """A free local TCP port for the site's HTTP API."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _median_round(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the median fps (lower median), plus every round's fps."""
    ordered = sorted(rounds, key=lambda r: r["fps"])
    mid = dict(ordered[(len(ordered) - 1) // 2])
    mid["fps_runs"] = [r["fps"] for r in rounds]
    return mid


def _rate(frames: int, wall: float, **extra: Any) -> dict[str, Any]:
    return {
        "frames": frames,
        "wall_s": round(wall, 3),
        "fps": round(frames / max(wall, 1e-9), 2),
        **extra,
    }


def config_summary(cfg: SiteConfig) -> dict[str, Any]:
    """The run's runtime knobs that shape throughput."""
    rt = cfg.runtime
    dep = ("max_batch_size", "batch_wait_timeout_s", "num_replicas", "num_cpus", "ongoing")
    return {
        "frames_per_batch": rt.frames_per_batch,
        "camera_num_cpus": rt.camera_num_cpus,
        "detector": {k: getattr(rt.detector, k) for k in dep},
        "embedder": {k: getattr(rt.embedder, k) for k in dep},
        "detector_weights": cfg.models.detector.weights,
        "reid": f"{cfg.models.reid.backend}:{cfg.models.reid.weights}",
        "embed_every_frames": cfg.identity.embed_every_frames,
    }


def run(
    cameras: int = 2,
    seconds: float = 60.0,
    fps: float = 5.0,
    variants: tuple[str, ...] = ("limit", "naive", "pipeline"),
    runtime: dict[str, Any] | None = None,
    workdir: Path | None = None,
    poll_s: float = 0.05,
    repeat: int = 1,
    crowd: int = 0,
    viewers: int = 2,
    models: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the variants on the same clips (``repeat`` interleaved rounds); the result dict.

    Each variant reports its median round (by fps) with every round's fps in ``fps_runs``;
    ``ratios`` divide the medians, ``*_per_round`` divide the rounds pairwise. With
    ``crowd`` > 0 the clip is a simulated store with that many shoppers
    (:func:`render_crowd`) instead of the footage. The ``viewers`` variant is the
    pipeline with ``viewers`` live-view clients attached. ``models`` is the site's
    ``models`` block (default: the config's defaults).
    """
    assets = weights.assets_dir()
    if assets is None or not (assets / FOOTAGE).exists():
        raise SystemExit("assets not found: set MCVISION_ASSETS (needs models/ and footage/)")
    tmp = Path(workdir or tempfile.mkdtemp(prefix="mcv-pbench-"))
    scene: dict[str, Any] = {"kind": "footage", "clip": FOOTAGE}
    source = assets / FOOTAGE
    if crowd > 0:
        source, people = render_crowd(tmp / "crowd", seconds, crowd)
        scene = {
            "kind": "simulated store",
            "shoppers": crowd,
            "camera": source.stem,
            "people_per_frame": round(people, 2),
        }
    clips = prepare_clips(source, tmp / "clips", cameras, seconds)
    cfg = site_config(clips, fps, tmp / "data", free_port(), runtime, models)
    frames = decode_frames(cfg)
    result: dict[str, Any] = {
        "cameras": cameras,
        "scene": scene,
        "seconds": seconds,
        "fps_sampled": fps,
        "repeat": max(1, repeat),
        "frames": sum(len(v) for v in frames.values()),
        "frames_per_camera": {k: len(v) for k, v in frames.items()},
        "machine": machine_info(),
        "load_before": load_average(),
        "config": config_summary(cfg),
    }
    own_ray = False
    ray_tmp: str | None = None
    if "pipeline" in variants or "viewers" in variants:
        # One Ray cluster for all rounds (Serve is deployed per round); startup is not timed.
        import ray

        from mcvision.runner import init_ray

        if not os.environ.get("MCVISION_RAY_TMP"):  # short socket paths, apart from others'
            ray_tmp = tempfile.mkdtemp(prefix="mcvb-", dir="/tmp")
            os.environ["MCVISION_RAY_TMP"] = ray_tmp
        own_ray = init_ray(cfg)
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    try:
        for _ in range(max(1, repeat)):  # rounds interleave the variants: load drifts
            if "limit" in variants:
                runs["limit"].append(bench_limit(cfg, frames))
            if "naive" in variants:
                runs["naive"].append(bench_naive(cfg))
            if "pipeline" in variants:
                runs["pipeline"].append(bench_pipeline(cfg, poll_s=poll_s))
            if "viewers" in variants:
                runs["viewers"].append(bench_pipeline(cfg, poll_s=poll_s, viewers=viewers))
    finally:
        if own_ray:
            ray.shutdown()
        if ray_tmp is not None:
            shutil.rmtree(ray_tmp, ignore_errors=True)
    for v, rounds in runs.items():
        result[v] = _median_round(rounds)
    result["load_after"] = load_average()
    # other work on the machine makes the ratios noisy: say so (1-minute load above ~2.5)
    result["machine_shared"] = max(result["load_before"][0], result["load_after"][0]) > 2.5
    ratios: dict[str, Any] = {}
    pipe = result.get("pipeline", {}).get("fps")
    for base in ("limit", "naive"):
        b = result.get(base, {}).get("fps")
        if pipe and b:
            ratios[f"pipeline/{base}"] = round(pipe / b, 3)
            ratios[f"pipeline/{base}_per_round"] = [
                round(p["fps"] / q["fps"], 3)
                for p, q in zip(runs["pipeline"], runs[base], strict=True)
                if q["fps"]
            ]
    watched, pipe = result.get("viewers", {}).get("fps"), result.get("pipeline", {}).get("fps")
    if watched and pipe:
        ratios["viewers/pipeline"] = round(watched / pipe, 3)
        ratios["viewers/pipeline_per_round"] = [
            round(v["fps"] / p["fps"], 3)
            for v, p in zip(runs["viewers"], runs["pipeline"], strict=True)
            if p["fps"]
        ]
    result["ratios"] = ratios
    if workdir is None:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cameras", type=int, default=2, help="number of cameras (copies of a clip)")
    ap.add_argument("--seconds", type=float, default=60.0, help="clip length in seconds")
    ap.add_argument("--fps", type=float, default=5.0, help="sampling fps per camera")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    ap.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    ap.add_argument(
        "--only",
        nargs="+",
        choices=("limit", "naive", "pipeline", "viewers"),
        default=("limit", "naive", "pipeline"),
        help="variants to run (viewers: the pipeline with --viewers live-view clients)",
    )
    ap.add_argument("--viewers", type=int, default=2, help="live-view clients of 'viewers'")
    ap.add_argument(
        "--runtime",
        type=json.loads,
        default=None,
        help="JSON merged into the site's runtime config, e.g. '{\"frames_per_batch\": 8}'",
    )
    ap.add_argument(
        "--models",
        type=json.loads,
        default=None,
        help='JSON: the site\'s models block, e.g. \'{"reid": {"backend": "openvino", '
        '"weights": "reid_openvino/person-reidentification-retail-0286"}}\'',
    )
    ap.add_argument("--repeat", type=int, default=1, help="interleaved rounds of all variants")
    ap.add_argument(
        "--crowd",
        type=int,
        default=0,
        metavar="SHOPPERS",
        help="use a simulated store with this many shoppers instead of the footage",
    )
    ap.add_argument("--poll", type=float, default=0.05, help="camera-stats poll period, s")
    ap.add_argument("--gating", action="store_true", help="gated vs ungated (gating.json)")
    ap.add_argument(
        "--gating-scenes",
        nargs="+",
        choices=("footage", "crowded"),
        default=("footage", "crowded"),
        help="with --gating: scenes to run",
    )
    ap.add_argument("--scene", help="with --gating: a rendered crowded store (read only)")
    ap.add_argument(
        "--gating-set",
        type=json.loads,
        default=None,
        help="with --gating: gating fields, e.g. '{\"idle_fps\": 1}'",
    )
    ap.add_argument(
        "--match-threshold",
        type=float,
        default=None,
        help="with --gating: identity.match_threshold (default: the config's, which follows"
        " the embedder)",
    )
    ap.add_argument("--work", help="with --gating: keep the clip and stores here")
    ap.add_argument(
        "--gating-part",
        choices=("heldout", "tune", "all"),
        default="heldout",
        help="with --gating: the part of the half-empty footage reported (the gate's "
        "settings were tuned on 'tune')",
    )
    ap.add_argument(
        "--ungated-updates",
        help="with --gating: the crowded scene's ungated updates captured earlier "
        "(accuracy_bench's updates.pkl): only the gated run is repeated",
    )
    ap.add_argument("--reid-backend", help="with --gating: models.reid.backend (crowded)")
    ap.add_argument("--reid-weights", help="with --gating: models.reid.weights (crowded)")
    ap.add_argument(
        "--gating-cameras",
        nargs="+",
        help="with --gating: run only these cameras of the crowded scene now (the others "
        "are read from --work or run by a later invocation)",
    )
    ap.add_argument(
        "--shared",
        action="store_true",
        help="with --gating: record that the machine was shared with other work",
    )
    args = ap.parse_args(argv)
    if args.gating:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from _gating import run_gating

        if "crowded" in args.gating_scenes and not (args.scene and args.ungated_updates):
            ap.error(
                "--gating with the crowded scene needs --scene (a rendered store) and "
                "--ungated-updates (its updates captured by accuracy_bench.py)"
            )
        if args.out == RESULTS:
            args.out = RESULTS.with_name("gating.json")
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(2, 1)
        try:
            result = run_gating(args)
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
        text = json.dumps(result, indent=2)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
        print(
            text
            if args.json
            else json.dumps(
                {k: result[k].get("ratios") for k in ("footage", "crowded") if k in result}
            )
        )
        return 0
    # Ray and Serve log to stdout: send fd 1 to stderr while running, so stdout is the JSON.
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        result = run(
            args.cameras,
            args.seconds,
            args.fps,
            tuple(args.only),
            args.runtime,
            poll_s=args.poll,
            repeat=args.repeat,
            crowd=args.crowd,
            viewers=args.viewers,
            models=args.models,
        )
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
    text = json.dumps(result, indent=2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    if args.json:
        print(text)
    else:
        for k in ("limit", "naive", "pipeline", "viewers"):
            if k in result:
                print(f"{k:9s} {result[k]['fps']:8.2f} fps  ({result[k]['frames']} frames)")
        print("ratios", result["ratios"], "load", result["load_before"], result["load_after"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
