"""The ``mcvision`` command line.

Each subcommand is one ``_add_<name>(subparsers)`` function that builds its
parser and sets ``handler`` to a function ``(args, ctx) -> exit code``; adding a
command is writing that function and listing it in ``COMMANDS``.

Exit codes: 0 success, 1 a runtime failure (e.g. a damaged store file),
2 bad usage or a bad config (the message names the field).

Example:
    >>> main(["report", "--config", "missing.yaml"])  # doctest: +SKIP
    missing.yaml: config file not found
    2
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from mcvision.config import ConfigError, SiteConfig, load_config

__all__ = ["COMMANDS", "Context", "build_parser", "main"]


@dataclass
class Context:
    """What a command may use besides its arguments: a clock and the output streams."""

    clock: Callable[[], float] = time.time
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)


Handler = Callable[[argparse.Namespace, Context], int]


class UsageError(ValueError):
    """Bad command-line arguments (exit code 2)."""


# ---- report ------------------------------------------------------------------
def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="print the day summary of a site",
        description="Print visitors, visits and dwell of one business day.",
    )
    p.add_argument("--config", required=True, help="site config YAML")
    p.add_argument(
        "--day",
        help="business day YYYY-MM-DD (default: the latest day with data, up to today)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--include-staff", action="store_true", help="count staff visits too")
    p.add_argument(
        "--source",
        metavar="URL",
        help="read the relational mirror at this SQLAlchemy URL (password from"
        " storage.mirror.password_env) instead of the Parquet store",
    )
    p.set_defaults(handler=_report)


def _site_day(args: argparse.Namespace, ctx: Context) -> tuple[SiteConfig, Any, str]:
    """The site config, its store and the day asked for (``--day``, or the latest with data)."""
    from mcvision.analytics.queries import default_day
    from mcvision.analytics.store import EventStore, check_day
    from mcvision.business_day import BusinessCalendar

    cfg: SiteConfig = load_config(args.config)
    store = EventStore.from_config(cfg)
    if args.day is None:
        return cfg, store, default_day(store, BusinessCalendar.from_config(cfg.reset), ctx.clock())
    try:
        return cfg, store, check_day(args.day)
    except ValueError as err:
        raise UsageError(f"--day: {err}") from None


def _report(args: argparse.Namespace, ctx: Context) -> int:
    from mcvision.analytics.queries import day_summary

    if getattr(args, "source", None):
        cfg, summary = _mirror_summary(args, ctx)
    else:
        cfg, store, day = _site_day(args, ctx)
        summary = day_summary(store, day, include_staff=args.include_staff)
    if args.json:
        data = {"site_id": cfg.site_id, **summary.model_dump()}
        ctx.stdout.write(json.dumps(data, indent=2) + "\n")
        return 0
    _print_summary(cfg.site_id, summary, ctx.stdout)
    return 0


def _mirror_summary(args: argparse.Namespace, ctx: Context) -> tuple[SiteConfig, Any]:
    """``report --source URL``: the day summary read from the relational mirror."""
    from mcvision.analytics import mirror_read
    from mcvision.analytics.mirror import MirrorError
    from mcvision.analytics.store import check_day
    from mcvision.business_day import BusinessCalendar

    cfg: SiteConfig = load_config(args.config)
    try:
        engine = mirror_read.open_source(cfg, args.source)
    except MirrorError as err:
        raise UsageError(f"--source: {err}") from None
    try:
        if args.day is None:
            today = BusinessCalendar.from_config(cfg.reset).day_of(ctx.clock())
            past = [d for d in mirror_read.days(engine, cfg.site_id) if d <= today]
            day = past[-1] if past else today
        else:
            try:
                day = check_day(args.day)
            except ValueError as err:
                raise UsageError(f"--day: {err}") from None
        return cfg, mirror_read.day_summary(
            engine, cfg.site_id, day, include_staff=args.include_staff
        )
    finally:
        engine.dispose()


def _fmt_s(v: float | None) -> str:
    if v is None:
        return "-"
    m, s = divmod(v, 60)
    return f"{v:.1f} s ({int(m)}m{s:04.1f}s)" if v >= 60 else f"{v:.1f} s"


def _print_summary(site_id: str, s: Any, out: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table

    who = "customers and staff" if s.include_staff else "customers, staff excluded"
    title = f"{site_id} — {s.day} ({who})"
    table = Table(title=title, show_header=True, min_width=len(title) + 4)
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [
        ("unique visitors", s.unique_visitors),
        ("new visitors", s.new_visitors),
        ("returning visitors", s.returning_visitors),
        ("visits", s.visits),
        ("open visits", s.open_visits),
        ("closed visits", s.closed_visits),
        ("in (visits started)", s.in_count),
        ("out (visits closed)", s.out_count),
        (f"mean dwell ({s.dwell_basis})", _fmt_s(s.dwell_mean_s)),
        (f"median dwell ({s.dwell_basis})", _fmt_s(s.dwell_median_s)),
        (f"p90 dwell ({s.dwell_basis})", _fmt_s(s.dwell_p90_s)),
        ("staff visits", s.staff_visits),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    console = Console(file=out, width=100, no_color=True, highlight=False)
    console.print(table)
    if s.visits == 0 and s.staff_visits == 0:
        console.print(f"no visits recorded for {s.day}")


# ---- run ---------------------------------------------------------------------
def _add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run a site: cameras, models and identities on Ray",
        description="Start (or join) Ray, deploy the models and the API, run every camera.",
    )
    p.add_argument("--config", required=True, help="site config YAML")
    p.add_argument("--until-end", action="store_true", help="stop when every file source ends")
    p.add_argument("--address", help="Ray cluster address (auto, ray://host:10001); default local")
    p.add_argument("--port", type=int, help="API port (default: runtime.api_port)")
    p.add_argument("--start-time", type=float, help="epoch seconds of the files' first frame")
    p.add_argument("--no-progress", action="store_true", help="no live progress lines")
    p.set_defaults(handler=_run)


def _with_port(cfg: SiteConfig, port: int | None) -> SiteConfig:
    if port is None:
        return cfg
    return cfg.model_copy(update={"runtime": cfg.runtime.model_copy(update={"api_port": port})})


def run_site(
    cfg: SiteConfig,
    ctx: Context,
    *,
    until_end: bool,
    address: str | None = None,
    start_ts: float | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run a site until its files end (``until_end``) or Ctrl-C; returns the run summary."""
    import signal

    from mcvision.progress import CameraProgress
    from mcvision.runner import SiteRunner

    runner = SiteRunner(cfg, address=address, start_ts=start_ts)
    interrupted = False

    def on_sigint(signum: int, frame: Any) -> None:
        nonlocal interrupted
        interrupted = True
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    bar = CameraProgress(cfg, enabled=progress, out=ctx.stderr)
    try:
        runner.start()
        print(f"API: {runner.api_url}/docs", file=ctx.stderr)
        runner.wait(until_end=until_end, on_progress=bar.update)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the flush
        bar.close()
        summary = runner.stop()
        signal.signal(signal.SIGINT, previous)
    summary["interrupted"] = interrupted
    return summary


