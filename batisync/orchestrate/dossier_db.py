"""A dossier's staging database: created on its first run when the role may, and owned by
one dossier and one BatiSimply account, which it records; another is refused (exit 2).

Everything of a run is already scoped by database (the advisory lock, dlt's state, the
raw schemas, dbt's schemas), so a database per dossier keeps two companies apart: the
same `id_heure` or employee code in two dossiers never meets.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from batisync.core.settings import PgSettings, Settings
from batisync.core.settings.dossiers import DossierError

log = logging.getLogger(__name__)

OWNER_TABLE = "batisync_dossier"
MAINTENANCE_DATABASES = ("postgres", "template1")  # where CREATE DATABASE is sent from


@dataclass(frozen=True)
class Owner:
    """Who a staging database belongs to: a dossier and its BatiSimply account."""

    dossier: str
    api_url: str
    client_id: str
    username: str

    @classmethod
    def of(cls, settings: Settings) -> Owner:
        assert settings.dossier is not None
        return cls(
            settings.dossier,
            (settings.api_url or "").rstrip("/"),
            settings.client_id or "",
            settings.username or "",
        )

    def describe(self) -> str:
        who = f"{self.username} / " if self.username else ""
        account = f"BatiSimply {who}client {self.client_id} at {self.api_url}"
        return f"dossier {self.dossier!r} ({account})"


def create_sql(staging: PgSettings) -> str:
    """What a DBA runs when the sync's role may not create the database itself."""
    owner = sql.Identifier(staging.user or "batisync").as_string(None)
    name = sql.Identifier(staging.database or "").as_string(None)
    return f"CREATE DATABASE {name} OWNER {owner} TEMPLATE template0 ENCODING 'UTF8';"


def _maintenance(conninfo: Mapping[str, Any]) -> psycopg.Connection[Any] | None:
    for database in MAINTENANCE_DATABASES:
        try:
            return psycopg.connect(**{**conninfo, "dbname": database}, autocommit=True)
        except psycopg.OperationalError:
            continue
    return None


def database_exists(staging: PgSettings) -> bool | None:
    """Whether the staging database exists; None when the server cannot be asked."""
    conninfo = {k: v for k, v in staging.conninfo().items() if v is not None}
    admin = _maintenance(conninfo)
    if admin is None:
        return None
    with admin:
        query = "select 1 from pg_database where datname = %s"
        return admin.execute(query, (staging.database,)).fetchone() is not None


def read_owner(conn: psycopg.Connection[Any], schema: str) -> Owner | None:
    """The owner a staging database records, None before its first dossier run."""
    from batisync.core.connections import relation_exists

    table = sql.Identifier(schema, OWNER_TABLE)
    if not relation_exists(conn, table.as_string(None)):
        return None
    query = sql.SQL("select dossier, api_url, client_id, username from {}").format(table)
    row = conn.execute(query).fetchone()
    return Owner(*row) if row else None


def ensure_database(staging: PgSettings) -> bool:
    """Create the staging database when it does not exist (True: created now). Raises
    DossierError (exit 2) with the SQL for a DBA when the role may not; any other
    connection failure is raised as it is (exit 1)."""
    conninfo = {k: v for k, v in staging.conninfo().items() if v is not None}
    try:
        psycopg.connect(**conninfo).close()
        return False
    except psycopg.OperationalError as unreachable:
        failure = unreachable
    # the server's own message may be in any language: ask pg_database instead
    admin = _maintenance(conninfo)
    if admin is None:
        raise failure
    with admin:
        name = staging.database
        if admin.execute("select 1 from pg_database where datname = %s", (name,)).fetchone():
            raise failure  # it exists: the failure is something else (password, rights)
        may = admin.execute(
            "select rolcreatedb or rolsuper from pg_roles where rolname = current_user"
        ).fetchone()
        where = f"{staging.host or 'localhost'}:{staging.port or 5432}"
        if not may or not may[0]:
            raise DossierError(
                "PGDATABASE",
                f"the staging database {name} does not exist on {where} and the role "
                f"{staging.user} may not create it (no CREATEDB). A DBA runs, once: "
                f"{create_sql(staging)}",
            )
        statement = sql.SQL("create database {} template template0 encoding 'UTF8'").format(
            sql.Identifier(name or "")
        )
        try:
            admin.execute(statement)
        except psycopg.errors.DuplicateDatabase:  # another run of this dossier was quicker
            return False
        except psycopg.Error as error:
            raise DossierError(
                "PGDATABASE",
                f"could not create the staging database {name} on {where}: "
                f"{str(error).strip()}. A DBA runs, once: {create_sql(staging)}",
            ) from None
    log.info("created the staging database %s on %s (first run of this dossier)", name, where)
    return True


_DDL = """
create table if not exists {table} (
    singleton   boolean primary key default true check (singleton),
    dossier     text not null,
    api_url     text not null,
    client_id   text not null,
    username    text not null,
    claimed_at  timestamptz not null default now()
)
"""


def claim(conninfo: Mapping[str, Any], schema: str, owner: Owner) -> Owner:
    """Record `owner` in a database that has none; raise DossierError when another owns
    it. Returns the owner found (the same)."""
    table = sql.Identifier(schema, OWNER_TABLE)
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL(_DDL).format(table=table))
        conn.execute(
            sql.SQL(
                "insert into {} (dossier, api_url, client_id, username) values (%s, %s, %s, %s) "
                "on conflict (singleton) do nothing"
            ).format(table),
            (owner.dossier, owner.api_url, owner.client_id, owner.username),
        )
        found = read_owner(conn, schema)
    if found != owner:
        fix = sql.SQL(
            "update {} set dossier = {}, api_url = {}, client_id = {}, username = {};"
        ).format(table, *map(sql.Literal, (owner.dossier, owner.api_url, owner.client_id,
                                           owner.username)))  # fmt: skip
        assert found is not None
        raise DossierError(
            "PGDATABASE",
            f"the staging database {conninfo.get('dbname')} belongs to {found.describe()}, "
            f"not to {owner.describe()}: refused, nothing was done. Give this dossier a "
            "database of its own; only if this really is the same company whose account "
            f"changed, run in that database: {fix.as_string(None)}",
        )
    return found


def prepare(settings: Settings) -> None:
    """Before a dossier's command writes: its database exists and is its own."""
    ensure_database(settings.staging)
    conninfo = {k: v for k, v in settings.staging.conninfo().items() if v is not None}
    claim(conninfo, settings.dbt_schema, Owner.of(settings))


__all__ = [
    "OWNER_TABLE",
    "Owner",
    "claim",
    "create_sql",
    "database_exists",
    "ensure_database",
    "prepare",
    "read_owner",
]
