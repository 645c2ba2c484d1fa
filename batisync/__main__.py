"""`python -m batisync sync|doctor|dbt`: the thin command line over batisync.run.

Exit status (CONTRACT.md): 0 done, 1 failed, 2 configuration, 75 another sync runs.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from batisync.logs import REDACT, ProgressDisplay, setup_logging
from batisync.run import (
    config_errors,
    new_run_id,
    required_for_sync,
    secrets_of,
    sync_from_settings,
)
from batisync.settings import ConfigError, Settings, load_settings
from batisync.summary import EXIT_CODES, RunSummary, render_json, render_text

log = logging.getLogger("batisync")


def _load(required: Callable[[Settings], tuple[str, ...]] | None = None) -> Settings:
    """Settings with their secrets registered; raises ConfigError naming every setting
    that `required(settings)` lists and that is missing."""
    settings = load_settings()
    REDACT.add(secrets_of(settings))
    if required is not None and (errors := config_errors(settings, required(settings))):
        raise _Many(errors)
    return settings


class _Many(ConfigError):
    def __init__(self, errors: list[ConfigError]) -> None:
        super().__init__(errors[0].setting, errors[0].expected)
        self.errors = errors


def _config_failure(error: ConfigError) -> int:
    for each in getattr(error, "errors", [error]):
        print(f"configuration error: {each}", file=sys.stderr)
    print(
        "set it in the environment, in .env or in credentials.json "
        "(see README 'Configuration'); `make doctor` checks every setting",
        file=sys.stderr,
    )
    return EXIT_CODES["config_error"]


def cmd_sync(args: argparse.Namespace) -> int:
    setup = setup_logging(verbose=args.verbose)
    json_path = os.environ.get("SUMMARY_JSON")
    try:
        settings = _load(required_for_sync)
    except ConfigError as error:
        if args.json or json_path:
            now = datetime.now(UTC)
            errors = getattr(error, "errors", [error])
            summary = RunSummary(
                new_run_id(now), "config_error", now, now, error="; ".join(map(str, errors))
            )
            _emit(summary, args.json, json_path)
        return _config_failure(error)
    summary = sync_from_settings(
        settings, display=ProgressDisplay(setup, log), dry_run=args.dry_run
    )
    _emit(summary, args.json, json_path)
    return summary.exit_code


def _emit(summary: RunSummary, as_json: bool, json_path: str | None) -> None:
    print(render_json(summary) if as_json else render_text(summary), flush=True)
    if json_path:
        Path(json_path).write_text(render_json(summary) + "\n", encoding="utf-8")


def cmd_doctor(args: argparse.Namespace) -> int:
    setup_logging(verbose=args.verbose)
    from batisync.doctor import render, run_doctor

    try:
        settings = _load()
    except ConfigError as error:
        return _config_failure(error)
    checks = run_doctor(settings)
    print(render(settings, checks))
    if any(c.setting for c in checks):
        return EXIT_CODES["config_error"]
    return 1 if any(c.ok is False for c in checks) else 0


def cmd_dbt(args: argparse.Namespace) -> int:
    setup_logging(verbose=args.verbose)
    from batisync.run import dbt_env, run_dbt_command

    try:
        settings = _load(lambda _: ("PGHOST", "PGDATABASE"))
    except ConfigError as error:
        return _config_failure(error)
    return run_dbt_command(args.dbt_args, env=dbt_env(settings))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m batisync", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    sync = commands.add_parser("sync", help="load, transform, export (one production run)")
    sync.add_argument("--json", action="store_true", help="print the summary as JSON")
    sync.add_argument("--verbose", "-v", action="store_true", help="debug logging")
    sync.add_argument(
        "--dry-run", action="store_true", help="load and build, but write nothing to Batigest"
    )
    sync.set_defaults(handler=cmd_sync)
    doctor = commands.add_parser("doctor", help="check every setting and connection")
    doctor.add_argument("--verbose", "-v", action="store_true")
    doctor.set_defaults(handler=cmd_doctor)
    dbt = commands.add_parser("dbt", help="run dbt on the configured staging database")
    dbt.add_argument("--verbose", "-v", action="store_true")
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER, help="e.g. docs generate")
    dbt.set_defaults(handler=cmd_dbt)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
