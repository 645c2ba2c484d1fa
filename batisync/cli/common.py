"""What every subcommand shares: settings (the single configuration's, or a dossier's
with `--dossier NAME`) with their secrets registered for redaction, output paths checked
before any work, the sync lock for whatever writes (LockBusy)."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from batisync.core.errors import ConfigError
from batisync.core.logs import REDACT
from batisync.core.settings import Settings, load_settings
from batisync.core.settings import dossiers as dossier_settings
from batisync.orchestrate.lock import application_name, sync_lock

Required = Callable[[Settings], tuple[str, ...]]
log = logging.getLogger(__name__)


def add_dossier_option(parser: Any) -> None:
    parser.add_argument(
        "--dossier",
        metavar="NAME",
        help="the dossier DOSSIERS_DIR/NAME (docs/DOSSIERS.md) instead of the single configuration",
    )


def load(required: Required | None = None, *, dossier: str | None = None) -> Settings:
    """Settings with their secrets registered; raises ConfigErrors naming every setting that
    `required(settings)` lists and that is missing. With `dossier`: that dossier's, and
    this process's dbt and dlt work folders become its own."""
    if dossier is None:
        settings = load_settings()
    else:
        found, settings = dossier_settings.resolve(dossier)
        # dbt and dlt read these from the environment; this process runs one dossier
        os.environ.update(dossier_settings.work_env(found.work_folder))
    REDACT.add(settings.secret_values())
    for warning in settings.warnings:  # unknown credentials.json keys, unverified certificate
        log.warning("%s", warning)
    if required is not None:
        settings.require_all(required(settings))
    return settings


def check_output_path(setting: str, path: str) -> Path:
    """A file this run will write, checked before any work: its folder exists and we may
    write there (a run must not fail, or look failed, at its very end for a typo)."""
    target = Path(path).expanduser()
    if target.is_dir():
        raise ConfigError(setting, f"{path} is a folder; expected the path of a file to write")
    folder = target.parent
    if not folder.is_dir():
        raise ConfigError(
            setting, f"the folder {folder} does not exist: create it, or choose another path"
        )
    writable = os.access(target, os.W_OK) if target.exists() else os.access(folder, os.W_OK)
    if not writable:
        raise ConfigError(setting, f"{target} cannot be written by this user")
    return target


@contextlib.contextmanager
def writing(settings: Settings, command: str, *, writes: bool = True) -> Iterator[None]:
    """Hold the sync lock for a command that writes (raises LockBusy when a sync runs)."""
    if not writes:
        yield
        return
    if settings.dossier is not None:  # its database exists and is its own
        from batisync.orchestrate.dossier_db import prepare

        prepare(settings)
    with sync_lock(settings.staging.conninfo(), name=application_name(command)):
        yield


__all__ = ["add_dossier_option", "check_output_path", "load", "writing"]
