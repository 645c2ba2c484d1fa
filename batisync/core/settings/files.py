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


def in_project(path: str | Path) -> Path:
    """A relative path as relative to the project folder."""
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else project_root() / candidate


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


def credentials_path(env: Mapping[str, str], dotenv: Mapping[str, str]) -> tuple[Path | None, bool]:
    """(path, explicitly named). `CREDENTIALS_FILE=` (empty) means no file at all."""
    for source in (env, dotenv):
        if CREDENTIALS_VARIABLE in source:
            value = source[CREDENTIALS_VARIABLE].strip()
            return (in_project(value), True) if value else (None, True)
    return in_project(DEFAULT_CREDENTIALS), False


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
    "credentials_path",
    "in_project",
    "project_root",
    "read_credentials",
    "read_dotenv",
    "unknown_keys",
]
