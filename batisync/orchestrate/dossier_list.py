"""`batisync dossiers`: each dossier's targets (no secret), its last sync, its state and
the rejections waiting, read from its own staging database (only read: a dossier that
never ran has no database yet, and none is created here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import sql

from batisync.core.connections import relation_exists
from batisync.core.errors import first_line
from batisync.core.logs import redact
from batisync.core.settings import Settings
from batisync.core.settings.dossiers import Resolved
from batisync.orchestrate import runs
from batisync.orchestrate.dossier_db import Owner, database_exists, read_owner

# a last run's status -> the dossier's state
STATE_OF_RUN = {
    "success": "ok",
    "running": "running",
    "config_error": "misconfigured",
    "failed": "failed",
    "interrupted": "failed",
    "abandoned": "failed",
}
LAST_RUN_KEYS = ("run_id", "status", "started_at", "finished_at", "failed_stage", "error")


@dataclass
class DossierState:
    dossier: str
    status: str  # ok | failed | running | never run | misconfigured | unreachable
    error: str | None = None
    targets: dict[str, Any] = field(default_factory=dict)
    last_run: dict[str, Any] | None = None
    rejected: int | None = None

    def to_dict(self) -> dict[str, Any]:
        last = None
        if self.last_run is not None:
            last = {k: _text(self.last_run.get(k)) for k in LAST_RUN_KEYS}
        return {
            "dossier": self.dossier,
            "status": self.status,
            "error": self.error,
            **self.targets,
            "last_run": last,
            "rejected": self.rejected,
        }


def _text(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _without_secret(url: str) -> str:
    """driver://user@host:port/database: no password, no query (it may hold a token)."""
    parsed = sa.make_url(url)
    return parsed.set(password=None, query={}).render_as_string(hide_password=True)


def targets(settings: Settings) -> dict[str, Any]:
    staging = settings.staging
    return {
        "batisimply": {
            "api_url": settings.api_url,
            "client_id": settings.client_id,
            "username": settings.username,
        },
        "batigest": _without_secret(settings.batigest_url.reveal())
        if settings.batigest_url
        else None,
        "staging": f"{staging.host or 'localhost'}:{staging.port or 5432}/{staging.database}",
    }


def _rejected(conn: psycopg.Connection[Any], schema: str) -> int | None:
    table = sql.Identifier(schema, "heures_rejected")
    if not relation_exists(conn, table.as_string(None)):
        return None
    row = conn.execute(sql.SQL("select count(*) from {}").format(table)).fetchone()
    return int(row[0]) if row else None


def dossier_state(resolved: Resolved) -> DossierState:
    """One dossier's line of `batisync dossiers`; never raises for a database problem."""
    name = resolved.dossier.name
    settings = resolved.settings
    if settings is None:
        return DossierState(name, "misconfigured", str(resolved.error))
    state = DossierState(name, "never run", targets=targets(settings))
    conninfo = {k: v for k, v in settings.staging.conninfo().items() if v is not None}
    try:
        with psycopg.connect(**{**conninfo, "connect_timeout": 5}, autocommit=True) as conn:
            schema = settings.dbt_schema
            owner = read_owner(conn, schema)
            if owner is not None and owner != Owner.of(settings):
                state.status = "misconfigured"
                state.error = f"its staging database belongs to {owner.describe()}"
                return state
            last = runs.recent_runs(conn, schema, 1, command="sync")
            state.rejected = _rejected(conn, schema)
    except psycopg.Error as error:
        if database_exists(settings.staging) is False:
            return state  # never run: its database is created by its first run
        state.status = "unreachable"
        state.error = redact(f"staging PostgreSQL: {first_line(error)}")
        return state
    if last:
        state.last_run = last[0]
        state.status = STATE_OF_RUN.get(str(last[0]["status"]), str(last[0]["status"]))
        if state.status != "ok":
            state.error = last[0].get("error")
    return state


__all__ = ["DossierState", "dossier_state", "targets"]
