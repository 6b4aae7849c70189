"""Soak: N live cameras on Ray for M minutes, overloaded on purpose.

Usage::

    python benchmarks/soak.py --cameras 8 --minutes 10
    python benchmarks/soak.py --cameras 8 --minutes 3 --gating --footage HALF_EMPTY.mp4 --clip-s 210

The footage clip is served over HTTP from 127.0.0.1 as MJPEG
(``multipart/x-mixed-replace``), looped forever at its native frame rate, one
connection per camera: OpenCV's FFmpeg backend reads it as a live stream, so the
cameras run as :class:`~mcvision.capture.source.LiveSource` (wall-clock
timestamps, newest-frame ring buffer). When the models cannot keep up, frames
must be dropped at the source, not queued.

Measured, written as JSON to ``benchmarks/results/soak.json`` (``--out`` elsewhere):

* ``memory``: resident memory (RSS) of this driver and every process it spawned
  (GCS, raylet, workers, Serve replicas), sampled every ``--sample-s``; growth is
  the median of the last three samples over the median of the first three after
  ``--warmup-s``;
* ``events``: events emitted by the identity core (counted in the IdentityActor)
  against rows in the event store after close — none may be lost;
* ``latency_s``: frame timestamp to ingestion by the IdentityActor (wall clock),
  p50/p95/max over a uniform reservoir of all updates;
* ``camera_lag_s``: the cameras' own lag (frame timestamp to the batch leaving the
  camera for the IdentityActor: buffer + detector + tracking), sampled with the
  memory; ``latency_s`` minus this is the time spent queued for the IdentityActor;
* ``cameras``: per camera, frames served by the HTTP server, processed by the
  pipeline and dropped by the newest-frame buffer; with ``--gating`` (motion gating on)
  also the frames read, and those that skipped the detector per reason (``accounted``:
  read = processed + skipped).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import mcvision  # noqa: E402,F401  (applies the thread/offline environment first)

RESULTS = ROOT / "benchmarks" / "results" / "soak.json"
FOOTAGE = "footage/one-by-one-person-detection.mp4"
BOUNDARY = b"mcvisionframe"


def encode_clip(path: Path, max_s: float, width: int) -> tuple[list[bytes], float]:
    """The clip's first ``max_s`` seconds as JPEGs (resized to ``width``) and its fps."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise FileNotFoundError(f"cannot open video {path}")
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    frames: list[bytes] = []
    while len(frames) < max_s * fps:
        ok, img = cap.read()
        if not ok:
            break
        h, w = img.shape[:2]
        if w > width:
            img = cv2.resize(img, (width, round(h * width / w)), interpolation=cv2.INTER_AREA)
        frames.append(cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes())
    cap.release()
    if not frames:
        raise ValueError(f"no frames in {path}")
    return frames, fps


def mjpeg_parts(frames: list[bytes]) -> Iterator[bytes]:
    """The multipart body of an endless MJPEG stream looping over ``frames``."""
    i = 0
    while True:
        jpg = frames[i % len(frames)]
        yield (
            b"--"
            + BOUNDARY
            + b"\r\nContent-Type: image/jpeg\r\n"
            + f"Content-Length: {len(jpg)}\r\n\r\n".encode()
            + jpg
            + b"\r\n"
        )
        i += 1


class MjpegServer:
    """Serves ``frames`` looped at ``fps`` on every path; counts frames sent per path."""

    def __init__(self, frames: list[bytes], fps: float, host: str = "127.0.0.1") -> None:
        self.frames = frames
        self.fps = fps
        self.sent: dict[str, int] = {}
        self._stop = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header(
                    "Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY.decode()}"
                )
                self.end_headers()
                period = 1.0 / outer.fps
                due = time.monotonic()
                try:
                    for part in mjpeg_parts(outer.frames):
                        if outer._stop.is_set():
                            return
                        self.wfile.write(part)
                        outer.sent[self.path] = outer.sent.get(self.path, 0) + 1
                        due += period
                        time.sleep(max(0.0, due - time.monotonic()))
                except (BrokenPipeError, ConnectionResetError):
                    return

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def start(self) -> MjpegServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def ray_rss_bytes() -> dict[str, int]:
    """RSS of this process and of all its descendants (Ray's GCS, raylet, workers)."""
    import psutil

    me = psutil.Process()
    total = me.memory_info().rss
    n = 1
    for child in me.children(recursive=True):
        try:
            total += child.memory_info().rss
            n += 1
        except psutil.Error:  # exited meanwhile
            continue
    return {"rss": total, "processes": n}


