"""`batisync runs` (the run history, like `dlt pipeline info`) and `batisync rejected`
(the slots that cannot be pushed, for whoever fixes the data). Both only read staging.

    batisync runs [--limit N] [--command sync|reconcile|debug-heures]
    batisync runs --last --json          # for monitoring
    batisync rejected [--new] [--csv [PATH]]

Exit status: 0 done, 1 staging unreachable or nothing recorded yet, 2 configuration.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg

from batisync.cli.common import add_dossier_option, check_output_path, load
from batisync.core.errors import EXIT_FAILED, EXIT_OK
from batisync.orchestrate import runs as history

NEEDED = ("PGHOST", "PGDATABASE")
COUNTS = ("inserted", "updated", "moved", "unchanged", "retracted", "rejected")


# -- runs ----------------------------------------------------------------------------------


def _duration(run: Mapping[str, Any]) -> str:
    if not run.get("finished_at"):
        return "running"
    seconds = (run["finished_at"] - run["started_at"]).total_seconds()
    return f"{seconds:.1f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


def describe_run(run: Mapping[str, Any]) -> list[str]:
    """Two or three lines per run: what, when, how it ended; its counts; its error."""
    dry = " [dry run]" if run.get("dry_run") else ""
    exit_code = "" if run.get("exit_code") is None else f" (exit {run['exit_code']})"
    head = (
        f"{run['started_at']:%Y-%m-%d %H:%M:%S}  {run['command']:<12} "
        f"{str(run['status']).upper():<12} {_duration(run):>9}  {run['run_id']}{exit_code}{dry}"
    )
    lines = [head]
    summary = run.get("summary") or {}
    counts = summary.get("suivimo") or {}
    if run["command"] == "reconcile":
        report = next((s.get("report") for s in summary.get("stages", []) if s.get("report")), {})
        if report:
            lines.append(
                f"    checked {report.get('checked')}, ok {report.get('ok')}, "
                f"missing {len(report.get('missing', []))}, changed "
                f"{len(report.get('changed', []))}, duplicated "
                f"{len(report.get('duplicated', []))}; repaired {report.get('repaired')}, "
                f"left {report.get('drift')}"
            )
    elif counts:
        parts = []
        if run.get("rows_fetched") is not None:
            parts.append(f"fetched {run['rows_fetched']}")
        if run.get("rows_changed_staging") is not None:
            parts.append(f"changed in staging {run['rows_changed_staging']}")
        if run.get("dry_run") and counts.get("would"):
            would = counts["would"]
            parts.append(
                "SuiviMO nothing written (would insert {inserted}, update {updated}, "
                "move {moved}, retract {retracted})".format(**would)
            )
        else:
            parts.append("SuiviMO " + ", ".join(f"{k} {counts.get(k, 0)}" for k in COUNTS[:-1]))
        rejected = f"rejected {counts.get('rejected', 0)}"
        if counts.get("rejected_new") is not None:
            rejected += f" ({counts.get('rejected_new')} new)"
        parts.append(rejected)
        lines.append("    " + "; ".join(parts))
    if drift := summary.get("drift"):
        lines.append("    " + _drift_text(drift))
    if run.get("failed_stage") or run.get("error"):
        stage = f"at {run['failed_stage']}: " if run.get("failed_stage") else ""
        lines.append(f"    {stage}{run.get('error') or ''}")
    if alert := summary.get("alert"):
        lines.append(f"    alert: {alert.get('outcome')}")
    return lines


def _drift_text(drift: Mapping[str, Any]) -> str:
    """`SuiviMO drift: checked N; restored N (missing 1); reported N (moved_by_hand 1); N new`."""
    parts = [f"SuiviMO drift: checked {drift.get('checked', 0)}"]
    for name in ("restored", "reported"):
        kinds = ", ".join(f"{k} {n}" for k, n in (drift.get(f"{name}_kinds") or {}).items())
        parts.append(f"{name} {drift.get(name, 0)}" + (f" ({kinds})" if kinds else ""))
    return "; ".join(parts) + f"; {drift.get('new', 0)} new"


def _jsonable(run: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in run.items():
        out[key] = value.isoformat() if isinstance(value, datetime) else value
    if out.get("finished_at") and run.get("started_at"):
        out["duration_s"] = round((run["finished_at"] - run["started_at"]).total_seconds(), 3)
    return json.loads(json.dumps(out, default=str))


def cmd_runs(args: argparse.Namespace) -> int:
    settings = load(lambda _: NEEDED, dossier=args.dossier)
    limit = 1 if args.last else args.limit
    with psycopg.connect(**settings.staging.conninfo(), autocommit=True) as conn:
        rows = history.recent_runs(conn, settings.dbt_schema, limit, command=args.command)
    if not rows:
        print("no run recorded yet (sync_runs is empty or absent)", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        data: Any = _jsonable(rows[0]) if args.last else [_jsonable(r) for r in rows]
        print(json.dumps(data, indent=2))
    else:
        for run in rows:
            print("\n".join(describe_run(run)))
    return EXIT_OK


# -- rejected ------------------------------------------------------------------------------


def write_csv(rows: Sequence[Mapping[str, Any]], stream: io.TextIOBase | Any) -> None:
    if not rows:
        return
    writer = csv.DictWriter(stream, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})


def describe_rejected(row: Mapping[str, Any]) -> str:
    when = f"{row['started_at_local']:%Y-%m-%d %H:%M}" if row.get("started_at_local") else "?"
    project = " ".join(
        str(x) for x in (row.get("project_code"), row.get("project_name")) if x is not None
    )
    mark = "NEW " if row.get("is_new") else "    "
    return (
        f"{mark}{row['id_heure']:<10} {when:<16} {row.get('employee_name') or '?'!s:<24} "
        f"project {row.get('project_id') or '?'} {project}: {row['reason']}: {row['detail']}"
    )


def cmd_rejected(args: argparse.Namespace) -> int:
    settings = load(lambda _: NEEDED, dossier=args.dossier)
    target = None if args.csv in (None, "-") else check_output_path("--csv", args.csv)
    from batisync.core.connections import make_staging_engine
    from batisync.export.rejections import read_rejected

    engine = make_staging_engine(settings.staging.sqlalchemy_url())
    try:
        with engine.connect() as conn:
            rows = read_rejected(conn, settings.dbt_schema)
    finally:
        engine.dispose()
    if args.new:
        rows = [r for r in rows if r.get("is_new")]
    if args.csv is not None:
        if target is None:
            write_csv(rows, sys.stdout)
        else:
            with target.open("w", encoding="utf-8-sig", newline="") as stream:  # Excel: BOM
                write_csv(rows, stream)
            print(f"{len(rows)} rejected slot(s) written to {target}", file=sys.stderr)
        return EXIT_OK
    for row in rows:
        print(describe_rejected(row))
    new = sum(1 for r in rows if r.get("is_new"))
    print(f"{len(rows)} rejected slot(s), {new} new since the last run")
    return EXIT_OK


def add_commands(commands: Any) -> None:
    runs = commands.add_parser("runs", help="the recent runs (sync_runs), newest first")
    runs.add_argument("--limit", type=int, default=10, help="how many runs (10)")
    runs.add_argument("--last", action="store_true", help="only the latest run")
    runs.add_argument("--command", help="only this command (sync, reconcile, debug-heures)")
    runs.add_argument("--json", action="store_true", help="print the runs as JSON")
    runs.add_argument("--verbose", "-v", action="store_true")
    add_dossier_option(runs)
    runs.set_defaults(handler=cmd_runs)
    rejected = commands.add_parser(
        "rejected", help="the slots that cannot be pushed, with what to fix (heures_rejected)"
    )
    rejected.add_argument(
        "--csv",
        nargs="?",
        const="-",
        metavar="PATH",
        help="write them as CSV to PATH (stdout without PATH)",
    )
    rejected.add_argument("--new", action="store_true", help="only those new since the last run")
    rejected.add_argument("--verbose", "-v", action="store_true")
    add_dossier_option(rejected)
    rejected.set_defaults(handler=cmd_rejected)


__all__ = ["add_commands", "cmd_rejected", "cmd_runs", "describe_run"]
