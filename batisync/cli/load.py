"""`batisync load [--days N | --start D [--end D]] [--verbose] [--json]`

Loads the window (default: HEURES_WINDOW_DAYS back from today, UTC) into the staging
PostgreSQL and prints what it did per resource. Holds the sync lock. Exit status: 0 done,
1 failed, 2 bad or missing configuration, 75 a sync runs.
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from typing import Any

from batisync.cli.common import add_dossier_option, load, writing
from batisync.core.errors import EXIT_OK
from batisync.core.settings import Settings
from batisync.loader.report import LoadReport
from batisync.loader.window import Window, chunk_window, days_window, sliding_window, utc_today

COLUMNS = ("fetched", "new", "changed", "deleted", "quarantined")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def _positive(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number of days, got {text!r}")
    return int(text)


def add_commands(commands: Any) -> None:
    parser = commands.add_parser(
        "load", help="load BatiSimply and Batigest into the staging PostgreSQL (the loader)"
    )
    span = parser.add_mutually_exclusive_group()
    span.add_argument("--days", type=_positive, help="window: today minus N days (recette)")
    span.add_argument("--start", type=_day, help="backfill from this UTC day (YYYY-MM-DD)")
    parser.add_argument("--end", type=_day, help="backfill up to this UTC day (default today)")
    parser.add_argument("--verbose", "-v", action="store_true", help="log each step")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    add_dossier_option(parser)
    parser.set_defaults(handler=cmd_load, parser=parser)


def choose_window(args: argparse.Namespace, settings: Settings, today: date) -> Window:
    if args.start:
        return days_window(args.start, args.end or today)
    return sliding_window(args.days if args.days is not None else settings.window_days, today)


def render(report: LoadReport) -> str:
    chunks = len(report.chunks)
    lines = [f"window {report.window} ({chunks} chunk{'s' if chunks != 1 else ''})"]
    lines.append(f"{'resource':<12}" + "".join(f"{c:>13}" for c in COLUMNS))
    for name, counts in report.resources.items():
        values = counts.to_dict()
        note = "" if counts.refreshed else "  (kept: not refreshed)"
        lines.append(f"{name:<12}" + "".join(f"{values[c]:>13}" for c in COLUMNS) + note)
        if counts.reasons:
            reasons = ", ".join(f"{r} {n}" for r, n in sorted(counts.reasons.items()))
            lines.append(f"{'':<12}  quarantined: {reasons}")
    lines += [f"warning: {w}" for w in report.warnings]
    lines.append(f"done in {report.duration_s:.1f} s")
    return "\n".join(lines)


def cmd_load(args: argparse.Namespace) -> int:
    if args.end and not args.start:
        args.parser.error("--end needs --start")
    settings = load(Settings.required_for_sync, dossier=args.dossier)
    try:  # fail on a bad window before any I/O
        window = choose_window(args, settings, utc_today())
        chunk_window(window, settings.chunk_days)
    except ValueError as error:
        args.parser.error(f"bad window: {error}")
    # dlt is imported only when loading
    from batisync.loader.config import load_with_settings

    with writing(settings, "load"):
        report = load_with_settings(settings, window)
    output: Any = json.dumps(report.to_dict(), indent=2) if args.json else render(report)
    print(output)
    return EXIT_OK


__all__ = ["add_commands", "choose_window", "cmd_load", "render"]
