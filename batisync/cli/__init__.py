"""`batisync <command>`: the one command line for people, cron, CI and the Makefile.

Every subcommand goes through the same foundation: logs with secrets redacted, the sync
lock whenever it writes, and the contract's exit codes (0 done, 1 failed, 2 configuration,
75 another sync holds the lock). Each module registers its subcommands with
`add_commands`; a handler returns its exit status or raises, and `main` turns what it
raised into one message and an exit status (`batisync.cli.failures`).
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys
import threading
from collections.abc import Sequence
from typing import NoReturn

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


def entry_point() -> NoReturn:
    """The console script: `main`, then a quick exit. Python's own teardown frees every
    object one by one (0.7 s after a sync that imported dbt, at 100,000 slots); once the
    threads are done, the atexit handlers ran (logging's flush among them) and the
    streams are flushed, nothing of ours needs it."""
    status = main()
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()  # what interpreter shutdown runs first
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


__all__ = ["build_parser", "entry_point", "main"]
