"""Soak capacity: the most live cameras this machine carries, gated vs ungated.

Usage::

    python benchmarks/soak_capacity.py --counts 2 3 4 --footage HALF_EMPTY.mp4 --clip-s 213
    python benchmarks/soak_capacity.py --gating --counts 4 6 8 --footage HALF_EMPTY.mp4 --clip-s 213

Runs ``benchmarks/soak.py`` once per camera count (each its own process and Ray
cluster, in ascending order, stopping after the first count that fails) and adds the
rows to ``benchmarks/results/soak_capacity.json`` (``--out``), so a search can be split
over several invocations. A count *passes* when, over the whole run, every camera
accounted for every frame it read (processed or skipped with a reason), at most
``--max-dropped`` of its sampled frames were dropped at the source (newest-frame
buffer: the camera could not keep up), no event was lost, and the p95 of frame
timestamp to ingestion by the identity actor is below ``--p95-s``. The capacity of a
variant is the largest passing count below which every tried count passed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "soak_capacity.json"


def judge(res: dict[str, Any], p95_s: float, max_dropped: float) -> dict[str, Any]:
    """One soak run's row: its numbers and whether the count passes.

    Example:
        >>> cams = {"c": {"read": 99, "dropped": 1, "accounted": True}}
        >>> row = judge({"cameras_n": 1, "gating": False, "cameras": cams,
        ...              "latency_s": {"p95": 0.4}, "events": {"lost": 0}}, 1.0, 0.02)
        >>> row["passed"], row["dropped_fraction_max"]
        (True, 0.01)
    """
    cams = res["cameras"].values()
    dropped = max(c["dropped"] / max(c["read"] + c["dropped"], 1) for c in cams)
    p95 = res["latency_s"].get("p95")
    checks = {
        "accounted": all(c["accounted"] for c in cams),
        "dropped": dropped <= max_dropped,
        "events": res["events"]["lost"] == 0,
        "p95": p95 is not None and p95 < p95_s,
    }
    return {
        "cameras": res["cameras_n"],
        "gating": res["gating"],
        "p95_s": None if p95 is None else round(p95, 3),
        "p50_s": None if res["latency_s"].get("p50") is None else round(res["latency_s"]["p50"], 3),
        "dropped_fraction_max": round(dropped, 4),
        "read": sum(c["read"] for c in cams),
        "processed": sum(c.get("processed", 0) for c in cams),
        "events_lost": res["events"]["lost"],
        "minutes_run": res.get("minutes_run"),
        "loadavg_after": [round(x, 2) for x in res.get("machine", {}).get("loadavg", [])],
        "checks": checks,
        "passed": all(checks.values()),
    }


def capacity(rows: list[dict[str, Any]], gating: bool) -> int | None:
    """Largest passing count with every smaller tried count passing (None: none passed).

    Example:
        >>> rows = [{"gating": True, "cameras": n, "passed": n < 5} for n in (2, 4, 6)]
        >>> capacity(rows, True)
        4
    """
    best = None
    for row in sorted((r for r in rows if r["gating"] == gating), key=lambda r: r["cameras"]):
        if not row["passed"]:
            break
        best = row["cameras"]
    return best


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--counts", type=int, nargs="+", required=True, help="camera counts to try")
    p.add_argument("--gating", action="store_true", help="motion gating on")
    p.add_argument("--minutes", type=float, default=1.5)
    p.add_argument("--warmup-s", type=float, default=20.0)
    p.add_argument("--footage", type=Path, required=True)
    p.add_argument("--clip-s", type=float, default=213.0)
    p.add_argument("--p95-s", type=float, default=1.0)
    p.add_argument("--max-dropped", type=float, default=0.02)
    p.add_argument("--timeout-s", type=float, default=400.0, help="per soak run")
    p.add_argument("--shared", action="store_true", help="machine shared with other work")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    doc: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() else {}
    rows: list[dict[str, Any]] = doc.get("runs", [])
    for n in sorted(args.counts):
        with tempfile.TemporaryDirectory(prefix="mcv-soakcap-") as tmp:
            out = Path(tmp) / "soak.json"
            cmd = [
                sys.executable,
                str(ROOT / "benchmarks" / "soak.py"),
                f"--cameras={n}",
                f"--minutes={args.minutes}",
                f"--warmup-s={args.warmup_s}",
                f"--footage={args.footage}",
                f"--clip-s={args.clip_s}",
                f"--out={out}",
                *(["--gating"] if args.gating else []),
                *(["--shared"] if args.shared else []),
            ]
            load_before = [round(x, 2) for x in os.getloadavg()]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout_s)
            if proc.returncode != 0 or not out.exists():
                print(proc.stderr[-3000:], file=sys.stderr)
                raise SystemExit(f"soak.py failed for {n} cameras (exit {proc.returncode})")
            row = judge(json.loads(out.read_text()), args.p95_s, args.max_dropped)
        row["load_before"] = load_before
        row["wall_s"] = round(time.perf_counter() - t0, 1)
        rows = [r for r in rows if (r["cameras"], r["gating"]) != (n, args.gating)] + [row]
        print(json.dumps(row), flush=True)
        if not row["passed"]:
            break
    cap = {v: capacity(rows, v == "gated") for v in ("ungated", "gated")}
    doc.update(
        {
            "what": "soak_capacity.py: live MJPEG cameras at the soak's fps on the half-empty "
            "footage; a count passes when every frame read is accounted for, at most "
            f"{args.max_dropped:.0%} of a camera's frames are dropped at the source, no event "
            f"is lost and the p95 of frame to ingestion is < {args.p95_s:g} s",
            "footage": args.footage.name,
            "minutes_per_run": args.minutes,
            "machine_shared": bool(args.shared) or doc.get("machine_shared", False),
            "runs": sorted(rows, key=lambda r: (r["gating"], r["cameras"])),
            "capacity": cap,
            "gated/ungated": (
                round(cap["gated"] / cap["ungated"], 2) if cap["gated"] and cap["ungated"] else None
            ),
        }
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps({"capacity": cap, "gated/ungated": doc["gated/ungated"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
