"""Dossiers: one client company each, configured by a folder of its own (CONTRACT.md
"Dossiers", docs/DOSSIERS.md).

`DOSSIERS_DIR/<name>/` holds that company's `credentials.json` (the old connector's file,
unchanged) and/or `.env`; `DOSSIERS_DIR/.env` what every dossier shares. A dossier's
settings: environment > its `.env` > its credentials.json > `DOSSIERS_DIR/.env` > derived
(its staging database `batisync_<name>`) > default. A per-dossier setting in the process
environment would point every dossier at one target: refused. Two dossiers that resolve
to one staging database are both refused. Pure file reading: no connection here.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from batisync.core.errors import ConfigError, ConfigErrors
from batisync.core.settings.files import (
    SettingsFiles,
    credentials_path,
    in_project,
    read_credentials,
    read_dotenv,
)
from batisync.core.settings.loader import settings_from
from batisync.core.settings.model import PgSettings, Settings

DOSSIERS_VARIABLE = "DOSSIERS_DIR"
DEFAULT_DOSSIERS_DIR = "dossiers"
VALID_NAME = re.compile(r"[a-z0-9_-]+")
# what identifies a dossier's targets: in the process environment it would apply to all
PER_DOSSIER_PREFIXES = ("PG", "BATISIMPLY_", "BATIGEST_")
PER_DOSSIER_NAMES = frozenset({"CREDENTIALS_FILE"})
DATABASE_PREFIX = "batisync_"
MAX_DATABASE_NAME = 63  # PostgreSQL's NAMEDATALEN - 1: a longer name is cut, not refused
WORK_FOLDER = ".batisync"  # a dossier's dbt target and logs, dlt pipelines
LOCAL_HOSTS = frozenset({"", "localhost", "127.0.0.1", "::1"})
INSTRUCTION = (
    "see docs/DOSSIERS.md; `batisync dossiers` lists every dossier with its targets and "
    "state, `batisync doctor --dossier NAME` checks one"
)


class DossierError(ConfigError):
    """A dossier that cannot run as configured (exit 2)."""

    instruction = INSTRUCTION


@dataclass(frozen=True)
class Dossier:
    name: str
    folder: Path
    problem: str | None = None  # why it cannot run before anything is read (its name)

    @property
    def work_folder(self) -> Path:
        return self.folder / WORK_FOLDER


@dataclass(frozen=True)
class Resolved:
    """A dossier and its settings, or why it is misconfigured."""

    dossier: Dossier
    settings: Settings | None = None
    error: ConfigError | None = None


def dossiers_dir(environ: Mapping[str, str] | None = None) -> Path:
    """`DOSSIERS_DIR` from the environment, else the project's `.env`, else `dossiers/`
    in the project folder; relative to the project folder."""
    env = os.environ if environ is None else environ
    value = env.get(DOSSIERS_VARIABLE) or read_dotenv(in_project(".env")).get(DOSSIERS_VARIABLE)
    return in_project(value.strip() if value and value.strip() else DEFAULT_DOSSIERS_DIR)


def discover(folder: Path) -> list[Dossier]:
    """Every subfolder but dot-folders, by name; an invalid name is kept with its problem
    (listed as misconfigured, never run)."""
    if not folder.is_dir():
        return []
    found = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        problem = None
        if not VALID_NAME.fullmatch(entry.name):
            problem = (
                f"invalid dossier name {entry.name!r}: lowercase letters, digits, '-' and '_' "
                "only (rename the folder)"
            )
        found.append(Dossier(entry.name, entry, problem))
    return found


def per_dossier_variables(environ: Mapping[str, str]) -> list[str]:
    return sorted(
        name
        for name in environ
        if name.startswith(PER_DOSSIER_PREFIXES) or name in PER_DOSSIER_NAMES
    )


def check_environment(environ: Mapping[str, str] | None = None) -> None:
    """Raise ConfigErrors naming every per-dossier setting of the process environment."""
    env = os.environ if environ is None else environ
    errors = [
        DossierError(
            name,
            "is set in the environment, where it would apply to every dossier: with "
            "--dossier or --all, set it in the dossier's .env or credentials.json (or in "
            "DOSSIERS_DIR/.env for what every dossier shares), and unset it here",
        )
        for name in per_dossier_variables(env)
    ]
    if errors:
        failure = ConfigErrors(errors)
        failure.instruction = INSTRUCTION
        raise failure


def dossier_files(dossier: Dossier, shared_env: Path) -> SettingsFiles:
    """The dossier's `.env` and credentials.json over the shared `.env`, and its own
    staging database name as the derived default."""
    dotenv_path = dossier.folder / ".env"
    dotenv = read_dotenv(dotenv_path)
    # CREDENTIALS_FILE only from the dossier's own .env, relative to its folder
    path, explicit = credentials_path({}, dotenv, base=dossier.folder)
    label = f"dossier {dossier.name}"
    return SettingsFiles(
        dotenv=dotenv,
        credentials=read_credentials(path, explicit),
        dotenv_path=dotenv_path,
        credentials_path=path,
        dotenv_label=f"{label} .env",
        credentials_label=f"{label} credentials.json",
        shared={k: v for k, v in read_dotenv(shared_env).items() if k not in PER_DOSSIER_NAMES},
        shared_path=shared_env,
        shared_label=f"{shared_env}",
        derived={"PGDATABASE": (database_name(dossier.name), "derived from the dossier's name")},
    )


def database_name(name: str) -> str:
    return f"{DATABASE_PREFIX}{name}"


def dossier_settings(dossier: Dossier, environ: Mapping[str, str] | None = None) -> Settings:
    """One dossier's settings (raises ConfigError). The environment rule is the caller's
    (`check_environment`, once for every dossier)."""
    if dossier.problem:
        raise DossierError(DOSSIERS_VARIABLE, dossier.problem)
    env = dict(os.environ if environ is None else environ)
    files = dossier_files(dossier, dossier.folder.parent / ".env")
    settings = settings_from(env, files, dossier=dossier.name)
    database = settings.staging.database or ""
    if len(database.encode()) > MAX_DATABASE_NAME:
        raise DossierError(
            "PGDATABASE",
            f"the staging database name {database!r} is longer than {MAX_DATABASE_NAME} "
            "bytes: set a shorter PGDATABASE in the dossier's .env",
        )
    return settings


def staging_key(staging: PgSettings) -> tuple[str, int, str]:
    """Which database a dossier's staging settings reach (loopback names as one)."""
    host = (staging.host or "").lower()
    host = "localhost" if host in LOCAL_HOSTS else host
    return host, staging.port or 5432, staging.database or ""


