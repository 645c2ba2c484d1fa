"""The errors every layer shares, the contract's exit codes, and one way to word a cause."""

from __future__ import annotations

from typing import Any

# CONTRACT.md "Commands": what `batisync sync` (and every other subcommand) exits with.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_BUSY = 75  # EX_TEMPFAIL: another sync holds the lock, nothing was done

# a run's status -> its exit code
EXIT_CODES = {
    "success": EXIT_OK,
    "failed": EXIT_FAILED,
    "interrupted": EXIT_FAILED,  # SIGTERM / SIGINT: the run stopped cleanly, not done
    "drift": EXIT_FAILED,  # reconcile found SuiviMO rows that differ from the map
    "config_error": EXIT_CONFIG,
    "busy": EXIT_BUSY,
}


class BatisyncError(Exception):
    """The root of every project error that ends a command. `cli.main` maps it, once, to
    `exit_code` and its message; stages and handlers only raise.

    Not under it on purpose: `Interrupted` (a `KeyboardInterrupt`, so that no `except
    Exception` swallows SIGTERM; `cli.main` maps it to 1) and the per-row outcomes
    (`BadRow`, `Invalid`), which are rejections reported with their reason, not exits.
    """

    exit_code = EXIT_FAILED
    # what the person does next, said on its own line after the message (or None)
    instruction: str | None = None


class ConfigError(BatisyncError, ValueError):
    """A setting is missing or malformed. CLIs exit 2 with this message."""

    exit_code = EXIT_CONFIG
    instruction: str | None = (
        "set it in the environment, in .env or in credentials.json "
        "(see docs/OPERATIONS.md '2. Configuration'); `make doctor` checks every setting"
    )
    searched = ""  # the settings files looked at (`Settings.require_all` sets it)

    def __init__(self, setting: str, expected: str, *, label: str | None = None) -> None:
        # `label` names the setting everywhere it can be set, e.g.
        # "HEURES_TIMEZONE (credentials.json `timezone`)"; `setting` is the variable
        super().__init__(f"{label or setting}: {expected}")
        self.setting = setting
        self.expected = expected
        self.label = label or setting


class ConfigErrors(ConfigError):
    """Several settings at fault at once, so one run names them all (a `ConfigErrors`
    among `errors` is flattened; the files it looked in are kept)."""

    def __init__(self, errors: list[ConfigError]) -> None:
        flat = [e for each in errors for e in getattr(each, "errors", [each])]
        super().__init__(flat[0].setting, flat[0].expected, label=flat[0].label)
        self.errors = flat
        self.searched = next((e.searched for e in errors if e.searched), "")


class StageError(BatisyncError):
    """A stage that ran to its end but failed (a dbt test, say); carries its report."""

    def __init__(self, message: str, report: Any = None) -> None:
        super().__init__(message)
        self.report = report  # the stage's typed report, or None


def first_line(error: BaseException, *, limit: int = 300, with_type: bool = True) -> str:
    """`Type: first line of the message`: a driver's multi-line text, made one log line.

    The DBAPI error under a SQLAlchemy wrapper is used when there is one: its text is the
    database's own, without SQLAlchemy's statement dump.
    """
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    if not with_type:
        return (lines[0] if lines else "unknown error")[:limit]
    text = f"{type(cause).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    return text[:limit]


# How drivers word a lost or refused connection (libpq, ODBC SQLSTATE 08xxx, sockets):
# matched in the text of an error and of its causes, whatever library wrapped it.
_CONNECTION_MARKERS = (
    "terminating connection",
    "server closed the connection",
    "connection refused",
    "could not connect",
    "connection reset",
    "connection is closed",
    "connection already closed",
    "connection timed out",
    "consuming input failed",
    "the database system is shutting down",
    "the database system is starting up",
    "ssl syscall error",
    "communication link failure",
    "[08s01]",
    "[08001]",
    "tcp provider",
)


class ConnectionLost(BatisyncError):
    """A system stopped answering mid-run; `system` names it for the one-line cause."""

    def __init__(self, system: str, cause: BaseException) -> None:
        super().__init__(f"{system}: {first_line(cause)}")
        self.system = system


def _chain(error: BaseException) -> list[BaseException]:
    """The error, its causes and contexts, and the DBAPI errors under wrappers."""
    seen: list[BaseException] = []
    todo = [error]
    while todo and len(seen) < 20:
        each = todo.pop()
        if each is None or any(each is s for s in seen):
            continue
        seen.append(each)
        todo += [each.__cause__, each.__context__, getattr(each, "orig", None)]
        todo += [getattr(each, "exception", None)]  # dlt's PipelineStepFailed
    return [e for e in seen if isinstance(e, BaseException)]


def is_connection_loss(error: BaseException) -> bool:
    """True when the error (or one of its causes) is a lost or refused connection."""
    for each in _chain(error):
        if isinstance(each, ConnectionLost | ConnectionError):
            return True
        text = str(each).lower()
        if any(marker in text for marker in _CONNECTION_MARKERS):
            return True
    return False


def lost_system(error: BaseException, default: str) -> str:
    """Which system a connection loss concerns: a `ConnectionLost` says; else `default`."""
    for each in _chain(error):
        if isinstance(each, ConnectionLost):
            return each.system
    return default


def connection_lost_line(system: str, error: BaseException) -> str:
    """The one line a run ends with when a system went away mid-run."""
    cause = first_line(error)
    if isinstance(error, ConnectionLost):
        cause = str(error).removeprefix(f"{error.system}: ")
    return (
        f"connection to {system} lost ({cause}); the run stopped cleanly, "
        "the next run resumes from what was committed"
    )


__all__ = [
    "EXIT_BUSY",
    "EXIT_CODES",
    "EXIT_CONFIG",
    "EXIT_FAILED",
    "EXIT_OK",
    "BatisyncError",
    "ConfigError",
    "ConfigErrors",
    "ConnectionLost",
    "StageError",
    "connection_lost_line",
    "first_line",
    "is_connection_loss",
    "lost_system",
]
