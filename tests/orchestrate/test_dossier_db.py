"""A dossier's staging database (`orchestrate/dossier_db.py`) on a real server: created on
the first run when the role may, the DBA's SQL when it may not, and owned by one dossier
and one BatiSimply account; a sync whose preparation fails says so in its summary."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from batisync.core.settings import PgSettings, Secret, Settings
from batisync.core.settings.dossiers import DossierError
from batisync.orchestrate.dossier_db import (
    Owner,
    claim,
    database_exists,
    ensure_database,
    prepare,
)
from batisync.orchestrate.sync import run_sync
from devstack.pg import EmbeddedPostgres
from tests.orchestrate.helpers import LOAD_REPORT, Recorder

_names = itertools.count()


def _name(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{next(_names)}"


def _staging(pg: EmbeddedPostgres, database: str, user: str = "postgres") -> PgSettings:
    return PgSettings(host="127.0.0.1", port=pg.port, user=user, password=Secret(""),
                      database=database)  # fmt: skip


@pytest.fixture
def role_without_createdb(pg: EmbeddedPostgres) -> Iterator[str]:
    role = _name("nocreate")
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("create role {} login nocreatedb").format(sql.Identifier(role)))
    yield role
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("drop role {}").format(sql.Identifier(role)))


def test_the_first_run_creates_the_database_from_template0(pg: EmbeddedPostgres) -> None:
    staging = _staging(pg, _name("batisync_acme-1"))  # a dossier name may hold '-'
    assert database_exists(staging) is False
    assert ensure_database(staging) is True
    assert ensure_database(staging) is False  # there now: nothing to do
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        row = conn.execute(
            "select pg_encoding_to_char(encoding) from pg_database where datname = %s",
            (staging.database,),
        ).fetchone()
    assert row == ("UTF8",)
    pg.drop_database(str(staging.database))


def test_a_role_without_createdb_gets_the_sql_for_a_dba(
    pg: EmbeddedPostgres, role_without_createdb: str
) -> None:
    database = _name("batisync_beta")
    with pytest.raises(DossierError) as refused:
        ensure_database(_staging(pg, database, role_without_createdb))
    message = str(refused.value)
    assert refused.value.exit_code == 2 and message.startswith("PGDATABASE: the staging database")
    assert "may not create it (no CREATEDB)" in message
    assert (
        f'CREATE DATABASE "{database}" OWNER "{role_without_createdb}" TEMPLATE template0 '
        "ENCODING 'UTF8';" in message
    )
    # the SQL works as given, and then the role's run goes on
    statement = message[message.index("CREATE DATABASE") :]
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        conn.execute(statement.encode())
    assert ensure_database(_staging(pg, database, role_without_createdb)) is False
    pg.drop_database(database)


def test_an_unreachable_server_is_a_failure_not_a_setting(pg: EmbeddedPostgres) -> None:
    staging = PgSettings(host="127.0.0.1", port=1, user="postgres", database="x")
    with pytest.raises(psycopg.OperationalError):
        ensure_database(staging)
    assert database_exists(staging) is None


def test_a_database_belongs_to_one_dossier_and_one_account(pg: EmbeddedPostgres) -> None:
    database = _name("batisync_gamma")
    pg.create_database(database)
    conninfo = {"host": "127.0.0.1", "port": pg.port, "user": "postgres", "dbname": database}
    gamma = Owner("gamma", "https://api.example.test/api", "client-g", "u@gamma")
    assert claim(conninfo, "public", gamma) == gamma
    assert claim(conninfo, "public", gamma) == gamma  # every later run of gamma
    for other in (
        Owner("delta", gamma.api_url, gamma.client_id, gamma.username),  # another dossier
        Owner("gamma", gamma.api_url, "client-other", gamma.username),  # another account
    ):
        with pytest.raises(DossierError) as refused:
            claim(conninfo, "public", other)
        message = str(refused.value)
        assert "belongs to dossier 'gamma' (BatiSimply u@gamma / client client-g" in message
        assert f"not to {other.describe()}: refused, nothing was done" in message
        assert 'update "public"."batisync_dossier" set dossier = ' in message
    pg.drop_database(database)


def test_a_sync_whose_preparation_fails_reports_it(pg: EmbeddedPostgres) -> None:
    """`prepare` runs before the lock: a refused dossier is a config_error summary (exit
    2), an unreachable server a failed one (exit 1); no stage runs."""
    database = _name("batisync_delta")
    pg.create_database(database)
    conninfo = {"host": "127.0.0.1", "port": pg.port, "user": "postgres", "dbname": database}
    settings = Settings(
        staging=_staging(pg, database), dossier="delta", api_url="https://api.x/api",
        client_id="c", username="u",
    )  # fmt: skip
    claim(conninfo, "public", Owner("other", "https://api.x/api", "c", "u"))
    recorder = Recorder(load=LOAD_REPORT)
    refused = run_sync(recorder.stages(), conninfo=conninfo, prepare=lambda: prepare(settings))
    assert (refused.status, refused.exit_code) == ("config_error", 2)
    assert refused.error is not None and "belongs to dossier 'other'" in refused.error
    assert recorder.calls == []

    def unreachable() -> None:
        raise psycopg.OperationalError("connection refused")

    failed = run_sync(recorder.stages(), conninfo=conninfo, prepare=unreachable)
    assert (failed.status, failed.exit_code, failed.failed_stage) == ("failed", 1, "connect")
    assert recorder.calls == []
    pg.drop_database(database)