def _run(args: argparse.Namespace, ctx: Context) -> int:
    cfg = _with_port(load_config(args.config), args.port)
    summary = run_site(
        cfg,
        ctx,
        until_end=args.until_end,
        address=args.address,
        start_ts=args.start_time,
        progress=not args.no_progress,
    )
    failed = [c for c, r in summary.get("cameras", {}).items() if r.get("status") == "failed"]
    for cam in failed:
        print(f"camera {cam}: {summary['cameras'][cam].get('error')}", file=ctx.stderr)
    print(
        f"stopped{' (interrupted)' if summary['interrupted'] else ''}: "
        f"{summary.get('updates', 0)} updates; store: {cfg.storage.root}",
        file=ctx.stderr,
    )
    return 130 if summary["interrupted"] else 0


# ---- serve -------------------------------------------------------------------
def _add_serve(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="serve the HTTP API over an existing store (no cameras)",
        description="The HTTP API alone, over a site's existing event store.",
    )
    p.add_argument("--config", required=True, help="site config YAML")
    p.add_argument("--host", help="bind address (default: runtime.api_host, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: runtime.api_port)")
    p.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace, ctx: Context) -> int:
    import uvicorn

    from mcvision.serve.api import create_app

    cfg = load_config(args.config)
    host = args.host or cfg.runtime.api_host
    port = args.port if args.port is not None else cfg.runtime.api_port
    app = create_app(cfg, host=host)
    print(f"API: http://{host}:{port}/docs", file=ctx.stderr)
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0


