"""The relational mirror's cost: per flush, catch-up after an outage, and on the identity ingest.

Usage::

    python benchmarks/mirror_bench.py [--shoppers 24] [--seconds 300] [--repeats 3]

Starts throw-away MariaDB and PostgreSQL servers on 127.0.0.1 (the test suite's
``tests/db_servers.py``; needs the ``mariadb-server`` and ``postgresql`` packages),
scripts a store (shoppers with ReID embeddings walking past two cameras, one
zone, 1 s update batches, a flush every 5 s of data), and measures per database:

* ``per_flush``: :meth:`Mirror.sync` after each flush, in the foreground (ms and rows);
* ``catch_up``: every file of the ``per_flush`` run copied in one sync into an empty
  database, as after an outage that lasted the whole run (files/s; rows read, i.e.
  snapshots in the files, and rows written, the latest per key, per second);
* ``ingest``: :class:`IdentityService` updates per second for ``--ingest-s`` wall
  seconds as fast as it takes them (a tick per batch, its own 5 s flush cadence, each
  flush waking the mirror thread) with the mirror on, over the same with it off,
  alternated ``--repeats`` times (ABBA order); the ratio of medians is the figure
  (target >= 0.95). The mirror thread's own CPU time over the run's wall time is
  reported beside it: on a machine shared with other work the ratio is noisy, the
  thread's CPU share is not.

JSON to ``benchmarks/results/mirror.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402

import db_servers  # noqa: E402
import mcvision  # noqa: E402, F401  (applies the thread/offline environment first)
from mcvision.config import SiteConfig, parse_config  # noqa: E402
from mcvision.types import TrackletUpdate  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_result  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "mirror.json"
T0 = 1_795_000_000.0
BOX = np.array([100, 100, 150, 300], np.float32)
FOOT = np.array([125, 300], np.float32)
FLUSH_EVERY = 5  # batches (seconds of data) between flushes


def site(root: Path, url: str | None) -> SiteConfig:
    mirror: dict[str, Any] = {"enabled": False}
    if url:
        mirror = {"enabled": True, "url": url, "password_env": db_servers.PASSWORD_ENV}
    return parse_config(
        {
            "site_id": "bench",
            "cameras": [
                {
                    "id": "a",
                    "source": "a.mp4",
                    "zones": [
                        {
                            "name": "shelf",
                            "normalized": True,
                            "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]],
                        }
                    ],
                },
                {"id": "b", "source": "b.mp4"},
            ],
            "visits": {"zone_enter_s": 1, "zone_exit_s": 2, "absence_timeout_s": 15},
            "identity": {"min_frames": 2},
            "reset": {"timezone": "Europe/Berlin"},
            "storage": {"root": str(root), "mirror": mirror},
        }
    )


def script(shoppers: int, seconds: int, seed: int = 0) -> list[list[TrackletUpdate]]:
    """1 s batches: each shopper walks in at a random time, stays 40-120 s on one camera."""
    rng = np.random.default_rng(seed)
    starts = np.sort(rng.uniform(0, max(1, seconds - 120), size=shoppers))
    stays = rng.uniform(40, 120, size=shoppers)
    base = rng.normal(size=(shoppers, 512))
    batches = []
    for s in range(seconds):
        batch = []
        for k in range(shoppers):
            if not starts[k] <= s < starts[k] + stays[k]:
                continue
            cam = "a" if k % 2 == 0 else "b"
            for half in (0.0, 0.5):
                v = base[k] + rng.normal(scale=0.02, size=512)
                batch.append(
                    TrackletUpdate(
                        camera_id=cam,
                        local_id=k + 1,
                        ts=T0 + s + half,
                        box=BOX,
                        foot=FOOT,
                        zones=("shelf",) if cam == "a" else (),
                        frame_size=(640, 360),
                        embedding=(v / np.linalg.norm(v)).astype(np.float32),
                    )
                )
        batches.append(sorted(batch, key=lambda u: u.ts))
    return batches


def run_service(
    cfg: SiteConfig, batches: list[list[TrackletUpdate]], wall_s: float
) -> dict[str, Any]:
    """Updates/s through an IdentityService for ``wall_s`` seconds, as the actor runs it.

    A tick after every batch; the store flushes every 5 s of wall time (the service's
    default), and each flush wakes the mirror thread (when configured). Afterwards it
    waits for the mirror to catch up (not timed) and reports its state.
    """
    from mcvision.actors.identity import IdentityService

    svc = IdentityService(cfg)
    n = 0
    t0 = time.perf_counter()
    for b in batches:
        svc.ingest(b)
        svc.tick(b[-1].ts if b else None)
        n += len(b)
        if time.perf_counter() - t0 >= wall_s:
            break
    wall = time.perf_counter() - t0
    out: dict[str, Any] = {"updates": n, "seconds": wall, "updates_per_s": n / wall}
    if svc.mirror is not None:
        out["mirror_cpu_share"] = svc.mirror.status()["cpu_s"] / wall  # of one core
        svc.core.flush()
        svc.mirror.notify()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            st = svc.mirror.status()
            if st["state"] == "ok" and st["pending_files"] == 0:
                break
            time.sleep(0.1)
        out["mirror"] = svc.mirror_status()
    svc.close()
    return out


def per_flush(cfg: SiteConfig, batches: list[list[TrackletUpdate]]) -> dict[str, Any]:
    """Foreground sync after each flush of a SiteIdentity replay."""
    from mcvision.analytics.mirror import Mirror
    from mcvision.identity.site import SiteIdentity

    core = SiteIdentity(cfg)
    mirror = Mirror(cfg).open()
    ms_: list[float] = []
    rows: list[int] = []
    for i, b in enumerate(batches):
        core.ingest(b)
        if (i + 1) % FLUSH_EVERY == 0:
            core.tick(T0 + i + 1.0, flush=True)
            res = mirror.sync()
            ms_.append(res.seconds * 1000)
            rows.append(res.total_rows)
    core.close(T0 + len(batches) + 60.0)
    mirror.close()
    return {
        "flushes": len(ms_),
        "ms_median": statistics.median(ms_),
        "ms_p95": float(np.percentile(ms_, 95)),
        "ms_max": max(ms_),
        "rows_per_flush_median": statistics.median(rows),
    }


def catch_up(cfg: SiteConfig) -> dict[str, Any]:
    """Copy the whole store (made by the run before) into an empty database in one sync."""
    from mcvision.analytics.mirror import Mirror

    mirror = Mirror(cfg).open()
    res = mirror.sync()
    mirror.close()
    return {
        "files": res.files,
        "rows_read": res.rows_read,
        "rows_written": res.total_rows,
        "seconds": res.seconds,
        "files_per_s": res.files / res.seconds,
        "rows_read_per_s": res.rows_read / res.seconds,
        "rows_written_per_s": res.total_rows / res.seconds,
    }


def bench_server(
    srv: db_servers.DBServer,
    batches: list[list[TrackletUpdate]],
    long: list[list[TrackletUpdate]],
    repeats: int,
    wall_s: float,
    work: Path,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    d = work / srv.dialect
    out["per_flush"] = per_flush(site(d / "pf", srv.url(srv.create_database())), batches)
    # the mirror was down for the whole run: every file of it copied in one sync
    out["catch_up"] = catch_up(site(d / "pf", srv.url(srv.create_database())))
    off, on = [], []
    for r in range(repeats):
        for mode in ("off", "on") if r % 2 == 0 else ("on", "off"):  # ABBA: drift cancels
            root = d / f"ingest-{mode}-{r}"
            url = srv.url(srv.create_database()) if mode == "on" else None
            res = run_service(site(root, url), long, wall_s)
            (on if mode == "on" else off).append(res)
            shutil.rmtree(root, ignore_errors=True)
    out["ingest"] = {
        "off_updates_per_s": [round(x["updates_per_s"], 1) for x in off],
        "on_updates_per_s": [round(x["updates_per_s"], 1) for x in on],
        "ratio_on_over_off": statistics.median(x["updates_per_s"] for x in on)
        / statistics.median(x["updates_per_s"] for x in off),
        "ratio_of_sums": sum(x["updates"] for x in on)
        / sum(x["seconds"] for x in on)
        / (sum(x["updates"] for x in off) / sum(x["seconds"] for x in off)),
        "mirror_thread_cpu_share_of_wall": [round(x["mirror_cpu_share"], 4) for x in on],
        "mirror_final": {
            k: on[-1]["mirror"][k]
            for k in ("state", "rows_synced", "files_synced", "pending_files", "failures")
        },
    }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shoppers", type=int, default=24)
    ap.add_argument("--seconds", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ingest-s", type=float, default=20.0, help="wall seconds per ingest run")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()
    os.environ[db_servers.PASSWORD_ENV] = db_servers.PASSWORD
    batches = script(args.shoppers, args.seconds)
    long = script(args.shoppers * 10, args.seconds * 10, seed=1)  # more than any run ingests
    work = Path(tempfile.mkdtemp(prefix="mirror-bench-"))
    result: dict[str, Any] = {
        "what": "store mirror: foreground sync per flush, one-sync catch-up of a whole run,"
        " IdentityService ingest with the mirror thread on vs off",
        "workload": {
            "shoppers": args.shoppers,
            "data_seconds": args.seconds,
            "updates": sum(len(b) for b in batches),
            "flush_every_s_of_data": FLUSH_EVERY,
            "reid_embeddings": True,
            "repeats": args.repeats,
            "ingest": f"{args.ingest_s:g} s wall per run, a tick per 1 s batch, the"
            " service's own 5 s flush cadence, mirror sync_period_s 10",
        },
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, shared with other work at"
        " the same time (ratios measured in one process survive that; absolute"
        " times do not)",
        "servers": "throw-away MariaDB and PostgreSQL on 127.0.0.1 (fsync off/relaxed)",
        "results": {},
    }
    try:
        for name, cls in db_servers.SERVERS.items():
            srv = cls()
            try:
                result["results"][name] = bench_server(
                    srv, batches, long, args.repeats, args.ingest_s, work
                )
            finally:
                srv.close()
            print(name, result["results"][name], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_result(result, args.out, echo=True)


if __name__ == "__main__":
    main()
