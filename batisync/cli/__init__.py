"""`batisync <command>`: the one command line for people, cron, CI and the Makefile.

Every subcommand goes through the same foundation: logs with secrets redacted, the sync
lock whenever it writes, and the contract's exit codes (0 done, 1 failed, 2 configuration,
75 another sync holds the lock).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from batisync.cli import export, history, load, recette, run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="batisync", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run.add_commands(commands)
    load.add_command(commands)
    export.add_commands(commands)
    recette.add_command(commands)
    history.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


__all__ = ["build_parser", "main"]
