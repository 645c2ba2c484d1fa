"""One typed settings object, read from the environment, `.env` and `credentials.json`.

Precedence (CONTRACT.md): environment > `.env` > `credentials.json` > default.
Every error names the setting at fault and what was expected.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from dotenv import dotenv_values

from batisync.core.errors import ConfigError, ConfigErrors


class Secret:
    """A value that never shows itself in logs, reprs or summaries."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class PgSettings:
    """The staging PostgreSQL, under libpq's own names."""

    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: Secret | None = field(default=None, repr=False)
    database: str | None = None

    def sqlalchemy_url(self) -> sa.URL:
        """A `URL` object: render it with `hide_password=True` anywhere it may be seen."""
        return sa.URL.create(
            "postgresql+psycopg",
            username=self.user,
            password=self.password.reveal() if self.password else None,
            host=self.host,
            port=self.port,
            database=self.database,
        )

    def env(self) -> dict[str, str]:
        """The PG* variables for a child process (dbt reads them through `env_var`)."""
        values = {
            "PGHOST": self.host,
            "PGPORT": str(self.port) if self.port else None,
            "PGUSER": self.user,
            "PGPASSWORD": self.password.reveal() if self.password else None,
            "PGDATABASE": self.database,
        }
        return {k: v for k, v in values.items() if v is not None}

    def conninfo(self) -> dict[str, Any]:
        """psycopg keywords (the password stays in memory, never in a DSN string)."""
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password.reveal() if self.password else None,
            "dbname": self.database,
            "connect_timeout": 10,
        }

    def dlt_credentials(self) -> str:
        """dlt's postgres credentials (a psycopg2 DSN; dlt requires a password field,
        and trust authentication needs none, so an absent one is empty)."""
        return dlt_credentials(self.sqlalchemy_url())


def dlt_credentials(url: str | sa.URL) -> str:
    """A staging URL as dlt's postgres credentials."""
    parsed = sa.make_url(url).set(drivername="postgresql")
    if parsed.password is None:
        parsed = parsed.set(password="")
    return parsed.render_as_string(hide_password=False)


@dataclass(frozen=True)
class Settings:
    api_url: str | None = None
    sso_url: str | None = None
    client_id: str | None = None
    client_secret: Secret | None = field(default=None, repr=False)
    username: str | None = None
    password: Secret | None = field(default=None, repr=False)
    grant_type: str = "password"
    staging: PgSettings = field(default_factory=PgSettings)
    batigest_url: Secret | None = field(default=None, repr=False)
    batigest_schema: str = "dbo"
    window_days: int = 180
    timezone: str = "Europe/Paris"
    chunk_days: int = 31
    delete_guard_ratio: float = 0.5
    batch_size: int = 1000
    on_gone: str = "keep"
    retract_max_share: float = 0.1
    dbt_schema: str = "public"
    max_minutes: int = 1440  # plausibility: a slot beyond this never reaches SuiviMO

    def require(self, *names: str) -> None:
        """Raise ConfigError naming the first of `names` (variable names) that is unset."""
        for name in names:
            attribute, _ = _BY_VARIABLE[name]
            value = _lookup(self, attribute)
            if value is None or value == "" or (isinstance(value, Secret) and not value):
                raise ConfigError(name, f"is required ({_DESCRIPTIONS.get(name, 'not set')})")

    def batisimply_required(self) -> tuple[str, ...]:
        """The API settings this grant type needs."""
        base = (
            "BATISIMPLY_API_URL",
            "BATISIMPLY_SSO_URL",
            "BATISIMPLY_CLIENT_ID",
            "BATISIMPLY_CLIENT_SECRET",
        )
        if self.grant_type == "password":
            return (*base, "BATISIMPLY_USERNAME", "BATISIMPLY_PASSWORD")
        return base

    def required_for_sync(self) -> tuple[str, ...]:
        return (*self.batisimply_required(), "PGHOST", "PGDATABASE", "BATIGEST_URL")

    def missing(self, names: tuple[str, ...]) -> list[ConfigError]:
        """Every missing setting among `names`, so one run reports them all."""
        errors = []
        for name in names:
            try:
                self.require(name)
            except ConfigError as error:
                errors.append(error)
        return errors

    def require_all(self, names: tuple[str, ...]) -> None:
        """Raise ConfigErrors naming every setting of `names` that is missing."""
        if errors := self.missing(names):
            raise ConfigErrors(errors)

    def secret_values(self) -> list[str]:
        """Every secret value, so the log filter masks it wherever it shows up."""
        values = [self.client_secret, self.password, self.staging.password]
        found = [v.reveal() for v in values if v]
        if self.batigest_url:
            url = self.batigest_url.reveal()
            found.append(url)
            password = sa.make_url(url).password
            if password:
                found.append(str(password))
        return found


