"""Real drivers (mssql-python, pyodbc + FreeTDS) against the TDS endpoint, PostgreSQL behind."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import psycopg
import pytest
import sqlalchemy as sa

from devstack.tds import TdsEndpoint


def pg_rows(ep: TdsEndpoint, sql: str) -> list[tuple]:
    """Read the stand-in directly, bypassing the endpoint."""
    with psycopg.connect(ep.conninfo) as conn:
        return conn.execute(sql).fetchall()


def test_select_one(tds_endpoint: TdsEndpoint, tds_driver: str) -> None:
    conn = tds_endpoint.connect(tds_driver)
    cur = conn.cursor()
    cur.execute("select 1")
    assert cur.fetchall()[0][0] == 1
    conn.close()


@pytest.mark.parametrize(
    "value",
    [
        "Élodie à l'œuvre",
        42,
        -(2**40),
        Decimal("1.2345678"),
        2.5,
        dt.datetime(2024, 3, 1, 7, 30, 15, 123000),
        dt.date(2024, 2, 29),
        None,
        True,
    ],
    ids=repr,
)
def test_parameter_round_trip(tds_endpoint: TdsEndpoint, tds_driver: str, value: object) -> None:
    conn = tds_endpoint.connect(tds_driver)
    cur = conn.cursor()
    cur.execute("select ?", value)
    (got,) = cur.fetchone()
    conn.close()
    if isinstance(value, bool):
        assert got == 1  # bit parameters come back as numbers (PostgreSQL has no bit literal)
    else:
        assert got == value
        assert type(got) is type(value)


def test_temp_table_executemany(tds_endpoint: TdsEndpoint, tds_driver: str) -> None:
    conn = tds_endpoint.connect(tds_driver)
    cur = conn.cursor()
    cur.execute(
        "CREATE TABLE #batch (id varchar(20) COLLATE DATABASE_DEFAULT NOT NULL PRIMARY KEY, "
        "n numeric(18, 6) NULL, d datetime NULL)"
    )
    rows = [(f"id{i}", Decimal(i) / 4, dt.datetime(2024, 1, 1 + i, 8)) for i in range(5)]
    cur.executemany("INSERT INTO #batch (id, n, d) VALUES (?, ?, ?)", rows)
    cur.execute("SELECT ID, N, D FROM [#batch] ORDER BY id")
    assert [tuple(r) for r in cur.fetchall()] == rows
    cur.execute("DROP TABLE #batch")
    conn.close()


def test_suivimo_insert_update_delete(tds_endpoint: TdsEndpoint, tds_driver: str) -> None:
    conn = tds_endpoint.connect(tds_driver)
    cur = conn.cursor()
    day = dt.datetime(2024, 5, 6)
    cur.execute(
        "INSERT INTO dbo.SuiviMO (CodeChantier, CodeSalarie, Date, NbH0) VALUES (?, ?, ?, ?)",
        "CH1",
        "S1",
        day,
        Decimal("7.5"),
    )
    assert cur.rowcount == 1
    cur.execute(
        "INSERT INTO dbo.[SuiviMO] (codechantier, codesalarie, date, nbh0) VALUES (?, ?, ?, ?)",
        "CH2",
        "S1",
        day,
        Decimal("1"),
    )
    assert pg_rows(tds_endpoint, 'select "CodeChantier", "NbH0" from dbo."SuiviMO" order by 1') == [
        ("CH1", Decimal("7.500000")),
        ("CH2", Decimal("1.000000")),
    ]
    cur.execute("UPDATE dbo.SuiviMO SET NbH0 = NbH0 + ? WHERE CodeSalarie = ?", Decimal(1), "S1")
    assert cur.rowcount == 2
    cur.execute("DELETE FROM dbo.suivimo WHERE codechantier = ?", "CH1")
    assert cur.rowcount == 1
    assert pg_rows(tds_endpoint, 'select "CodeChantier", "NbH0" from dbo."SuiviMO"') == [
        ("CH2", Decimal("2.000000"))
    ]
    conn.close()


@pytest.mark.parametrize("commit", [True, False], ids=["commit", "rollback"])
def test_commit_and_rollback(tds_endpoint: TdsEndpoint, tds_driver: str, commit: bool) -> None:
    conn = tds_endpoint.connect(tds_driver, autocommit=False)
    cur = conn.cursor()
    cur.execute("INSERT INTO dbo.Salarie (Code, Nom) VALUES (?, ?)", "S9", "Martin")
    assert pg_rows(tds_endpoint, 'select count(*) from dbo."Salarie"') == [(0,)]  # not yet
    conn.commit() if commit else conn.rollback()
    assert pg_rows(tds_endpoint, 'select count(*) from dbo."Salarie"') == [(1 if commit else 0,)]
    cur.execute("INSERT INTO dbo.Salarie (Code, Nom) VALUES (?, ?)", "S8", "Durand")
    conn.commit()
    expected = [("S8",), ("S9",)] if commit else [("S8",)]
    assert pg_rows(tds_endpoint, 'select "Code" from dbo."Salarie" order by 1') == expected
    conn.close()


@pytest.mark.parametrize("autocommit", [True, False], ids=["autocommit", "transaction"])
def test_error_then_connection_still_works(
    tds_endpoint: TdsEndpoint, tds_driver: str, autocommit: bool
) -> None:
    conn = tds_endpoint.connect(tds_driver, autocommit=autocommit)
    cur = conn.cursor()
    cur.execute("INSERT INTO dbo.Salarie (Code, Nom) VALUES (?, ?)", "OK1", "kept")
    with pytest.raises(Exception, match="truncated") as info:
        cur.execute(
            "INSERT INTO dbo.SuiviMO (CodeChantier, CodeSalarie, Date) VALUES (?, ?, ?)",
            "123456789",
            "S1",
            dt.datetime(2024, 1, 1),
        )
    assert type(info.value).__module__.split(".")[0] in ("pyodbc", "mssql_python")
    cur = conn.cursor()
    cur.execute("select 2")
    assert cur.fetchone()[0] == 2
    conn.commit()
    assert pg_rows(tds_endpoint, 'select "Code" from dbo."Salarie"') == [("OK1",)]
    conn.close()


def test_stats_count_round_trips(tds_endpoint: TdsEndpoint, tds_driver: str) -> None:
    conn = tds_endpoint.connect(tds_driver)
    cur = conn.cursor()
    tds_endpoint.stats.reset()
    cur.execute("select 1")
    cur.fetchall()
    assert tds_endpoint.stats.total == 1
    cur.execute("select ?", 1)
    cur.fetchall()
    assert tds_endpoint.stats.total == 2
    assert sum(tds_endpoint.stats.by_kind().values()) == 2
    tds_endpoint.stats.reset()
    assert tds_endpoint.stats.total == 0
    conn.close()
    conn = tds_endpoint.connect(tds_driver, autocommit=False)
    tds_endpoint.stats.reset()
    cur = conn.cursor()
    cur.execute("INSERT INTO dbo.Salarie (Code) VALUES (?)", "S1")
    conn.commit()  # a transaction-manager request (drivers send no COMMIT text)
    assert tds_endpoint.stats.by_kind() == {"rpc": 1, "transaction": 1}
    conn.close()


def test_url_helper_builds_working_engines(tds_endpoint: TdsEndpoint, tds_driver: str) -> None:
    engine = sa.create_engine(tds_endpoint.url(tds_driver))
    with engine.connect() as conn:
        assert conn.execute(sa.text("select db_name()")).scalar() == tds_endpoint.database
    engine.dispose()


def test_query_timeout_cancels_and_connection_survives(
    tds_endpoint: TdsEndpoint, tds_driver: str
) -> None:
    """The driver's timeout sends ATTENTION: the query stops, the connection stays usable."""
    conn = tds_endpoint.connect(tds_driver)
    conn.timeout = 1
    cur = conn.cursor()
    started = time.monotonic()
    with pytest.raises(Exception, match=r"(?i)timeout|expired|cancel"):
        cur.execute("WAITFOR DELAY '00:00:10'")
    assert time.monotonic() - started < 5
    conn.timeout = 0
    cur = conn.cursor()
    cur.execute("select 3")
    assert cur.fetchone()[0] == 3
    conn.close()


def test_unique_violation_is_an_integrity_error(tds_endpoint: TdsEndpoint, tds_driver: str) -> None:
    conn = tds_endpoint.connect(tds_driver)
    cur = conn.cursor()
    cur.execute("INSERT INTO dbo.Salarie (Code) VALUES (?)", "DUP")
    with pytest.raises(Exception, match="PRIMARY KEY") as info:
        cur.execute("INSERT INTO dbo.Salarie (Code) VALUES (?)", "DUP")
    assert type(info.value).__name__ == "IntegrityError"
    cur.execute("SELECT COUNT(*) FROM dbo.Salarie")
    assert cur.fetchone()[0] == 1
    conn.close()
