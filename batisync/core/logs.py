"""Logging for people and for cron: rich on a terminal, timestamped plain lines otherwise.

Every handler carries a `RedactingFilter`, so a secret that slips into a message or
a traceback (a URL with its password, a token) is masked before it is written.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

PLAIN_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
MASK = "***"
# user:password@ in URLs, PWD=/password= in ODBC strings, bearer tokens
_PATTERNS = (
    (re.compile(r"(\b[a-zA-Z][\w+.-]*://[^:/@\s]*:)[^@\s]+@"), rf"\1{MASK}@"),
    (re.compile(r"(?i)\b(pwd|password|client_secret|access_token)=([^;&\s]+)"), rf"\1={MASK}"),
    (re.compile(r"(?i)(bearer\s+)[\w.~+/=-]+"), rf"\1{MASK}"),
)
# libraries that log every request or row: INFO with --verbose, WARNING otherwise
NOISY_LOGGERS = ("urllib3", "requests", "dlt", "dbt", "filelock", "asyncio")
# SQLAlchemy's INFO/DEBUG is its statement echo (with parameters): never on by itself
QUIET_LOGGERS = ("sqlalchemy",)
_noisy_level = logging.NOTSET  # the level setup_logging gave NOISY_LOGGERS


class Redactor:
    """Masks known secret values and secret-shaped substrings."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets: set[str] = set()
        self.add(secrets)

    def add(self, secrets: Iterable[str | None]) -> None:
        # very short values would mask ordinary words; the patterns still cover them in URLs
        self.secrets.update(s for s in secrets if s and len(s) >= 4)

    def __call__(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text


REDACT = Redactor()  # process-wide: setup_logging and the CLIs add the configured secrets


def redact(text: str) -> str:
    return REDACT(text)


class RedactingFilter(logging.Filter):
    def __init__(self, redactor: Redactor = REDACT) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redactor(record.getMessage())
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        return True


class OnceFilter(logging.Filter):
    """Lets each warning through once (same logger, same text): what several stages of one
    run find alike (the Batigest inspection, read by the no-change check and the export)
    is said once."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[tuple[str, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING:
            return True
        key = (record.name, record.getMessage())
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


@contextlib.contextmanager
def warnings_once() -> Iterator[None]:
    """Within the block, each warning is written once by every handler of the root logger
    (a run's log; the next run says it again)."""
    filters = {handler: OnceFilter() for handler in logging.getLogger().handlers}
    for handler, once in filters.items():
        handler.addFilter(once)
    try:
        yield
    finally:
        for handler, once in filters.items():
            handler.removeFilter(once)


@dataclass
class LogSetup:
    interactive: bool
    level: int
    console: Console | None = None
    handlers: list[logging.Handler] = field(default_factory=list)


def resolve_level(verbose: bool, environ: dict[str, str] | None = None) -> int:
    if verbose:
        return logging.DEBUG
    name = (environ if environ is not None else os.environ).get("LOG_LEVEL", "INFO").upper()
    level = logging.getLevelName(name)
    return level if isinstance(level, int) else logging.INFO


def setup_logging(
    *,
    verbose: bool = False,
    stream: IO[str] | None = None,
    secrets: Iterable[str | None] = (),
    interactive: bool | None = None,
) -> LogSetup:
    """Configure the root logger once per process; returns what the progress display needs."""
    stream = stream or sys.stderr
    REDACT.add(secrets)
    level = resolve_level(verbose)
    forced = interactive
    if interactive is None:
        interactive = stream.isatty() and os.environ.get("TERM") != "dumb"
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    console: Console | None = None
    if interactive:
        console = Console(file=stream, force_terminal=forced or None)
        handler: logging.Handler = RichHandler(
            console=console, show_path=False, rich_tracebacks=False, markup=False
        )
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    else:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter(PLAIN_FORMAT))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(level)
    global _noisy_level
    _noisy_level = logging.INFO if verbose else logging.WARNING
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(_noisy_level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return LogSetup(interactive=interactive, level=level, console=console, handlers=[handler])


def adopt_library_logger(name: str) -> None:
    """Put a library logger that set itself up (dlt's runtime gives `dlt` a stderr
    handler of its own, its own level and no propagation) back under ours: our format,
    our redaction, the level setup_logging gives NOISY_LOGGERS."""
    logger = logging.getLogger(name)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.propagate = True
    logger.setLevel(_noisy_level)


# -- progress ------------------------------------------------------------------------


class StageTask:
    """What a stage reports progress through. `update` is cheap; call it freely."""

    def __init__(self, name: str, progress: Progress | None, logger: logging.Logger) -> None:
        self.name = name
        self._progress = progress
        self._task = progress.add_task(name, total=None) if progress else None
        self._logger = logger
        self._last_log = time.monotonic()
        self.completed = 0
        self.total: int | None = None

    def update(
        self, completed: int | None = None, total: int | None = None, detail: str | None = None
    ) -> None:
        if completed is not None:
            self.completed = completed
        if total is not None:
            self.total = total
        if self._progress is not None and self._task is not None:
            description = f"{self.name}: {detail}" if detail else self.name
            self._progress.update(
                self._task, completed=self.completed, total=self.total, description=description
            )
        elif time.monotonic() - self._last_log >= 30:  # cron logs: a line every 30 s at most
            self._last_log = time.monotonic()
            of = f"/{self.total}" if self.total else ""
            self._logger.info("%s: %s%s %s", self.name, self.completed, of, detail or "")

    def advance(self, step: int = 1, detail: str | None = None) -> None:
        self.update(completed=self.completed + step, detail=detail)


class ProgressDisplay:
    """Progress bars on a terminal; start/finish lines (the logger's) otherwise."""

    def __init__(self, setup: LogSetup | None, logger: logging.Logger) -> None:
        self.console = setup.console if setup and setup.interactive else None
        self.logger = logger

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[StageTask]:
        if self.console is None:
            yield StageTask(name, None, self.logger)
            return
        columns: list[Any] = [
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        ]
        with Progress(*columns, console=self.console, transient=True) as progress:
            yield StageTask(name, progress, self.logger)


__all__ = [
    "LogSetup",
    "OnceFilter",
    "ProgressDisplay",
    "RedactingFilter",
    "Redactor",
    "StageTask",
    "redact",
    "resolve_level",
    "setup_logging",
    "warnings_once",
]