# -- parsing ---------------------------------------------------------------------


def _text(value: Any, name: str) -> str:
    return str(value).strip()


def _url(value: Any, name: str) -> str:
    text = _text(value, name).rstrip("/")
    if not text.startswith(("http://", "https://")):
        raise ConfigError(name, f"expected an http(s) URL, got {text!r}")
    return text


def _secret(value: Any, name: str) -> Secret:
    return Secret(str(value))


def _int_between(low: int, high: int) -> Callable[[Any, str], int]:
    def parse(value: Any, name: str) -> int:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ConfigError(name, f"expected a whole number, got {value!r}") from None
        if not low <= number <= high:
            raise ConfigError(name, f"expected a number from {low} to {high}, got {number}")
        return number

    return parse


def _share(value: Any, name: str) -> float:
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ConfigError(name, f"expected a number between 0 and 1, got {value!r}") from None
    if not 0 <= number <= 1:
        raise ConfigError(name, f"expected a number between 0 and 1, got {number}")
    return number


def _choice(*allowed: str) -> Callable[[Any, str], str]:
    def parse(value: Any, name: str) -> str:
        text = _text(value, name).lower()
        if text not in allowed:
            raise ConfigError(name, f"expected one of {', '.join(allowed)}, got {value!r}")
        return text

    return parse


def _timezone(value: Any, name: str) -> str:
    text = _text(value, name)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            name, f"expected an IANA time zone such as Europe/Paris, got {text!r}"
        ) from None
    return text


def _sqlalchemy_url(value: Any, name: str) -> Secret:
    text = _text(value, name)
    try:
        url = sa.make_url(text)
    except sa.exc.ArgumentError:
        raise ConfigError(
            name, "expected a SQLAlchemy URL such as mssql+pyodbc://user:pass@host/db?driver=..."
        ) from None
    if url.get_backend_name() not in {"mssql", "postgresql"}:
        raise ConfigError(
            name,
            f"expected an mssql+pyodbc:// (or postgresql:// stand-in) URL, "
            f"got a {url.get_backend_name()} URL",
        )
    return Secret(text)


# variable -> (Settings attribute, credentials.json path, parser)
_SPEC: list[tuple[str, str, str, Callable[[Any, str], Any]]] = [
    ("BATISIMPLY_API_URL", "api_url", "batisimply.api_url", _url),
    ("BATISIMPLY_SSO_URL", "sso_url", "batisimply.sso_url", _url),
    ("BATISIMPLY_CLIENT_ID", "client_id", "batisimply.client_id", _text),
    ("BATISIMPLY_CLIENT_SECRET", "client_secret", "batisimply.client_secret", _secret),
    ("BATISIMPLY_USERNAME", "username", "batisimply.username", _text),
    ("BATISIMPLY_PASSWORD", "password", "batisimply.password", _secret),
    (
        "BATISIMPLY_GRANT_TYPE",
        "grant_type",
        "batisimply.grant_type",
        _choice("password", "client_credentials"),
    ),
    ("PGHOST", "staging.host", "postgres.host", _text),
    ("PGPORT", "staging.port", "postgres.port", _int_between(1, 65535)),
    ("PGUSER", "staging.user", "postgres.user", _text),
    ("PGPASSWORD", "staging.password", "postgres.password", _secret),
    ("PGDATABASE", "staging.database", "postgres.database", _text),
    ("BATIGEST_URL", "batigest_url", "", _sqlalchemy_url),
    ("BATIGEST_SCHEMA", "batigest_schema", "sqlserver.schema", _text),
    ("HEURES_WINDOW_DAYS", "window_days", "heures_window_days", _int_between(1, 3660)),
    ("HEURES_TIMEZONE", "timezone", "timezone", _timezone),
    ("HEURES_CHUNK_DAYS", "chunk_days", "heures_chunk_days", _int_between(1, 366)),
    ("HEURES_DELETE_GUARD_RATIO", "delete_guard_ratio", "heures_delete_guard_ratio", _share),
    ("EXPORT_BATCH_SIZE", "batch_size", "export_batch_size", _int_between(1, 100_000)),
    ("HEURES_ON_GONE", "on_gone", "heures_on_gone", _choice("keep", "delete")),
    ("HEURES_RETRACT_MAX_SHARE", "retract_max_share", "heures_retract_max_share", _share),
    ("DBT_SCHEMA", "dbt_schema", "dbt_schema", _text),
    ("HEURES_MAX_MINUTES", "max_minutes", "heures_max_minutes", _int_between(1, 100_000)),
]
_BY_VARIABLE = {variable: (attribute, path) for variable, attribute, path, _ in _SPEC}
_DESCRIPTIONS = {
    "BATISIMPLY_API_URL": "the BatiSimply API base URL",
    "BATISIMPLY_SSO_URL": "the OpenID Connect token endpoint URL",
    "BATISIMPLY_CLIENT_ID": "the OAuth2 client id",
    "BATISIMPLY_CLIENT_SECRET": "the OAuth2 client secret",
    "BATISIMPLY_USERNAME": "the BatiSimply user for the password grant",
    "BATISIMPLY_PASSWORD": "the BatiSimply password for the password grant",
    "BATIGEST_URL": "SQLAlchemy URL of the Batigest database, mssql+pyodbc://…, or "
    "credentials.json sqlserver.server/.user/.password/.database",
    "PGHOST": "host of the staging PostgreSQL",
    "PGDATABASE": "database of the staging PostgreSQL",
}