# ---- demo --------------------------------------------------------------------
def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="render a small store scene, run it, print the day summary and its accuracy",
        description="Render a three-camera store scene from real people (the assets' MOT17-mini),"
        " run the whole pipeline on it to the end, print the day summary and the evaluation"
        " against the scene's ground truth.",
    )
    p.add_argument("--out", default="demo_out", help="folder for the demo site and its data")
    p.add_argument("--seconds", type=float, default=60.0, help="length of the scene (s)")
    p.add_argument("--seed", type=int, default=0, help="scene seed")
    p.add_argument("--port", type=int, default=8000, help="API port while it runs")
    p.add_argument(
        "--live",
        action="store_true",
        help="play the store as a live site (its videos loop, wall-clock time) until Ctrl-C,"
        " for the live view and the dashboard; renders the scene first unless --out has one",
    )
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace, ctx: Context) -> int:
    import shutil
    from pathlib import Path

    from mcvision.demo import demo_scene, find_people
    from mcvision.evaluate.score import evaluate, format_report

    out = Path(args.out)
    if args.live:
        return _demo_live(args, ctx, out)
    if (out / "data").exists():
        shutil.rmtree(out / "data")  # a fresh store each time: the demo replays the same day
    print(f"rendering a {args.seconds:g} s scene (seed {args.seed}) into {out}", file=ctx.stderr)
    path = demo_scene(out, find_people(), seed=args.seed, duration_s=args.seconds, port=args.port)
    cfg = load_config(path)
    print(f"demo site: {path}", file=ctx.stderr)
    start_ts = ctx.clock()
    run_site(cfg, ctx, until_end=True, start_ts=start_ts, progress=not args.no_progress)
    rc = _report(
        argparse.Namespace(config=str(path), day=None, json=False, include_staff=False), ctx
    )
    report = evaluate(out, Path(cfg.storage.root), start_ts=start_ts)
    ctx.stdout.write("\nAccuracy against the scene's ground truth:\n")
    ctx.stdout.write(format_report(report) + "\n")
    ctx.stdout.write(
        "\nNext:\n"
        f"  API + docs:  mcvision serve --config {path}   then open http://127.0.0.1:8000/docs\n"
        f"  dashboard:   mcvision dashboard --api http://127.0.0.1:8000\n"
        f"  summary:     mcvision report --config {path}\n"
        f"  live:        mcvision demo --live --out {out}   (or mcvision run --config"
        f" {path.with_name('live.yaml')})\n"
    )
    return rc


def _demo_live(args: argparse.Namespace, ctx: Context, out: Path) -> int:
    """``mcvision demo --live``: the rendered store (rendered now if missing) looping live."""
    from mcvision.demo import demo_scene, find_people, live_site

    site = out / "site.yaml"
    if not site.exists():
        print(
            f"rendering a {args.seconds:g} s scene (seed {args.seed}) into {out}", file=ctx.stderr
        )
        site = demo_scene(out, find_people(), seed=args.seed, duration_s=args.seconds)
    try:
        path = live_site(site)
    except ValueError as err:
        raise UsageError(f"{site}: {err}") from None
    cfg = _with_port(load_config(path), args.port)
    api = f"http://127.0.0.1:{cfg.runtime.api_port}"
    print(
        f"live demo site: {path} (the videos loop; Ctrl-C stops)\n"
        f"  dashboard:  mcvision dashboard --api {api}\n"
        f"  live view:  {api}/api/v1/cameras/{cfg.cameras[0].id}/live",
        file=ctx.stderr,
    )
    summary = run_site(cfg, ctx, until_end=False, progress=not args.no_progress)
    return 130 if summary.get("interrupted") else 0


# ---- weights -----------------------------------------------------------------
def _add_weights(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "weights",
        help="show what each configured model resolves to; convert OSNet ONNX to torchreid",
        description="List the weights each configured model resolves to, or convert OSNet.",
    )
    p.add_argument("--config", help="site config YAML (default: the built-in defaults)")
    p.add_argument("--json", action="store_true")
    wsub = p.add_subparsers(dest="weights_command")
    c = wsub.add_parser("convert-osnet", help="OSNet ONNX -> torchreid .pth state dict")
    c.add_argument("onnx", help="the ONNX file (or a name the resolver finds)")
    c.add_argument("out", help="output .pth path")
    c.add_argument("--arch", default="osnet_x0_25")
    p.set_defaults(handler=_weights)