def growth(samples: list[dict[str, float]], warmup_s: float) -> dict[str, Any]:
    """Median RSS of the first three samples after warm-up vs the last three.

    Example:
        >>> s = [{"t": t, "rss": 100.0 + t} for t in range(0, 10)]
        >>> growth(s, warmup_s=2)["growth"]
        0.0485...
    """
    after = [s for s in samples if s["t"] >= warmup_s]
    if len(after) < 2:
        return {"growth": None, "reason": f"fewer than 2 samples after {warmup_s} s warm-up"}
    k = min(3, len(after) // 2)
    first = statistics.median(s["rss"] for s in after[:k])
    last = statistics.median(s["rss"] for s in after[-k:])
    return {"first_bytes": first, "last_bytes": last, "growth": (last - first) / first}


def lag_summary(samples: list[dict[str, Any]], warmup_s: float) -> dict[str, Any]:
    """p50/p95/max of the cameras' lag (frame ts to batch sent) sampled after warm-up.

    Example:
        >>> lag_summary([{"t": 0, "lag_s": [9.0]}, {"t": 5, "lag_s": [1.0, 3.0]}], 1)["p50"]
        2.0
    """
    import numpy as np

    lags = [x for s in samples if s["t"] >= warmup_s for x in s.get("lag_s", [])]
    if not lags:
        return {"n": 0, "p50": None, "p95": None, "max": None}
    p50, p95 = np.percentile(lags, [50, 95])
    return {"n": len(lags), "p50": float(p50), "p95": float(p95), "max": float(max(lags))}


def site_config(urls: dict[str, str], root: Path, fps: float, gating: bool = False) -> Any:
    from mcvision.config import parse_config

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    return parse_config(
        {
            "site_id": "soak",
            "cameras": [{"id": c, "source": u, "fps": fps} for c, u in urls.items()],
            "storage": {"root": str(root)},
            "runtime": {"api_port": port, "frames_per_batch": 4, "tick_s": 1.0},
            "gating": {"enabled": gating},
        }
    )


def soak(args: argparse.Namespace) -> dict[str, Any]:
    import ray

    from mcvision.analytics.store import EventStore
    from mcvision.runner import SiteRunner

    frames, native_fps = encode_clip(args.footage, args.clip_s, args.width)
    server = MjpegServer(frames, native_fps).start()
    tmp = Path(tempfile.mkdtemp(prefix="mcv-soak-"))
    os.environ.setdefault("MCVISION_RAY_TMP", str(tmp / "ray"))
    urls = {f"cam{i}": server.url(f"cam{i}") for i in range(args.cameras)}
    cfg = site_config(urls, tmp / "store", args.fps, gating=args.gating)
    runner = SiteRunner(cfg)
    samples: list[dict[str, Any]] = []
    per_cam: dict[str, Any] = {}
    t_start = time.monotonic()
    runner.start()
    try:
        t0 = time.monotonic()
        end = t0 + args.minutes * 60
        while time.monotonic() < end:
            time.sleep(args.sample_s)
            mem = ray_rss_bytes()
            cams = runner.camera_stats()
            samples.append(
                {
                    "t": round(time.monotonic() - t0, 1),
                    **mem,
                    "processed": sum(c.get("frames", 0) for c in cams.values()),
                    "dropped": sum(c.get("dropped", 0) for c in cams.values()),
                    "lag_s": [c["lag_s"] for c in cams.values() if c.get("lag_s") is not None],
                }
            )
            print(json.dumps(samples[-1]), file=sys.stderr, flush=True)
        ran_s = time.monotonic() - t0
        for actor in runner.cameras.values():
            actor.stop.remote()
        for cam_id, ref in runner.runs.items():
            per_cam[cam_id] = ray.get(ref, timeout=120)
        runner.results.update(per_cam)
        ray.get(runner.identity.close.remote(), timeout=120)
        load = ray.get(runner.identity.load_stats.remote(), timeout=30)
    finally:
        runner.stop()
        server.stop()
    store = EventStore.from_config(cfg)
    written = store.sql("SELECT count(*) AS n FROM events")[0]["n"] if store.days() else 0
    cameras = {
        c: {
            "served": server.sent.get(f"/{c}", 0),
            "processed": per_cam[c].get("frames", 0),
            "dropped": per_cam[c].get("dropped", 0),
            "status": per_cam[c].get("status"),
            "read": per_cam[c].get("frames_read", 0),
            "skipped": per_cam[c].get("skipped", {}),
            "accounted": per_cam[c].get("frames_read", 0)
            == per_cam[c].get("frames", 0) + sum(per_cam[c].get("skipped", {}).values()),
        }
        for c in urls
    }
    shutil.rmtree(tmp, ignore_errors=True)
    return {
        "cameras_n": args.cameras,
        "gating": bool(args.gating),
        "machine_shared": bool(args.shared),
        "footage": args.footage.name,
        "minutes_asked": args.minutes,
        "minutes_run": round(ran_s / 60, 2),
        "startup_s": round(t0 - t_start, 1),
        "stream": {
            "native_fps": native_fps,
            "width": args.width,
            "clip_s": args.clip_s,
            "sampled_fps": args.fps,
            "transport": "MJPEG over HTTP, 127.0.0.1",
        },
        "machine": {"cpus": os.cpu_count(), "loadavg": os.getloadavg()},
        "memory": {**growth(samples, args.warmup_s), "warmup_s": args.warmup_s},
        "events": {
            "emitted": load["events_emitted"],
            "written": written,
            "lost": load["events_emitted"] - written,
        },
        "latency_s": load["latency_s"],
        "camera_lag_s": lag_summary(samples, args.warmup_s),
        "cameras": cameras,
        "totals": {
            k: sum(c[k] for c in cameras.values())
            for k in ("served", "read", "processed", "dropped")
        },
        "samples": samples,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from mcvision.vision import weights

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cameras", type=int, default=8)
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--fps", type=float, default=5.0, help="cameras' sampling fps")
    p.add_argument("--clip-s", type=float, default=60.0, help="seconds of footage looped")
    p.add_argument("--width", type=int, default=640, help="served frame width")
    p.add_argument("--warmup-s", type=float, default=60.0)
    p.add_argument("--sample-s", type=float, default=10.0)
    p.add_argument("--footage", type=Path, default=None)
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--gating", action="store_true", help="motion gating on (site gating block)")
    p.add_argument(
        "--shared",
        action="store_true",
        help="record that the machine was shared with other work meanwhile",
    )
    args = p.parse_args(argv)
    if args.cameras < 1 or args.minutes <= 0:
        p.error("--cameras must be >= 1 and --minutes > 0")
    if args.footage is None:
        assets = weights.assets_dir()
        if assets is None or not (assets / FOOTAGE).exists():
            p.error("assets not found: set MCVISION_ASSETS (needs models/ and footage/)")
        args.footage = assets / FOOTAGE
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = soak(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
