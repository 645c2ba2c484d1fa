"""The settings batisync knows: variable, `Settings` attribute, credentials.json key,
parser, and what to say when it is missing. One table, read by the loader, `require`
and doctor; the credentials.json keys it does not list are reported as unknown."""

from __future__ import annotations

from dataclasses import dataclass

from batisync.core.settings import parsers as p


@dataclass(frozen=True)
class Spec:
    variable: str
    attribute: str  # dotted for PgSettings fields: "staging.port"
    file_key: str  # dotted path in credentials.json; "" when the file has no such key
    parse: p.Parser
    description: str = ""
    file_note: str = ""  # where the file sets it otherwise (BATIGEST_URL: `sqlserver`)

    @property
    def label(self) -> str:
        """How errors name the setting: the variable and, when there is one, the file key."""
        where = self.file_key or self.file_note
        return f"{self.variable} (credentials.json `{where}`)" if where else self.variable


SPECS: tuple[Spec, ...] = (
    Spec("BATISIMPLY_API_URL", "api_url", "batisimply.api_url", p.url,
         "the BatiSimply API base URL, e.g. https://api.<domain>/api"),
    Spec("BATISIMPLY_SSO_URL", "sso_url", "batisimply.sso_url", p.url,
         "the OpenID Connect token endpoint URL"),
    Spec("BATISIMPLY_CLIENT_ID", "client_id", "batisimply.client_id", p.text,
         "the OAuth2 client id"),
    Spec("BATISIMPLY_CLIENT_SECRET", "client_secret", "batisimply.client_secret", p.secret,
         "the OAuth2 client secret"),
    Spec("BATISIMPLY_USERNAME", "username", "batisimply.username", p.text,
         "the BatiSimply user for the password grant"),
    Spec("BATISIMPLY_PASSWORD", "password", "batisimply.password", p.secret,
         "the BatiSimply password for the password grant"),
    Spec("BATISIMPLY_GRANT_TYPE", "grant_type", "batisimply.grant_type",
         p.choice("password", "client_credentials")),
    Spec("BATISIMPLY_SCOPE", "scope", "batisimply.scope", p.text),
    Spec("BATISIMPLY_RETRY_ATTEMPTS", "retry_attempts", "batisimply.retry_attempts",
         p.int_between(1, 20),
         "attempts per BatiSimply request (429, 5xx, no answer) before the load fails"),
    Spec("PGHOST", "staging.host", "postgres.host", p.text, "host of the staging PostgreSQL"),
    Spec("PGPORT", "staging.port", "postgres.port", p.int_between(1, 65535)),
    Spec("PGUSER", "staging.user", "postgres.user", p.text),
    Spec("PGPASSWORD", "staging.password", "postgres.password", p.secret),
    Spec("PGDATABASE", "staging.database", "postgres.database", p.text,
         "database of the staging PostgreSQL"),
    Spec("BATIGEST_URL", "batigest_url", "", p.sqlalchemy_url,
         "SQLAlchemy URL of the Batigest database, mssql+mssqlpython://…, or credentials.json "
         "sqlserver.server/.user/.password/.database", file_note="sqlserver"),
    Spec("BATIGEST_SCHEMA", "batigest_schema", "sqlserver.schema", p.text),
    Spec("HEURES_WINDOW_DAYS", "window_days", "heures_window_days", p.int_between(1, 3660)),
    Spec("HEURES_TIMEZONE", "timezone", "timezone", p.timezone),
    Spec("HEURES_CHUNK_DAYS", "chunk_days", "heures_chunk_days", p.int_between(1, 366)),
    Spec("HEURES_DELETE_GUARD_RATIO", "delete_guard_ratio", "heures_delete_guard_ratio",
         p.share),
    Spec("EXPORT_BATCH_SIZE", "batch_size", "export_batch_size", p.int_between(1, 100_000)),
    Spec("HEURES_ON_GONE", "on_gone", "heures_on_gone", p.choice("keep", "delete")),
    Spec("HEURES_RETRACT_MAX_SHARE", "retract_max_share", "heures_retract_max_share", p.share),
    Spec("HEURES_ON_DRIFT", "on_drift", "heures_on_drift", p.choice("repair", "report"),
         "what a sync does with a SuiviMO row deleted or edited by hand: `repair` it from "
         "the map, or only `report` it"),
    Spec("DBT_SCHEMA", "dbt_schema", "dbt_schema", p.text),
    Spec("HEURES_MAX_MINUTES", "max_minutes", "heures_max_minutes", p.int_between(1, 100_000),
         "the longest plausible slot, in minutes"),
    Spec("ALERT_WEBHOOK_URL", "alert_webhook_url", "alert_webhook_url", p.secret_url,
         "a URL that receives the run summary when a run fails or finds new rejections"),
    Spec("ALERT_REJECTED_THRESHOLD", "alert_rejected_threshold", "alert_rejected_threshold",
         p.int_between(0, 10_000_000)),
)  # fmt: skip
BY_VARIABLE: dict[str, Spec] = {spec.variable: spec for spec in SPECS}

# credentials.json keys read outside SPECS: the `sqlserver` block builds BATIGEST_URL
SQLSERVER_KEYS = frozenset(
    {"server", "port", "user", "password", "database", "driver", "trust_server_certificate"}
)
KNOWN_FILE_KEYS: frozenset[str] = frozenset(
    {spec.file_key for spec in SPECS if spec.file_key}
    | {f"sqlserver.{key}" for key in SQLSERVER_KEYS}
)
# keys the old connector (connecteur-sages-V1) writes that batisync has no use for
OLD_CONNECTOR_KEYS = frozenset(
    {"software", "mode", "debug", "hfsql", "license", "license_key", "heures_days_back"}
)

__all__ = ["BY_VARIABLE", "KNOWN_FILE_KEYS", "OLD_CONNECTOR_KEYS", "SPECS", "Spec"]
