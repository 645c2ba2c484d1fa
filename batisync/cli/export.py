"""`batisync export [--dry-run] [--id-heure ID] [--force] [--json]` and
`batisync reconcile [--repair] [--json]`: the exporter on its own.

`export` holds the sync lock when it writes; `reconcile` always does (a sync moving rows
meanwhile would look like drift) and is recorded in `sync_runs` (command `reconcile`).
Exit status: 0 done (rejected rows are reported, not fatal) / reconcile found no drift
left, 1 failed / drift left (like a failing test), 2 configuration, 75 a sync runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from typing import Any

import sqlalchemy as sa

from batisync.cli.common import add_dossier_option, load, writing
from batisync.core.errors import EXIT_FAILED, EXIT_OK, ConfigError
from batisync.core.settings import Settings
from batisync.export.config import checked_options, engines_from_settings
from batisync.export.reconcile import reconcile
from batisync.export.reconcile_report import ReconcileReport
from batisync.export.runner import run_export
from batisync.orchestrate.record import recorded

NEEDED = ("PGHOST", "PGDATABASE", "BATIGEST_URL")


def cmd_export(args: argparse.Namespace) -> int:
    reconciling = args.subcommand == "reconcile"
    writes = True if reconciling else not args.dry_run
    settings = load(lambda _: NEEDED, dossier=args.dossier)
    with contextlib.ExitStack() as stack:
        try:
            staging, batigest = stack.enter_context(engines_from_settings(settings))
        except sa.exc.ArgumentError as error:  # a BATIGEST_URL SQLAlchemy cannot load
            raise ConfigError("BATIGEST_URL", type(error).__name__) from None
        # SIGTERM / SIGINT: the lock is released, a reconcile recorded as interrupted
        stack.enter_context(writing(settings, args.subcommand, writes=writes))
        if reconciling:
            return _reconcile(settings, staging, batigest, args)
        report = run_export(
            staging,
            batigest,
            checked_options(settings, batigest),
            force=args.force,
            dry_run=args.dry_run,
            id_heure=args.id_heure,
            with_dbt_rejections=True,
        )
    if args.json:
        data = {**report.to_dict(), "rejected_rows": report.rejected_rows()}
        print(json.dumps(data, indent=2, default=str))
    else:
        if args.dry_run or args.id_heure:
            for plan in report.plans:
                print(plan.describe())
        for id_heure, reason in report.rejected:
            print(f"rejected {id_heure}: {reason}")
        for warning in report.warnings:
            print(f"warning: {warning}")
        print(report.summary_line())
    return EXIT_OK


def _reconcile(
    settings: Settings, staging: sa.Engine, batigest: sa.Engine, args: argparse.Namespace
) -> int:
    """Check (and with --repair fix) SuiviMO against the map, recorded in sync_runs."""
    with recorded(
        settings.staging.conninfo(), settings.dbt_schema, "reconcile", dry_run=not args.repair
    ) as recording:
        options = checked_options(settings, batigest)
        result = reconcile(staging, batigest, options, repair=args.repair)
        status = "drift" if result.drift else "success"
        error = f"{result.drift} finding(s) left: {result.summary_line()}" if result.drift else None
        recording.finish(status, "reconcile", result)
        if error and recording.summary is not None:
            recording.summary.error = error
    print(json.dumps(result.to_dict(), indent=2) if args.json else _reconcile_text(result))
    return EXIT_FAILED if result.drift else EXIT_OK


def _reconcile_text(result: ReconcileReport) -> str:
    lines = [f.describe() for f in result.findings]
    lines.append(result.summary_line())
    if result.drift and any(f.resolvable and not f.repaired for f in result.findings):
        lines.append("  `batisync reconcile --repair` (make reconcile REPAIR=1) writes them back")
    return "\n".join(lines)


def add_commands(commands: Any) -> None:
    push = commands.add_parser("export", help="apply to_push / heures_gone to SuiviMO")
    push.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    push.add_argument("--id-heure", help="export this slot only")
    push.add_argument("--force", action="store_true", help="retract past the share limit")
    push.set_defaults(repair=False)
    check = commands.add_parser(
        "reconcile",
        help="compare SuiviMO with the map (exit 1 on drift); --repair rewrites drifted rows",
    )
    check.add_argument(
        "--repair",
        action="store_true",
        help="rewrite missing/changed rows, and duplicates where one row holds our values",
    )
    check.set_defaults(dry_run=False, id_heure=None, force=False)
    for parser in (push, check):
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        parser.add_argument("--verbose", "-v", action="store_true")
        add_dossier_option(parser)
        parser.set_defaults(handler=cmd_export)


__all__ = ["add_commands", "cmd_export"]