def resolve_all(
    environ: Mapping[str, str] | None = None, folder: Path | None = None
) -> list[Resolved]:
    """Every dossier of the folder with its settings or its error; two that reach one
    staging database are both misconfigured."""
    folder = folder if folder is not None else dossiers_dir(environ)
    resolved = []
    for dossier in discover(folder):
        try:
            resolved.append(Resolved(dossier, dossier_settings(dossier, environ)))
        except ConfigError as error:
            resolved.append(Resolved(dossier, error=error))
    keys = Counter(staging_key(r.settings.staging) for r in resolved if r.settings)
    out = []
    for each in resolved:
        if each.settings and keys[key := staging_key(each.settings.staging)] > 1:
            sharing = [  # in the folder's order, the same text for each of them
                r.dossier.name
                for r in resolved
                if r.settings and staging_key(r.settings.staging) == key
            ]
            host, port, database = key
            error = DossierError(
                "PGDATABASE",
                f"dossiers {', '.join(sharing)} all use the staging "
                f"database {database} on {host}:{port}: each dossier needs a database of its "
                "own (leave PGDATABASE unset to get batisync_<dossier>)",
            )
            each = Resolved(each.dossier, error=error)
        out.append(each)
    return out


def resolve(name: str, environ: Mapping[str, str] | None = None) -> tuple[Dossier, Settings]:
    """Dossier `name` and its settings (raises ConfigError: the environment rule, an
    unknown or invalid dossier, its settings, another dossier on its database)."""
    check_environment(environ)
    folder = dossiers_dir(environ)
    found = resolve_all(environ, folder)
    match = next((r for r in found if r.dossier.name == name), None)
    if match is None:
        names = ", ".join(r.dossier.name for r in found) or "none"
        where = f"{folder}" if folder.is_dir() else f"{folder} (absent)"
        raise DossierError("--dossier", f"no dossier {name!r} in {where}; dossiers: {names}")
    if match.error is not None:
        raise match.error
    assert match.settings is not None
    return match.dossier, match.settings


def work_env(work: Path) -> dict[str, str]:
    """dbt's target and log folders and dlt's pipelines folder under `work`: a dossier's
    own (`Dossier.work_folder`: parallel dossiers never share a manifest or a pipeline
    state), or a test's."""
    return {
        "DBT_TARGET_PATH": str(work / "dbt_target"),
        "DBT_LOG_PATH": str(work / "dbt_logs"),
        "LOADER_PIPELINES_DIR": str(work / "dlt"),
    }


__all__ = [
    "DOSSIERS_VARIABLE",
    "Dossier",
    "DossierError",
    "Resolved",
    "check_environment",
    "database_name",
    "discover",
    "dossier_settings",
    "dossiers_dir",
    "per_dossier_variables",
    "resolve",
    "resolve_all",
    "staging_key",
    "work_env",
]