def _weights(args: argparse.Namespace, ctx: Context) -> int:
    from mcvision.vision import weights as w

    if args.weights_command == "convert-osnet":
        from mcvision.vision.reid import convert_osnet_onnx_to_torchreid

        try:
            src = w.resolve(args.onnx, download=False)
            out = convert_osnet_onnx_to_torchreid(src, args.out, arch=args.arch)
        except (w.WeightsNotFound, w.WeightsCorrupt) as err:
            print(f"mcvision weights: {err}", file=ctx.stderr)
            return 1
        print(f"wrote {out}", file=ctx.stdout)
        return 0
    if args.config:
        cfg = load_config(args.config)
    else:
        cfg = SiteConfig.model_validate(
            {"site_id": "defaults", "cameras": [{"id": "c", "source": 0}]}
        )
    rows = w.describe(cfg)
    if args.json:
        ctx.stdout.write(json.dumps(rows, indent=2, default=str) + "\n")
    else:
        for r in rows:
            state = "ok" if r["ok"] else ("disabled" if not r["enabled"] else "MISSING")
            where = r["path"] or r["error"]
            ctx.stdout.write(f"{r['model']:<10} {r['ref']!s:<36} {state:<8} {where}\n")
    return 0 if all(r["ok"] or not r["enabled"] for r in rows) else 1


# ---- dashboard ---------------------------------------------------------------
def _add_dashboard(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dashboard", help="the Streamlit dashboard over the HTTP API")
    p.add_argument("--api", default="http://127.0.0.1:8000", help="the API's base URL")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--host", default="127.0.0.1")
    p.set_defaults(handler=_dashboard)


def _dashboard(args: argparse.Namespace, ctx: Context) -> int:
    from mcvision.dashboard import run_dashboard

    print(f"dashboard: http://{args.host}:{args.port} (API {args.api})", file=ctx.stderr)
    return run_dashboard(args.api, port=args.port, host=args.host)


# ---- mcp ---------------------------------------------------------------------
def _add_mcp(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("mcp", help="MCP tools over the site's analytics (stdio or HTTP)")
    p.add_argument("--config", required=True, help="site config YAML")
    p.add_argument("--http", action="store_true", help="serve over HTTP at /mcp instead of stdio")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--host", default="127.0.0.1")
    p.set_defaults(handler=_mcp)


def _mcp(args: argparse.Namespace, ctx: Context) -> int:
    from mcvision.mcp import run_mcp

    run_mcp(load_config(args.config), http=args.http, port=args.port, host=args.host)
    return 0


# ---- sim ---------------------------------------------------------------------
def _add_sim(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sim",
        help="render a multi-camera store scene with ground truth from real people",
        description="Render cameras, site.yaml and ground truth (also as MOT-format files in gt/)"
        " with real people: cut out of MOT sequences, or crops of a ReID crop folder in"
        " Market-1501 naming, each simulated camera showing a person as one real camera saw them.",
    )
    p.add_argument(
        "--people",
        action="append",
        required=True,
        metavar="DIR",
        help="folder of MOT-format sequences, or a ReID crop folder in Market-1501"
        " naming such as market1501/bounding_box_train (repeatable)",
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--scenario",
        help="a built-in scenario (crowded, small) or a scenario YAML (default: crowded)",
    )
    p.add_argument(
        "--no-detector-check",
        action="store_true",
        help="skip measuring the detector's recall on the render",
    )
    p.set_defaults(handler=_sim)


def _sim(args: argparse.Namespace, ctx: Context) -> int:
    from mcvision.sim.people import PeopleError
    from mcvision.sim.render import run_sim
    from mcvision.sim.scenario import ScenarioError

    try:
        res = run_sim(
            args.people,
            args.out,
            seed=args.seed,
            scenario_path=args.scenario,
            check_detector=not args.no_detector_check,
        )
    except (PeopleError, ScenarioError) as err:
        raise UsageError(str(err)) from None
    ctx.stdout.write(json.dumps(res.report, indent=2, default=str) + "\n")
    print(f"site config: {res.site_config}", file=ctx.stderr)
    return 0


# ---- eval --------------------------------------------------------------------
def _add_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="score a store against a rendered scene's ground truth or a store's labelled footage",
        description="Score identities, visits and zone dwell. Either OUT, a simulator's output"
        " folder (run the scene, or read --store), or --gt DIR, a folder of labelled footage"
        " (<camera>.txt in MOT format, cameras.csv, optional visits.csv, zones.csv, staff.csv)"
        " scored against --store.",
    )
    p.add_argument("out", nargs="?", help="the simulator's output folder")
    p.add_argument(
        "--gt", metavar="DIR", help="labelled-footage folder (MOT format) to score against"
    )
    p.add_argument("--store", help="score an existing store root instead of running the scene")
    p.add_argument(
        "--start-time",
        metavar="T",
        help="the videos' first frame: epoch seconds or ISO-8601 with a zone"
        " (default: estimated from the track points)",
    )
    p.add_argument(
        "--config",
        help="site config YAML (with --gt: camera sizes and rates missing"
        " from cameras.csv, visit timeout, site ID)",
    )
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=_eval)


