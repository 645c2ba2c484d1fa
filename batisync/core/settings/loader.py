"""`load_settings`: environment > `.env` > credentials.json > derived > default, every
value parsed, every error naming the variable and the file key, and where each value
came from (for doctor)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from batisync.core.errors import ConfigError
from batisync.core.settings import parsers as p
from batisync.core.settings.derive import api_url_from_sso, batigest_url_from_block
from batisync.core.settings.files import (
    CredentialsFile,
    credentials_path,
    in_project,
    read_credentials,
    read_dotenv,
    unknown_keys,
)
from batisync.core.settings.model import PgSettings, Settings
from batisync.core.settings.secret import Secret
from batisync.core.settings.spec import BY_VARIABLE, SPECS, Spec

DEFAULT = "default"


def _raw(
    spec: Spec, env: Mapping[str, str], dotenv: Mapping[str, str], credentials: CredentialsFile
) -> tuple[Any, str]:
    """The raw value of one setting and where it came from."""
    if spec.variable in env:
        return env[spec.variable], "environment"
    if spec.variable in dotenv:
        return dotenv[spec.variable], ".env"
    if spec.file_key and (value := credentials.get(spec.file_key)) is not None:
        return value, f"credentials.json `{spec.file_key}`"
    return None, DEFAULT


def _blank(spec: Spec, raw: Any) -> bool:
    # an empty password is a value (trust authentication); anything else empty is unset
    return isinstance(raw, str) and raw.strip() == "" and not spec.variable.endswith("PASSWORD")


def _parse(spec: Spec, raw: Any, origin: str) -> Any:
    try:
        return spec.parse(raw)
    except p.Invalid as invalid:
        raise ConfigError(spec.variable, f"{invalid} (from {origin})", label=spec.label) from None


def _batigest_from_file(credentials: CredentialsFile) -> tuple[Secret, str | None] | None:
    spec = BY_VARIABLE["BATIGEST_URL"]
    try:
        built = batigest_url_from_block(credentials.get("sqlserver"))
    except p.Invalid as invalid:
        raise ConfigError(spec.variable, str(invalid), label=spec.label) from None
    if built is None:
        return None
    url, warning = built
    return _parse(spec, url, "credentials.json `sqlserver`"), warning


def _searched(dotenv_file: Path | None, credentials: CredentialsFile, path: Path | None) -> str:
    def state(file: Path | None, what: str) -> str:
        if file is None:
            return f"no {what}"
        return f"{file} ({'read' if file.is_file() else 'absent'})"

    return f"the environment, {state(dotenv_file, '.env')}, {state(path, 'credentials.json')}"


def load_settings(
    environ: Mapping[str, str] | None = None, *, dotenv_path: str | Path | None = ".env"
) -> Settings:
    """Read every setting; raises ConfigError on the first malformed one. Relative paths
    (`dotenv_path`, `CREDENTIALS_FILE`) are relative to the project folder."""
    env = dict(os.environ if environ is None else environ)
    dotenv_file = in_project(dotenv_path) if dotenv_path else None
    dotenv = read_dotenv(dotenv_file)
    path, explicit = credentials_path(env, dotenv)
    credentials = read_credentials(path, explicit)
    warnings = unknown_keys(credentials)

    values: dict[str, Any] = {}
    staging: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for spec in SPECS:
        raw, origin = _raw(spec, env, dotenv, credentials)
        value = None
        if raw is not None and not _blank(spec, raw):
            value = _parse(spec, raw, origin)
        elif spec.variable == "BATIGEST_URL" and (built := _batigest_from_file(credentials)):
            value, warning = built
            origin = "credentials.json `sqlserver` block"
            warnings += [f"{spec.label}: {warning}"] if warning else []
        elif spec.variable == "BATISIMPLY_API_URL":
            sso = _raw(BY_VARIABLE["BATISIMPLY_SSO_URL"], env, dotenv, credentials)[0]
            if sso and (derived := api_url_from_sso(p.url(sso))):
                value, origin = derived, "derived from BATISIMPLY_SSO_URL (sso. → api., /api)"
        origins[spec.variable] = origin if value is not None else DEFAULT
        if value is None:
            continue
        if spec.attribute.startswith("staging."):
            staging[spec.attribute.removeprefix("staging.")] = value
        else:
            values[spec.attribute] = value
    return Settings(
        staging=PgSettings(**staging),
        origins=origins,
        warnings=tuple(warnings),
        searched=_searched(dotenv_file, credentials, path),
        **values,
    )


def describe(settings: Settings) -> dict[str, str]:
    """Every setting for `doctor`, secrets masked."""
    shown: dict[str, str] = {}
    for spec in SPECS:
        value = settings.value_of(spec.attribute)
        if isinstance(value, Secret):
            shown[spec.variable] = "***" if value else "(empty)"
        else:
            shown[spec.variable] = "(not set)" if value is None else str(value)
    return shown


__all__ = ["describe", "load_settings"]