def _lookup(settings: Settings, attribute: str) -> Any:
    value: Any = settings
    for part in attribute.split("."):
        value = getattr(value, part)
    return value


def _dig(document: Mapping[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _read_credentials(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError("CREDENTIALS_FILE", f"{path} is not valid JSON ({error})") from None
    if not isinstance(document, dict):
        raise ConfigError("CREDENTIALS_FILE", f"{path} must hold a JSON object")
    return document


def _batigest_url_from_credentials(document: Mapping[str, Any]) -> str | None:
    """The seed's `sqlserver` block → an mssql+pyodbc URL (ODBC Driver 18 by default)."""
    block = document.get("sqlserver")
    if not isinstance(block, Mapping) or not block.get("server"):
        return None
    query = {"driver": str(block.get("driver", "ODBC Driver 18 for SQL Server"))}
    if "trust_server_certificate" in block:
        query["TrustServerCertificate"] = "yes" if block["trust_server_certificate"] else "no"
    host, _, port = str(block["server"]).partition(",")
    url = sa.URL.create(
        "mssql+pyodbc",
        username=block.get("user"),
        password=block.get("password"),
        host=host,
        port=int(port) if port.strip().isdigit() else None,
        database=block.get("database"),
        query=query,
    )
    return url.render_as_string(hide_password=False)


def load_settings(
    environ: Mapping[str, str] | None = None, *, dotenv_path: str | Path | None = ".env"
) -> Settings:
    """Read every setting; raises ConfigError on the first malformed one."""
    env = dict(os.environ if environ is None else environ)
    dotenv = (
        {k: v for k, v in dotenv_values(dotenv_path).items() if v is not None}
        if (dotenv_path and Path(dotenv_path).exists())
        else {}
    )
    credentials_path = Path(
        env.get("CREDENTIALS_FILE") or dotenv.get("CREDENTIALS_FILE") or "credentials.json"
    )
    document = _read_credentials(credentials_path)

    values: dict[str, Any] = {}
    staging: dict[str, Any] = {}
    for variable, attribute, path, parse in _SPEC:
        raw = env.get(variable)
        if raw is None:
            raw = dotenv.get(variable)
        if raw is None and path:
            raw = _dig(document, path)
        if raw is None and variable == "BATIGEST_URL":
            raw = _batigest_url_from_credentials(document)
        if raw is None or (
            isinstance(raw, str) and raw.strip() == "" and not variable.endswith("PASSWORD")
        ):
            continue
        value = parse(raw, variable)
        if attribute.startswith("staging."):
            staging[attribute.removeprefix("staging.")] = value
        else:
            values[attribute] = value
    return Settings(staging=PgSettings(**staging), **values)


def describe(settings: Settings) -> dict[str, str]:
    """Every setting for `doctor`, secrets masked."""
    shown: dict[str, str] = {}
    for variable, attribute, _, _ in _SPEC:
        value = _lookup(settings, attribute)
        if isinstance(value, Secret):
            shown[variable] = "***" if value else "(empty)"
        else:
            shown[variable] = "(not set)" if value is None else str(value)
    return shown


__all__ = [
    "ConfigError",
    "ConfigErrors",
    "PgSettings",
    "Secret",
    "Settings",
    "describe",
    "dlt_credentials",
    "load_settings",
]
