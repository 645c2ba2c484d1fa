"""How a command that did not finish ends: its message on stderr and its exit status.

The one place an error becomes an exit (`batisync.cli.main` calls it): handlers and the
code under them only raise. Every line is redacted; a traceback is logged only at debug
level (`--verbose`), for the failures that are not the person's to fix by a setting.
"""

from __future__ import annotations

import logging
import sys

from batisync.core.errors import EXIT_FAILED, BatisyncError, ConfigError, first_line
from batisync.core.logs import redact
from batisync.orchestrate.lock import LockBusy

log = logging.getLogger(__name__)


def failure_lines(error: BaseException, command: str) -> list[str]:
    """What `batisync COMMAND` says when it ended on `error`."""
    if isinstance(error, ConfigError):
        lines = [f"configuration error: {each}" for each in getattr(error, "errors", [error])]
        lines += [f"looked in {error.searched}"] if error.searched else []
    elif isinstance(error, LockBusy):
        lines = [f"{error}: nothing was done; try again when it has finished"]
    elif isinstance(error, KeyboardInterrupt):  # `Interrupted` (SIGTERM, SIGINT), Ctrl-C
        lines = [f"{command} interrupted" + (f" by {error}" if str(error) else "")]
    elif isinstance(error, BatisyncError):  # the project's own words
        lines = [f"{command} failed: {error}"]
    else:  # a driver, the network, the disk: its type and first line
        lines = [f"{command} failed: {first_line(error)}"]
    instruction = getattr(error, "instruction", None)
    return lines + ([instruction] if instruction else [])


def exit_status(error: BaseException, command: str) -> int:
    """Say why `command` ended on `error`, and return the contract's exit status for it."""
    expected = isinstance(error, ConfigError | LockBusy | KeyboardInterrupt)
    if not expected:
        log.debug("%s failed", command, exc_info=error)
    for line in failure_lines(error, command):
        print(redact(line), file=sys.stderr, flush=True)
    return error.exit_code if isinstance(error, BatisyncError) else EXIT_FAILED


__all__ = ["exit_status", "failure_lines"]