def _start_time(text: str | None) -> float | None:
    """``--start-time``: epoch seconds or an ISO-8601 time with a zone (Z, +05:30, ...)."""
    import math
    import re

    if text is None:
        return None
    try:
        v = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(v):
            raise UsageError(f"--start-time: {text!r} is not a time")
        return v
    import pendulum

    if not re.search(r"(Z|[+-]\d{2}(:?\d{2})?)$", text.strip(), re.IGNORECASE):
        raise UsageError(
            f"--start-time: {text!r} has no zone: give epoch seconds or ISO-8601 with a zone,"
            " e.g. 2026-01-05T08:00:00+05:30 or ...Z"
        )
    try:
        t = pendulum.parse(text.strip())
    except ValueError as err:  # pendulum's ParserError is one
        raise UsageError(
            f"--start-time: {text!r} is not epoch seconds or ISO-8601: {err}"
        ) from None
    if not isinstance(t, pendulum.DateTime):
        raise UsageError(f"--start-time: {text!r} is not a date and time")
    return float(t.timestamp())


def _eval(args: argparse.Namespace, ctx: Context) -> int:
    from pathlib import Path

    from mcvision.evaluate.score import evaluate, format_report

    if (args.out is None) == (args.gt is None):
        raise UsageError("give either OUT (a simulator's output folder) or --gt DIR, not both")
    start_ts = _start_time(args.start_time)
    if args.gt is not None:
        from mcvision.datasets.mot import MOTFormatError
        from mcvision.evaluate.labelled import evaluate_labelled

        if not args.store:
            raise UsageError("--gt needs --store (the store root of the run on that footage)")
        cfg = load_config(args.config) if args.config else None
        try:
            report = evaluate_labelled(args.gt, Path(args.store), start_ts=start_ts, config=cfg)
        except MOTFormatError as err:
            raise UsageError(str(err)) from None
        except ValueError as err:  # e.g. nothing in the store to align with
            print(f"mcvision eval: {err}", file=ctx.stderr)
            return 1
    else:
        out = Path(args.out)
        if args.store:
            store_root = Path(args.store)
        else:
            cfg = load_config(out / "site.yaml")
            store_root = Path(cfg.storage.root)
            if store_root.exists():
                import shutil

                shutil.rmtree(store_root)  # a scene is scored on a fresh run
            start_ts = ctx.clock() if start_ts is None else start_ts
            run_site(cfg, ctx, until_end=True, start_ts=start_ts, progress=not args.no_progress)
        report = evaluate(out, store_root, start_ts=start_ts)
    if args.json:
        ctx.stdout.write(report.model_dump_json(indent=2) + "\n")
    else:
        ctx.stdout.write(format_report(report) + "\n")
    return 0


