"""What every subcommand shares: settings with their secrets registered for redaction,
configuration errors worded once (exit 2), the sync lock for whatever writes (exit 75)."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator

from batisync.core.errors import EXIT_BUSY, EXIT_CONFIG, ConfigError
from batisync.core.logs import REDACT
from batisync.core.settings import Settings, load_settings
from batisync.orchestrate.lock import LockBusy, application_name, sync_lock

Required = Callable[[Settings], tuple[str, ...]]
log = logging.getLogger("batisync.settings")


def load(required: Required | None = None) -> Settings:
    """Settings with their secrets registered; raises ConfigErrors naming every setting that
    `required(settings)` lists and that is missing."""
    settings = load_settings()
    REDACT.add(settings.secret_values())
    for warning in settings.warnings:  # unknown credentials.json keys, unverified certificate
        log.warning("%s", warning)
    if required is not None:
        settings.require_all(required(settings))
    return settings


def config_failure(error: ConfigError) -> int:
    for each in getattr(error, "errors", [error]):
        print(f"configuration error: {each}", file=sys.stderr)
    if searched := getattr(error, "searched", ""):
        print(f"looked in {searched}", file=sys.stderr)
    print(
        "set it in the environment, in .env or in credentials.json "
        "(see README 'Configuration'); `make doctor` checks every setting",
        file=sys.stderr,
    )
    return EXIT_CONFIG


@contextlib.contextmanager
def writing(settings: Settings, command: str, *, writes: bool = True) -> Iterator[None]:
    """Hold the sync lock for a command that writes (raises LockBusy when a sync runs)."""
    if not writes:
        yield
        return
    with sync_lock(settings.staging.conninfo(), name=application_name(command)):
        yield


def busy_failure(busy: LockBusy) -> int:
    print(f"{busy}: nothing was done; try again when it has finished", file=sys.stderr)
    return EXIT_BUSY


__all__ = ["busy_failure", "config_failure", "load", "writing"]
