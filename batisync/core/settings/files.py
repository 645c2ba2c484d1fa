"""The settings files: where they are (the project folder, not the current one), reading
them (credentials.json as Windows Notepad saves it: BOM, CRLF), and the keys batisync
does not know."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from batisync.core.errors import ConfigError
from batisync.core.settings.spec import KNOWN_FILE_KEYS, OLD_CONNECTOR_KEYS

CREDENTIALS_VARIABLE = "CREDENTIALS_FILE"
DEFAULT_CREDENTIALS = "credentials.json"


def project_root() -> Path:
    """The repository folder (where pyproject.toml is): a cron line without `cd` finds
    the same `.env` and `credentials.json` as one run from the folder. Falls back to the
    current folder for an installation outside the repository."""
    for folder in Path(__file__).resolve().parents:
        if (folder / "pyproject.toml").is_file() and (folder / "batisync").is_dir():
            return folder
    return Path.cwd()


def in_project(path: str | Path, base: Path | None = None) -> Path:
    """A relative path as relative to `base` (default: the project folder)."""
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else (base or project_root()) / candidate


def read_dotenv(path: Path | None) -> dict[str, str]:
    if path is None or not path.is_file():
        return {}
    return {k: v for k, v in dotenv_values(path, encoding="utf-8-sig").items() if v is not None}


@dataclass(frozen=True)
class CredentialsFile:
    """credentials.json as read: `path` None when there is none to read."""

    path: Path | None
    document: Mapping[str, Any] = field(default_factory=dict)

    def get(self, key: str) -> Any:
        """The value at a dotted key, None when absent."""
        value: Any = self.document
        for part in key.split("."):
            if not isinstance(value, Mapping) or part not in value:
                return None
            value = value[part]
        return value


def credentials_path(
    env: Mapping[str, str], dotenv: Mapping[str, str], base: Path | None = None
) -> tuple[Path | None, bool]:
    """(path, explicitly named). `CREDENTIALS_FILE=` (empty) means no file at all; a
    relative path is relative to `base` (default: the project folder)."""
    for source in (env, dotenv):
        if CREDENTIALS_VARIABLE in source:
            value = source[CREDENTIALS_VARIABLE].strip()
            return (in_project(value, base), True) if value else (None, True)
    return in_project(DEFAULT_CREDENTIALS, base), False


def read_credentials(path: Path | None, explicit: bool) -> CredentialsFile:
    """The file as a JSON object; a named file that does not exist is an error (exit 2),
    the default one may be absent."""
    if path is None:
        return CredentialsFile(None)
    if not path.exists():
        if explicit:
            raise ConfigError(CREDENTIALS_VARIABLE, f"{path} does not exist")
        return CredentialsFile(None)
    try:
        # utf-8-sig: with or without the BOM Windows Notepad writes
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(CREDENTIALS_VARIABLE, f"{path} is not valid JSON ({error})") from None
    if not isinstance(document, dict):
        raise ConfigError(CREDENTIALS_VARIABLE, f"{path} must hold a JSON object")
    return CredentialsFile(path, document)


@dataclass(frozen=True)
class SettingsFiles:
    """What the settings files hold, in their order of precedence (under the environment):
    `.env`, credentials.json, then `shared` (a dossier's `DOSSIERS_DIR/.env`), then
    `derived` values (a dossier's own database name). Labels say where a value came from."""

    dotenv: Mapping[str, str]
    credentials: CredentialsFile
    dotenv_path: Path | None = None
    credentials_path: Path | None = None
    dotenv_label: str = ".env"
    credentials_label: str = "credentials.json"
    shared: Mapping[str, str] = field(default_factory=dict)
    shared_path: Path | None = None
    shared_label: str = ""
    derived: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # value, why

    def searched(self) -> str:
        """The files looked at, for "is required" errors (a cron job without `cd`)."""

        def state(file: Path | None, what: str) -> str:
            if file is None:
                return f"no {what}"
            return f"{file} ({'read' if file.is_file() else 'absent'})"

        looked = [
            "the environment",
            state(self.dotenv_path, ".env"),
            state(self.credentials_path, "credentials.json"),
        ]
        if self.shared_path is not None:
            looked.append(state(self.shared_path, "shared .env"))
        return ", ".join(looked)


def project_files(env: Mapping[str, str], dotenv_path: str | Path | None) -> SettingsFiles:
    """The single configuration's files: `.env` and credentials.json of the project folder
    (or where `CREDENTIALS_FILE` says)."""
    dotenv_file = in_project(dotenv_path) if dotenv_path else None
    dotenv = read_dotenv(dotenv_file)
    path, explicit = credentials_path(env, dotenv)
    return SettingsFiles(
        dotenv=dotenv,
        credentials=read_credentials(path, explicit),
        dotenv_path=dotenv_file,
        credentials_path=path,
    )


def _leaf_keys(document: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    for key, value in document.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value and dotted not in OLD_CONNECTOR_KEYS:
            yield from _leaf_keys(value, dotted + ".")
        else:
            yield dotted


def unknown_keys(credentials: CredentialsFile) -> list[str]:
    """One warning per key batisync does not read: the old connector's own keys, or typos
    (with the closest known key)."""
    warnings = []
    for key in _leaf_keys(credentials.document):
        if key in KNOWN_FILE_KEYS:
            continue
        if key in OLD_CONNECTOR_KEYS:
            warnings.append(f"credentials.json `{key}`: a setting of the old connector, ignored")
            continue
        close = difflib.get_close_matches(key, sorted(KNOWN_FILE_KEYS), n=1, cutoff=0.6)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        warnings.append(f"credentials.json `{key}`: unknown key, ignored{hint}")
    return warnings


__all__ = [
    "CREDENTIALS_VARIABLE",
    "CredentialsFile",
    "SettingsFiles",
    "credentials_path",
    "in_project",
    "project_files",
    "project_root",
    "read_credentials",
    "read_dotenv",
    "unknown_keys",
]
