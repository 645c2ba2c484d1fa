"""The dossiers (docs/DOSSIERS.md): `batisync sync --all [--jobs N] [--json]` (every
dossier, N at a time, each in a process of its own), `batisync dossiers [--json]` (each
dossier's targets, last run, state and rejections) and `batisync import-map --dossier NAME
--from URL` (the old connector's map brought in).

`sync --all` exits 1 if any dossier failed, else 2 if any is misconfigured, else 75 if
every dossier was locked, else 0 (CONTRACT.md "Dossiers").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

from batisync.cli.common import add_dossier_option, check_output_path, load, writing
from batisync.core.errors import EXIT_CONFIG, EXIT_OK, ConfigError
from batisync.core.logs import REDACT
from batisync.core.settings import dossiers as dossier_settings
from batisync.core.settings.dossiers import DOSSIERS_VARIABLE, Dossier, DossierError

_stderr = threading.Lock()


def _echo(dossier: str, line: str) -> None:
    """A child's log line on our stderr, named by its dossier (N run at once)."""
    with _stderr:
        sys.stderr.write(f"[{dossier}] {line}\n")
        sys.stderr.flush()


def dossier_child(argv: list[str]) -> int:
    """What `sync --all`'s warm child runs: `batisync <argv>` (module level: the forked
    child imports it by name)."""
    from batisync.cli import main

    return main(argv)


def _child_command(args: argparse.Namespace) -> Any:
    """A dossier's `batisync` arguments (the warm launcher runs them in a forked child)."""

    def command(dossier: Dossier) -> list[str]:
        flags = ["--dry-run"] * args.dry_run + ["--verbose"] * args.verbose
        flags += ["--full-refresh"] * getattr(args, "full_refresh", False)
        return ["sync", "--dossier", dossier.name, "--json", *flags]

    return command


def cmd_sync_all(args: argparse.Namespace) -> int:
    from batisync.orchestrate.fleet import run_fleet
    from batisync.orchestrate.fleet_text import render_fleet
    from batisync.orchestrate.launchers import WarmLauncher

    json_path = os.environ.get("SUMMARY_JSON") or None
    try:
        dossier_settings.check_environment()
        if json_path:
            check_output_path("SUMMARY_JSON", json_path)
        folder = dossier_settings.dossiers_dir()
        found = dossier_settings.discover(folder)
        if not found:
            where = folder if folder.is_dir() else f"{folder} (absent)"
            raise DossierError(DOSSIERS_VARIABLE, f"no dossier in {where}: nothing to sync")
    except ConfigError as error:
        if args.json:  # the whole's JSON says it too
            print(json.dumps({"exit_status": EXIT_CONFIG, "dossiers": [], "error": str(error)}))
        raise
    # each child finds the same folder; only the whole writes SUMMARY_JSON
    env = {k: v for k, v in os.environ.items() if k != "SUMMARY_JSON"}
    env[DOSSIERS_VARIABLE] = str(folder)
    warm = WarmLauncher(dossier_child)  # the sync's imports paid once, not per dossier
    result = run_fleet(
        found, _child_command(args), jobs=args.jobs, env=env, on_line=_echo, launcher=warm
    )
    as_json = json.dumps(result.to_dict(), indent=2, default=str)
    print(as_json if args.json else render_fleet(result), flush=True)
    if json_path:
        try:
            Path(json_path).write_text(as_json + "\n", encoding="utf-8")
        except OSError as error:
            print(f"warning: SUMMARY_JSON: could not write {json_path}: {error.strerror}",
                  file=sys.stderr)  # fmt: skip
    return result.exit_status


def cmd_dossiers(args: argparse.Namespace) -> int:
    from batisync.orchestrate.dossier_list import dossier_state

    dossier_settings.check_environment()
    folder = dossier_settings.dossiers_dir()
    states = [dossier_state(r) for r in dossier_settings.resolve_all(folder=folder)]
    if args.json:
        data = {"dossiers_dir": str(folder), "dossiers": [s.to_dict() for s in states]}
        print(json.dumps(data, indent=2, default=str))
        return EXIT_OK
    if not states:
        print(f"no dossier in {folder}" + ("" if folder.is_dir() else " (absent)"))
        return EXIT_OK
    print(f"{len(states)} dossier(s) in {folder}")
    for state in states:
        data = state.to_dict()
        last = data["last_run"]
        when = f"last sync {last['started_at'][:16]} {last['status']}" if last else "no sync yet"
        rejected = "-" if state.rejected is None else str(state.rejected)
        print(f"  {state.dossier:<16} {state.status:<13} {when}; rejected {rejected}")
        if state.targets:
            api = data["batisimply"]
            print(f"      BatiSimply {api['username'] or api['client_id']} at {api['api_url']}")
            print(f"      Batigest   {data['batigest']}")
            print(f"      staging    {data['staging']}")
        if state.error:
            print(f"      {state.error}")
    return EXIT_OK


def cmd_import_map(args: argparse.Namespace) -> int:
    from batisync.core.connections import make_staging_engine
    from batisync.export.import_map import import_map, source_url

    url = source_url(args.source)
    if url.password:
        REDACT.add([str(url.password)])
    settings = load(lambda _: ("PGHOST", "PGDATABASE"), dossier=args.dossier)
    staging = make_staging_engine(settings.staging.sqlalchemy_url())
    source = make_staging_engine(url)
    try:
        with writing(settings, "import-map"):
            report = import_map(
                staging, source, staging_schema=settings.dbt_schema, source_schema=args.schema
            )
    finally:
        staging.dispose()
        source.dispose()
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.summary_line())
    return EXIT_OK


def add_commands(commands: Any) -> None:
    listing = commands.add_parser(
        "dossiers", help="every dossier: targets, last run, state, rejections waiting"
    )
    listing.add_argument("--json", action="store_true", help="print them as JSON")
    listing.add_argument("--verbose", "-v", action="store_true")
    listing.set_defaults(handler=cmd_dossiers)
    importing = commands.add_parser(
        "import-map",
        help="copy the old connector's batigest_heures_map rows from its old staging server",
    )
    importing.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="URL",
        help="the old staging database, postgresql://user@host:5432/db (~/.pgpass works)",
    )
    importing.add_argument("--schema", default="public", help="its schema (public)")
    importing.add_argument("--json", action="store_true", help="print the report as JSON")
    importing.add_argument("--verbose", "-v", action="store_true")
    add_dossier_option(importing)
    importing.set_defaults(handler=cmd_import_map)


__all__ = ["add_commands", "cmd_dossiers", "cmd_import_map", "cmd_sync_all"]
