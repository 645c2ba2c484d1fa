"""`batisync <command>`: the one command line for people, cron, CI and the Makefile.

Every subcommand goes through the same foundation: logs with secrets redacted, the sync
lock whenever it writes, and the contract's exit codes (0 done, 1 failed, 2 configuration,
75 another sync holds the lock). Each module registers its subcommands with
`add_commands`; a handler returns its exit status or raises, and `main` turns what it
raised into one message and an exit status (`batisync.cli.failures`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from batisync.cli import dossiers, export, history, load, recette, run
from batisync.cli.failures import exit_status
from batisync.core.logs import setup_logging


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="batisync", description=__doc__)
    # `subcommand`, not `command`: `runs --command` is an option of its own
    commands = parser.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")
    for module in (run, load, export, recette, history, dossiers):
        module.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.logs = setup_logging(verbose=args.verbose)
    try:
        return int(args.handler(args))
    except (Exception, KeyboardInterrupt) as error:  # SIGTERM raises `Interrupted` here
        return exit_status(error, args.subcommand)


__all__ = ["build_parser", "main"]
