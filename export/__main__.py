"""CLI: `python -m export [--dry-run] [--id-heure ID] [--force] [--json]`,
`python -m export reconcile [--repair] [--json]`.

Settings come from `batisync.settings` (environment > .env > credentials.json). Exit
status: 0 done (rejected rows are reported, not fatal), 1 failed, 2 configuration.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Sequence

import sqlalchemy as sa

from batisync.settings import ConfigError, load_settings
from export.config import engines_from_settings, export_with_settings, reconcile_with_settings
from export.reconcile import ReconcileReport
from export.staging_io import ExportInputError

log = logging.getLogger("export")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m export", description=__doc__)
    parser.add_argument("command", nargs="?", choices=["push", "reconcile"], default="push")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    parser.add_argument("--id-heure", help="export this slot only")
    parser.add_argument("--force", action="store_true", help="retract past the share limit")
    parser.add_argument("--repair", action="store_true", help="reconcile: rewrite drifted rows")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--verbose", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    with contextlib.ExitStack() as stack:
        try:
            settings = load_settings()
            settings.require("PGHOST", "PGDATABASE", "BATIGEST_URL")
            staging, batigest = stack.enter_context(engines_from_settings(settings))
        except ConfigError as error:
            print(f"configuration error: {error}", file=sys.stderr)
            return 2
        except sa.exc.ArgumentError as error:  # a BATIGEST_URL SQLAlchemy cannot parse
            print(f"configuration error: BATIGEST_URL: {type(error).__name__}", file=sys.stderr)
            return 2
        try:
            if args.command == "reconcile":
                result = reconcile_with_settings(settings, staging, batigest, repair=args.repair)
                print(
                    json.dumps(result.to_dict(), indent=2) if args.json else _reconcile_text(result)
                )
                return 0
            report = export_with_settings(
                settings,
                staging,
                batigest,
                force=args.force,
                dry_run=args.dry_run,
                id_heure=args.id_heure,
            )
        except (ExportInputError, sa.exc.SQLAlchemyError) as error:
            # SQLAlchemy errors carry the statement, never the URL or its password.
            log.debug("export failed", exc_info=True)
            print(f"export failed: {_first_line(error)}", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        if args.dry_run or args.id_heure:
            for plan in report.plans:
                print(plan.describe())
        for id_heure, reason in report.rejected:
            print(f"rejected {id_heure}: {reason}")
        for warning in report.warnings:
            print(f"warning: {warning}")
        print(report.summary_line())
    return 0


def _reconcile_text(result: ReconcileReport) -> str:
    lines = [f"missing {i}" for i in result.missing]
    lines += [f"changed {i}" for i in result.changed]
    lines += [f"duplicated {i}" for i in result.duplicated]
    lines.append(
        f"reconcile: {result.checked} checked, {result.ok} ok, {len(result.missing)} missing, "
        f"{len(result.changed)} changed, {len(result.duplicated)} duplicated, "
        f"{result.repaired} repaired"
    )
    return "\n".join(lines)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
