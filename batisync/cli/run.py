"""`batisync sync`, `batisync doctor`, `batisync dbt ARGS`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from batisync.cli.common import add_dossier_option, check_output_path, load, writing
from batisync.core.errors import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, ConfigError, ConfigErrors
from batisync.core.file_modes import config_file_warnings
from batisync.core.ids import new_run_id
from batisync.core.logs import ProgressDisplay
from batisync.core.settings import Settings
from batisync.orchestrate.summary import RunSummary, render_json
from batisync.orchestrate.summary_text import render_text

log = logging.getLogger(__name__)


def _jobs(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def cmd_sync(args: argparse.Namespace) -> int:
    if args.jobs is not None and not args.all:
        args.parser.error("--jobs goes with --all")
    if args.all:
        from batisync.cli.dossiers import cmd_sync_all

        args.jobs = args.jobs or 1
        return cmd_sync_all(args)
    json_path = os.environ.get("SUMMARY_JSON") or None
    errors: list[ConfigError] = []
    settings = None
    for warning in config_file_warnings():  # first: a config error must not hide it
        log.warning("%s", warning)
    try:  # every setting at fault is named at once, the output path's included
        settings = load(Settings.required_for_sync, dossier=args.dossier)
    except ConfigError as error:
        errors.append(error)
    if json_path:  # checked before any work: a bad path must not fail a run that worked
        try:
            check_output_path("SUMMARY_JSON", json_path)
        except ConfigError as error:
            errors.append(error)
            json_path = None
    if errors or settings is None:
        failure = ConfigErrors(errors)
        if args.json or json_path:  # the run's own summary says it too
            now = datetime.now(UTC)
            cause = "; ".join(map(str, failure.errors))
            summary = RunSummary(new_run_id(now), "config_error", now, now, error=cause)
            _emit(summary, args.json, json_path)
        raise failure
    from batisync.orchestrate.sync import sync_from_settings

    summary = sync_from_settings(
        settings,
        display=ProgressDisplay(args.logs, log),
        dry_run=args.dry_run,
        full_refresh=args.full_refresh,
    )
    _emit(summary, args.json, json_path)
    return summary.exit_code


def _emit(summary: RunSummary, as_json: bool, json_path: str | None) -> None:
    print(render_json(summary) if as_json else render_text(summary), flush=True)
    if json_path:
        try:
            Path(json_path).write_text(render_json(summary) + "\n", encoding="utf-8")
        except OSError as error:  # checked before the run; the run's own outcome stands
            print(
                f"warning: SUMMARY_JSON: could not write {json_path}: {error.strerror}",
                file=sys.stderr,
            )


def cmd_doctor(args: argparse.Namespace) -> int:
    from batisync.tools.doctor import render, run_doctor

    settings = load(dossier=args.dossier)
    checks = run_doctor(settings)
    print(render(settings, checks))
    if any(c.setting for c in checks):
        return EXIT_CONFIG
    return EXIT_FAILED if any(c.ok is False for c in checks) else EXIT_OK


def cmd_dbt(args: argparse.Namespace) -> int:
    from batisync.transform.build import (
        WRITING_COMMANDS,
        adopt_old_table,
        dbt_env,
        run_dbt_command,
    )

    settings = load(lambda _: ("PGHOST", "PGDATABASE"), dossier=args.dossier)
    # a command that may write the marts runs under the sync lock, after the adoption of
    # the old connector's batigest_heures (a refusal: AdoptionRefused, exit 2); `docs
    # generate`, `parse`, `ls`… write nothing (any word naming a writing command counts:
    # global flags may come before it)
    writes = any(arg in WRITING_COMMANDS for arg in args.dbt_args)
    with writing(settings, "dbt", writes=writes):
        if writes:
            adopt_old_table(settings)
        return run_dbt_command(args.dbt_args, env=dbt_env(settings))


def add_commands(commands: Any) -> None:
    sync = commands.add_parser("sync", help="load, transform, export (one production run)")
    sync.add_argument("--json", action="store_true", help="print the summary as JSON")
    sync.add_argument("--verbose", "-v", action="store_true", help="debug logging")
    sync.add_argument(
        "--dry-run", action="store_true", help="load and build, but write nothing to Batigest"
    )
    sync.add_argument(
        "--full-refresh",
        action="store_true",
        help=(
            "rebuild the incremental models from staging (batigest_heures is kept); "
            "the drift check compares every employee"
        ),
    )
    which = sync.add_mutually_exclusive_group()
    add_dossier_option(which)
    which.add_argument(
        "--all", action="store_true", help="every dossier, each in a process of its own"
    )
    sync.add_argument(
        "--jobs", type=_jobs, metavar="N", help="with --all: N dossiers at a time (1)"
    )
    sync.set_defaults(handler=cmd_sync, parser=sync)
    doctor = commands.add_parser("doctor", help="check every setting and connection")
    doctor.add_argument("--verbose", "-v", action="store_true")
    add_dossier_option(doctor)
    doctor.set_defaults(handler=cmd_doctor)
    dbt = commands.add_parser("dbt", help="run dbt on the configured staging database")
    dbt.add_argument("--verbose", "-v", action="store_true")
    add_dossier_option(dbt)
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER, help="e.g. docs generate")
    dbt.set_defaults(handler=cmd_dbt)


__all__ = ["add_commands", "cmd_dbt", "cmd_doctor", "cmd_sync"]
