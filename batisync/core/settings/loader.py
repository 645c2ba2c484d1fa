"""`load_settings`: environment > `.env` > credentials.json > derived > default, every
value parsed, every error naming the variable and the file key, and where each value
came from (for doctor). `settings_from` takes the files as layers: a dossier's own
`.env` and credentials.json over `DOSSIERS_DIR/.env` (`dossiers.py`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from batisync.core.errors import ConfigError
from batisync.core.settings import parsers as p
from batisync.core.settings.derive import api_url_from_sso, batigest_url_from_block
from batisync.core.settings.files import SettingsFiles, project_files, unknown_keys
from batisync.core.settings.model import PgSettings, Settings
from batisync.core.settings.secret import Secret
from batisync.core.settings.spec import BY_VARIABLE, SPECS, Spec

DEFAULT = "default"
SQLSERVER_BLOCK = "sqlserver"


def _raw(spec: Spec, env: Mapping[str, str], files: SettingsFiles) -> tuple[Any, str]:
    """The raw value of one setting and where it came from: the first layer that holds
    it (a blank value too: it means unset, and stops there)."""
    if spec.variable in env:
        return env[spec.variable], "environment"
    if spec.variable in files.dotenv:
        return files.dotenv[spec.variable], files.dotenv_label
    if spec.file_key and (value := files.credentials.get(spec.file_key)) is not None:
        return value, f"{files.credentials_label} `{spec.file_key}`"
    if spec.variable == "BATIGEST_URL" and files.credentials.get(f"{SQLSERVER_BLOCK}.server"):
        return None, DEFAULT  # the credentials.json block, built below, comes first
    if spec.variable in files.shared:
        return files.shared[spec.variable], files.shared_label
    return None, DEFAULT


def _blank(spec: Spec, raw: Any) -> bool:
    # an empty password is a value (trust authentication); anything else empty is unset
    return isinstance(raw, str) and raw.strip() == "" and not spec.variable.endswith("PASSWORD")


def _parse(spec: Spec, raw: Any, origin: str) -> Any:
    try:
        return spec.parse(raw)
    except p.Invalid as invalid:
        raise ConfigError(spec.variable, f"{invalid} (from {origin})", label=spec.label) from None


def _batigest_from_file(files: SettingsFiles) -> tuple[Secret, str | None] | None:
    spec = BY_VARIABLE["BATIGEST_URL"]
    try:
        built = batigest_url_from_block(files.credentials.get(SQLSERVER_BLOCK))
    except p.Invalid as invalid:
        raise ConfigError(spec.variable, str(invalid), label=spec.label) from None
    if built is None:
        return None
    url, warning = built
    return _parse(spec, url, f"{files.credentials_label} `{SQLSERVER_BLOCK}`"), warning


def load_settings(
    environ: Mapping[str, str] | None = None, *, dotenv_path: str | Path | None = ".env"
) -> Settings:
    """Read every setting; raises ConfigError on the first malformed one. Relative paths
    (`dotenv_path`, `CREDENTIALS_FILE`) are relative to the project folder."""
    env = dict(os.environ if environ is None else environ)
    return settings_from(env, project_files(env, dotenv_path))


def settings_from(
    env: Mapping[str, str], files: SettingsFiles, *, dossier: str | None = None
) -> Settings:
    """Every setting from the environment over `files` (their layers in order), then the
    derived values and the defaults."""
    warnings = unknown_keys(files.credentials)
    values: dict[str, Any] = {}
    staging: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for spec in SPECS:
        raw, origin = _raw(spec, env, files)
        value = None
        if raw is not None and not _blank(spec, raw):
            value = _parse(spec, raw, origin)
        elif spec.variable == "BATIGEST_URL" and (built := _batigest_from_file(files)):
            value, warning = built
            origin = f"{files.credentials_label} `{SQLSERVER_BLOCK}` block"
            warnings += [f"{spec.label}: {warning}"] if warning else []
        elif spec.variable == "BATISIMPLY_API_URL":
            sso = _raw(BY_VARIABLE["BATISIMPLY_SSO_URL"], env, files)[0]
            if sso and (derived := api_url_from_sso(p.url(sso))):
                value, origin = derived, "derived from BATISIMPLY_SSO_URL (sso. → api., /api)"
        elif spec.variable in files.derived:
            derived_value, origin = files.derived[spec.variable]
            value = _parse(spec, derived_value, origin)
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
        searched=files.searched(),
        dossier=dossier,
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


__all__ = ["describe", "load_settings", "settings_from"]
