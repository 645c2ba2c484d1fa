"""`python -m loader [--days N | --start D [--end D]] [--verbose] [--json]`

Loads the window (default: HEURES_WINDOW_DAYS back from today, UTC) and prints what it
did per resource. Exit status: 0 done, 1 failed, 2 bad or missing configuration.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import date
from typing import Any

from batisync.settings import ConfigError, Settings, load_settings
from loader.client import ApiError
from loader.config import load_with_settings
from loader.pipeline import LoadError, LoadReport
from loader.window import Window, chunk_window, days_window, sliding_window, utc_today

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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m loader",
        description="Load BatiSimply and Batigest into the staging PostgreSQL.",
    )
    span = parser.add_mutually_exclusive_group()
    span.add_argument("--days", type=_positive, help="window: today minus N days (recette)")
    span.add_argument("--start", type=_day, help="backfill from this UTC day (YYYY-MM-DD)")
    parser.add_argument("--end", type=_day, help="backfill up to this UTC day (default today)")
    parser.add_argument("--verbose", action="store_true", help="log each step")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if args.end and not args.start:
        parser.error("--end needs --start")
    return args


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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("dlt").setLevel(logging.WARNING)  # its INFO lines name every request
    try:
        settings = load_settings()
        settings.require(*settings.batisimply_required(), "PGHOST", "PGDATABASE", "BATIGEST_URL")
        window = choose_window(args, settings, utc_today())
        chunk_window(window, settings.chunk_days)  # fail on a bad window before any I/O
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"bad window: {error}", file=sys.stderr)
        return 2
    try:
        report = load_with_settings(settings, window)
    except (LoadError, ApiError) as error:
        print(f"load failed: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # a database or network failure: name it, no traceback
        logging.getLogger("loader").debug("load failed", exc_info=True)
        first = (str(error).strip().splitlines() or [""])[0]
        print(f"load failed: {type(error).__name__}: {first}", file=sys.stderr)
        return 1
    output: Any = json.dumps(report.to_dict(), indent=2) if args.json else render(report)
    print(output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