# ---- mirror ------------------------------------------------------------------
def _add_mirror(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "mirror",
        help="copy the event store into the MySQL/PostgreSQL mirror (catch up, backfill, rebuild)",
        description="Copy the site's Parquet store into the database of storage.mirror: by"
        " default what is not copied yet; --day D rebuilds one business day, --all the whole"
        " mirror of this site (e.g. after a schema change or into a new database).",
    )
    p.add_argument("--config", required=True, help="site config YAML")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--day", help="rebuild this business day YYYY-MM-DD")
    which.add_argument("--all", action="store_true", help="rebuild every day")
    p.add_argument("--url", help="database URL (default: storage.mirror.url)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=_mirror)


def _mirror(args: argparse.Namespace, ctx: Context) -> int:
    from tqdm import tqdm

    from mcvision.analytics.mirror import Mirror, MirrorError, MirrorUnavailable
    from mcvision.analytics.store import check_day

    cfg = load_config(args.config)
    if not (args.url or cfg.storage.mirror.url):
        raise UsageError("no database: set storage.mirror.url in the config or give --url")
    if args.day is not None:
        try:
            check_day(args.day)
        except ValueError as err:
            raise UsageError(f"--day: {err}") from None
    try:
        mirror = Mirror(cfg, url=args.url).open()
    except MirrorError as err:
        raise UsageError(str(err)) from None
    except MirrorUnavailable as err:
        print(f"mcvision mirror: {err}", file=ctx.stderr)
        return 1
    try:
        total = (
            mirror.files_to_copy(args.day)
            if not args.all
            else sum(len(mirror.list_files(s)) for s in mirror.sources)
        )
        what = f"day {args.day}" if args.day else ("all days" if args.all else "new files")
        with tqdm(
            total=total,
            unit="file",
            desc=f"mirror {what}",
            file=ctx.stderr,
            disable=args.no_progress,
        ) as bar:
            if args.day or args.all:
                res = mirror.rebuild(args.day, on_progress=bar.update)
            else:
                res = mirror.sync(on_progress=bar.update)
    except (MirrorError, MirrorUnavailable) as err:
        print(f"mcvision mirror: {err} (what was copied is kept; run again)", file=ctx.stderr)
        return 1
    finally:
        mirror.close()
    rows = ", ".join(f"{k} {v}" for k, v in sorted(res.rows.items())) or "nothing new"
    print(f"{mirror.where}: {res.files} files, rows: {rows} ({res.seconds:.1f} s)", file=ctx.stdout)
    return 0


# ---- registry ----------------------------------------------------------------
# ---- summarize -------------------------------------------------------------------
def _add_summarize(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "summarize",
        help="keyframes, highlight videos, storyboards and a digest of one day",
        description="Make a day's video summaries from the evidence recordings and the store.",
    )
    p.add_argument("--config", required=True, help="site config YAML")
    p.add_argument("--day", help="business day YYYY-MM-DD (default: the latest day with data)")
    p.add_argument("--camera", help="only this camera's media")
    p.set_defaults(handler=_summarize)


def _summarize(args: argparse.Namespace, ctx: Context) -> int:
    from mcvision.summarize import summarize_day

    cfg, store, day = _site_day(args, ctx)
    if args.camera is not None and args.camera not in {c.id for c in cfg.cameras}:
        raise UsageError(
            f"--camera: unknown camera {args.camera!r} (cameras: {[c.id for c in cfg.cameras]})"
        )
    result = summarize_day(cfg, day, args.camera, store=store)
    for path in result.files:
        print(path, file=ctx.stdout)
    print(result.digest, file=ctx.stdout, end="")
    return 0


# ---- privacy / staff ---------------------------------------------------------
def _add_privacy(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "privacy",
        help="what personal data the site holds; erase a customer",
        description="Report the personal data a site holds, or erase one customer "
        "(embeddings and links deleted, events pseudonymized, counts kept).",
    )
    psub = p.add_subparsers(dest="action", metavar="ACTION")
    psub.required = True
    r = psub.add_parser("report", help="counts of embeddings, oldest items, faces on/off")
    r.add_argument("--config", required=True, help="site config YAML")
    r.add_argument("--json", action="store_true", help="print JSON")
    e = psub.add_parser("erase", help="right to erasure of one customer")
    e.add_argument("--config", required=True, help="site config YAML")
    e.add_argument("--customer", required=True, help="customer ID (cust-...)")
    p.set_defaults(handler=_privacy)


def _privacy(args: argparse.Namespace, ctx: Context) -> int:
    from mcvision.privacy import erase_customer, privacy_report

    cfg = load_config(args.config)
    if args.action == "erase":
        try:
            out = erase_customer(cfg, args.customer)
        except KeyError as err:
            raise UsageError(str(err.args[0]) if err.args else str(err)) from None
        print(json.dumps(out, sort_keys=True), file=ctx.stdout)
        return 0
    rep = privacy_report(cfg)
    if args.json:
        print(json.dumps(rep, indent=2, sort_keys=True), file=ctx.stdout)
        return 0
    g, c, st, ev = rep["gallery"], rep["customers"], rep["staff"], rep["events"]
    lines = [
        f"site {rep['site_id']}: faces {'ON' if rep['faces_enabled'] else 'off'} "
        f"(face images stored: never), customers {'ON' if rep['customers_enabled'] else 'off'}, "
        f"retention {rep['retention_days']:g} days",
        f"daily gallery: {g['embeddings']} embeddings ({g['active']} active, {g['archived']} "
        f"archived) of {g['identities']} IDs, oldest ts {g['oldest_ts']}",
        f"customers: {c['customers']} with {c['body_embeddings']} body and "
        f"{c['face_embeddings']} face embeddings, oldest seen {c['oldest_seen']}",
        f"staff: {st['members']} members, {st['embeddings']} embeddings",
        f"events: {ev['days']} days from {ev['oldest_day']}, {ev['visits']} visits, "
        f"{ev['track_points']} track points",
    ]
    print("\n".join(lines), file=ctx.stdout)
    return 0


def _add_staff(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "staff",
        help="enrol staff from a folder of images",
        description="Enrol staff: the largest person of each image is embedded (body ReID). "
        "Staff ID = sub-folder name, else file stem.",
    )
    ssub = p.add_subparsers(dest="action", metavar="ACTION")
    ssub.required = True
    e = ssub.add_parser("enrol", help="enrol the images of a folder")
    e.add_argument("--config", required=True, help="site config YAML")
    e.add_argument("--folder", help="images folder (default: staff.folder of the config)")
    p.set_defaults(handler=_staff)


def _staff(args: argparse.Namespace, ctx: Context) -> int:
    from pathlib import Path

    from mcvision.identity.staff import StaffRegistry
    from mcvision.vision.detector import PersonDetector
    from mcvision.vision.reid import build_reid, embedding_dim

    cfg = load_config(args.config)
    folder = args.folder or cfg.staff.folder
    if not folder:
        raise UsageError("no folder: give --folder or set staff.folder in the config")
    if not Path(folder).is_dir():
        raise UsageError(f"staff folder not found: {folder}")
    reg = StaffRegistry(
        cfg.storage.staff_dir(),
        dim=embedding_dim(cfg.models.reid),
        match_threshold=cfg.staff.match_threshold,
    )
    try:
        results = reg.enrol_folder(
            folder, PersonDetector.from_config(cfg.models.detector), build_reid(cfg.models.reid)
        )
    except ValueError as err:
        raise UsageError(str(err)) from None
    for r in results:
        status = "enrolled" if r.ok else f"skipped ({r.reason})"
        print(f"{r.staff_id}: {Path(r.path).name} {status}", file=ctx.stdout)
    ok = sum(r.ok for r in results)
    print(f"{ok} of {len(results)} images enrolled; {len(reg.staff())} staff", file=ctx.stderr)
    return 0 if ok else 1


# ---- segment -----------------------------------------------------------------
def _add_segment(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "segment",
        help="draw person masks for boxes of an image (check a segmenter by eye)",
        description="Segment the given boxes (and/or the detected people) of one image with"
        " the configured segmenter and write the masks over the image.",
    )
    p.add_argument("--image", required=True, help="an image file")
    p.add_argument("--boxes", nargs="*", default=[], metavar="X1,Y1,X2,Y2", help="person boxes")
    p.add_argument("--detect", action="store_true", help="also segment the detected people")
    p.add_argument("--out", required=True, help="output image (PNG)")
    p.add_argument("--config", help="site config YAML for models (default: built-in defaults)")
    p.add_argument("--backend", help="segmenter backend (default: the config's, else sam)")
    p.add_argument("--weights", help="segmenter weights (default: the backend's)")
    p.add_argument("--json", action="store_true", help="print per-box mask stats as JSON")
    p.set_defaults(handler=_segment)


def _segment(args: argparse.Namespace, ctx: Context) -> int:
    from pathlib import Path

    import cv2

    from mcvision.vision import mask_overlay as mo
    from mcvision.vision.segmenter import build_segmenter
    from mcvision.vision.weights import WeightsCorrupt, WeightsNotFound

    try:
        boxes = [mo.parse_box(b) for b in args.boxes]
    except ValueError as err:
        raise UsageError(str(err)) from None
    if not boxes and not args.detect:
        raise UsageError("give --boxes, --detect, or both")
    image = cv2.imread(args.image)
    if image is None:
        raise UsageError(f"cannot read image {args.image}")
    cfg = (
        load_config(args.config)
        if args.config
        else SiteConfig.model_validate(
            {"site_id": "segment", "cameras": [{"id": "c", "source": 0}]}
        )
    )
    seg_cfg = cfg.models.segmenter
    update: dict[str, Any] = {}
    if args.backend or seg_cfg.backend == "none":
        update["backend"] = args.backend or "sam"
        update["weights"] = None
    if args.weights:
        update["weights"] = args.weights
    try:
        seg_cfg = type(seg_cfg).model_validate({**seg_cfg.model_dump(), **update})
    except ValueError as err:
        raise UsageError(f"--backend: {err}") from None
    try:
        segmenter = build_segmenter(seg_cfg, download=False)
        detector = None
        if args.detect:
            from mcvision.vision.detector import PersonDetector

            detector = PersonDetector.from_config(cfg.models.detector)
    except (WeightsNotFound, WeightsCorrupt) as err:
        print(f"mcvision segment: {err}", file=ctx.stderr)
        return 1
    result = mo.segment_image(image, boxes, segmenter, detector)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), mo.draw_masks(image, result.masks, result.boxes)):
        print(f"mcvision segment: cannot write {out}", file=ctx.stderr)
        return 1
    if args.json:
        ctx.stdout.write(json.dumps({"backend": seg_cfg.backend, "boxes": result.stats}) + "\n")
    else:
        for i, r in enumerate(result.stats):
            ctx.stdout.write(
                f"{i} box {r['box']} mask {r.get('mask_px')} px, inside box {r.get('inside_box')}\n"
            )
    print(f"wrote {out} ({len(result.boxes)} masks, {seg_cfg.backend})", file=ctx.stderr)
    return 0


