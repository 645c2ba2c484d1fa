"""The typed settings: `PgSettings` (every form of the staging connection) and `Settings`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from batisync.core.errors import ConfigError, ConfigErrors
from batisync.core.settings.secret import Secret
from batisync.core.settings.spec import BY_VARIABLE


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
    scope: str | None = None
    # attempts per API request; the waits between them double from 1 s (60 s at most)
    retry_attempts: int = 6
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
    # a SuiviMO row deleted or edited by hand: the sync's drift stage restores it or reports
    on_drift: str = "repair"
    dbt_schema: str = "public"
    max_minutes: int = 1440  # plausibility: a slot beyond this never reaches SuiviMO
    # a webhook URL may carry its token (path or query): a Secret, never printed
    alert_webhook_url: Secret | None = field(default=None, repr=False)
    alert_rejected_threshold: int | None = None
    # where each variable's value came from ("environment", ".env", "credentials.json
    # `timezone`", "default", "derived from …"), for doctor
    origins: Mapping[str, str] = field(default_factory=dict, compare=False)
    # things to say without failing: unknown credentials.json keys, an unverified certificate
    warnings: tuple[str, ...] = field(default=(), compare=False)
    # the settings files looked at, for "is required" errors (a cron job without `cd`)
    searched: str = field(default="", compare=False)
    # the dossier these settings are of (`--dossier`, docs/DOSSIERS.md); None: the single
    # configuration
    dossier: str | None = None

    def require(self, *names: str) -> None:
        """Raise ConfigError naming the first of `names` (variable names) that is unset."""
        for name in names:
            spec = BY_VARIABLE[name]
            value = self.value_of(spec.attribute)
            if value is None or value == "" or (isinstance(value, Secret) and not value):
                why = spec.description or "not set"
                if name == "BATISIMPLY_API_URL" and self.sso_url:
                    why += "; derived from BATISIMPLY_SSO_URL only when its host is sso.<domain>"
                raise ConfigError(name, f"is required ({why})", label=spec.label)

    def value_of(self, attribute: str) -> Any:
        value: Any = self
        for part in attribute.split("."):
            value = getattr(value, part)
        return value

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
            failure = ConfigErrors(errors)
            failure.searched = self.searched
            raise failure

    def secret_values(self) -> list[str]:
        """Every secret value, so the log filter masks it wherever it shows up."""
        values = [
            self.client_secret,
            self.password,
            self.staging.password,
            self.alert_webhook_url,
        ]
        found = [v.reveal() for v in values if v]
        if self.batigest_url:
            url = self.batigest_url.reveal()
            found.append(url)
            password = sa.make_url(url).password
            if password:
                found.append(str(password))
        return found


__all__ = ["PgSettings", "Settings", "dlt_credentials"]
