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
    p.set_defaults(handler=_report)


def _report(args: argparse.Namespace, ctx: Context) -> int:
    from mcvision.analytics.queries import day_summary
    from mcvision.analytics.store import EventStore, check_day
    from mcvision.identity.reset import BusinessCalendar

    cfg: SiteConfig = load_config(args.config)
    store = EventStore.from_config(cfg)
    if args.day is not None:
        try:
            day = check_day(args.day)
        except ValueError as err:
            raise UsageError(f"--day: {err}") from None
    else:
        today = BusinessCalendar.from_config(cfg.reset).day_of(ctx.clock())
        past = [d for d in store.days() if d <= today]
        day = past[-1] if past else today
    summary = day_summary(store, day, include_staff=args.include_staff)
    if args.json:
        data = {"site_id": cfg.site_id, **summary.model_dump()}
        ctx.stdout.write(json.dumps(data, indent=2) + "\n")
        return 0
    _print_summary(cfg.site_id, summary, ctx.stdout)
    return 0


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


# ---- registry ----------------------------------------------------------------
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_report]


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
