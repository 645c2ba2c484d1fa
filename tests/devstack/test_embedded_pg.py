"""The embedded PostgreSQL: start, databases, stop, restart on a busy port."""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from devstack.batigest import create_standin
from devstack.pg import EmbeddedPostgres, EmbeddedPostgresError, default_datadir, port_is_free


def test_two_databases_are_isolated(pg: EmbeddedPostgres) -> None:
    first = sa.create_engine(pg.create_database("iso_a", replace=True))
    second = sa.create_engine(pg.create_database("iso_b", replace=True))
    with first.begin() as conn:
        conn.exec_driver_sql("create table only_in_a (x int)")
    with second.connect() as conn:
        found = conn.exec_driver_sql("select to_regclass('only_in_a')").scalar()
    assert found is None
    first.dispose()
    second.dispose()


def test_lifecycle_and_restart_on_busy_port() -> None:
    # mkdtemp, not tmp_path: as root, the cluster's folder must be reachable by 'postgres'.
    root = Path(tempfile.mkdtemp(prefix="batisync-pg-test-"))
    cluster = EmbeddedPostgres(root)
    try:
        cluster.start()
        first_port = cluster.port
        assert cluster.is_running()
        cluster.create_database("app")
        first_dsn = cluster.dsn("app")
        with psycopg.connect(first_dsn) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
        cluster.stop()
        assert not cluster.is_running()
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(first_dsn, connect_timeout=2)

        # Someone else takes our old port: the cluster comes back on another one, data intact.
        with socket.socket() as squatter:
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # port in TIME_WAIT
            squatter.bind(("127.0.0.1", first_port))
            squatter.listen()
            assert not port_is_free(first_port)
            cluster.start(first_port)
            assert cluster.port != first_port
            with psycopg.connect(cluster.dsn("app")) as conn:
                assert conn.execute("select current_database()").fetchone() == ("app",)
    finally:
        cluster.destroy()
    assert not root.exists()


def test_start_reuses_a_running_cluster(pg: EmbeddedPostgres) -> None:
    port = pg.port
    assert EmbeddedPostgres(pg.root).start().port == port


def test_env_refuses_when_stopped(tmp_path: Path) -> None:
    with pytest.raises(EmbeddedPostgresError, match="not running"):
        EmbeddedPostgres(tmp_path / "never").env()


def test_default_datadir_is_inside_the_repository_or_reachable() -> None:
    path = default_datadir()
    assert path.name == ".pg" or str(path).startswith("/var/tmp/batisync-pg-")


def test_batigest_standin_has_no_unique_key(batigest_url: str) -> None:
    engine = sa.create_engine(batigest_url)
    row = {"c": "CH001", "s": "S0001", "d": "2026-03-02 08:00:00"}
    insert = sa.text(
        'insert into dbo."SuiviMO" ("CodeChantier", "CodeSalarie", "Date") values (:c, :s, :d)'
    )
    with engine.begin() as conn:
        conn.execute(insert, [row, row])  # Batigest itself does not forbid a duplicate key
        count = conn.exec_driver_sql('select count(*) from dbo."SuiviMO"').scalar()
        columns = {c["name"] for c in sa.inspect(conn).get_columns("SuiviMO", schema="dbo")}
    assert count == 2
    assert {"CodeChantier", "CodeSalarie", "Date", "NbH0", "NbH3", "NbH4", "Libelle"} <= columns
    create_standin(batigest_url).dispose()  # idempotent
    engine.dispose()