# ---- calibrate ---------------------------------------------------------------
def _add_calibrate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate",
        help="check a camera's floor calibration and draw the floor grid over a frame",
        description="Fit the camera's floor point pairs to a homography, print the"
        " reprojection error and write the floor's metre grid drawn over a frame."
        " Exit code 1 when the mean error is above the camera's floor.max_error_m.",
    )
    p.add_argument("--config", required=True, help="site config YAML")
    p.add_argument("--camera", required=True, help="camera id")
    p.add_argument(
        "--frame", help="an image of the camera's view (default: read one from its source)"
    )
    p.add_argument("--out", required=True, help="the PNG to write")
    p.add_argument("--step", type=float, default=1.0, help="grid spacing in metres (default 1)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=_calibrate)


def _calibrate(args: argparse.Namespace, ctx: Context) -> int:
    from pathlib import Path

    from mcvision.calibrate import CalibrationError, calibrate

    if args.step <= 0:
        raise UsageError(f"--step must be > 0, got {args.step}")
    cfg = load_config(args.config)
    try:
        rep = calibrate(
            cfg,
            args.camera,
            out=args.out,
            frame=args.frame,
            step_m=args.step,
            base=Path(args.config).resolve().parent,
        )
    except CalibrationError as err:
        print(f"mcvision calibrate: {err}", file=ctx.stderr)
        return 1
    if args.json:
        print(json.dumps(rep, indent=2), file=ctx.stdout)
    else:
        print(
            f"camera {rep['camera']}: {rep['points']} point pairs, reprojection error"
            f" mean {rep['mean_error_px']:.2f} px / {rep['mean_error_m']:.3f} m,"
            f" max {rep['max_error_px']:.2f} px / {rep['max_error_m']:.3f} m"
            f" -> {'ok' if rep['ok'] else 'TOO LARGE: check the point pairs'}",
            file=ctx.stdout,
        )
        print(
            f"wrote {rep['image']}" + (f" and {rep['plan_image']}" if "plan_image" in rep else ""),
            file=ctx.stdout,
        )
    return 0 if rep["ok"] else 1


COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_report,
    _add_run,
    _add_serve,
    _add_demo,
    _add_weights,
    _add_dashboard,
    _add_mcp,
    _add_sim,
    _add_eval,
    _add_summarize,
    _add_privacy,
    _add_staff,
    _add_calibrate,
    _add_mirror,
    _add_segment,
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="mcvision",
        description="Multi-camera customer analytics: one ID per person across cameras.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None, *, clock: Callable[[], float] = time.time) -> int:
    """Run the command line; returns the exit code (errors go to stderr, no tracebacks).

    Args:
        argv: arguments without the program name (default: ``sys.argv[1:]``).
        clock: the wall clock (epoch seconds), for "today".
    """
    from mcvision.analytics.store import StoreError

    ctx = Context(clock=clock)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse: --help (0) or a usage error (2)
        return int(exit_.code or 0)
    handler: Handler = args.handler
    try:
        return handler(args, ctx)
    except (ConfigError, UsageError) as err:
        print(f"mcvision {args.command}: {err}", file=ctx.stderr)
        return 2
    except StoreError as err:
        print(f"mcvision {args.command}: {err}", file=ctx.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=ctx.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
