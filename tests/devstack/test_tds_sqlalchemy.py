"""SQLAlchemy 2.1's mssql dialects (mssql-python, pyodbc + FreeTDS) through the endpoint."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import psycopg
import sqlalchemy as sa

from batisync.export.suivimo import suivimo_table
from devstack.tds import TdsEndpoint

DAY = dt.datetime(2024, 6, 3)


def suivimo(ep: TdsEndpoint) -> list[tuple]:
    with psycopg.connect(ep.conninfo) as conn:
        return conn.execute(
            'select "CodeChantier", "CodeSalarie", "Date", "NbH0" from dbo."SuiviMO" order by 1, 2'
        ).fetchall()


def test_engine_connects_and_reflects(tds_endpoint: TdsEndpoint, tds_driver: str) -> None:
    engine = sa.create_engine(tds_endpoint.url(tds_driver))
    with engine.connect() as conn:
        assert conn.dialect.server_version_info[0] == 16
        assert conn.dialect.default_schema_name == "dbo"
        assert conn.execute(sa.text("select 1")).scalar() == 1
    inspector = sa.inspect(engine)
    assert inspector.get_table_names(schema="dbo") == ["Salarie", "SuiviMO"]
    columns = {c["name"]: c for c in inspector.get_columns("SuiviMO", schema="dbo")}
    assert list(columns)[:3] == ["CodeChantier", "CodeSalarie", "Date"]
    assert columns["CodeChantier"]["type"].length == 8
    assert columns["CodeChantier"]["nullable"] is False
    assert (columns["NbH0"]["type"].precision, columns["NbH0"]["type"].scale) == (18, 6)
    assert isinstance(columns["Date"]["type"], sa.DateTime)
    assert inspector.has_table("SuiviMO", schema="dbo")
    assert not inspector.has_table("Nope", schema="dbo")
    engine.dispose()


def test_core_insert_and_select(tds_endpoint: TdsEndpoint, tds_driver: str) -> None:
    engine = sa.create_engine(tds_endpoint.url(tds_driver))
    s = suivimo_table()
    rows = [
        {"CodeChantier": f"CH{i}", "CodeSalarie": "S1", "Date": DAY, "NbH0": Decimal(i) / 2}
        for i in range(3)
    ]
    with engine.begin() as conn:
        result = conn.execute(sa.insert(s), rows)
        assert result.rowcount == 3
    with engine.connect() as conn:
        got = conn.execute(
            sa.select(s.c.CodeChantier, s.c.NbH0)
            .where(s.c.CodeSalarie == "S1")
            .order_by(s.c.CodeChantier)
        ).all()
    assert [tuple(r) for r in got] == [(f"CH{i}", Decimal(i) / 2) for i in range(3)]
    assert len(suivimo(tds_endpoint)) == 3
    engine.dispose()


def test_rollback_through_sqlalchemy(tds_endpoint: TdsEndpoint, tds_driver: str) -> None:
    engine = sa.create_engine(tds_endpoint.url(tds_driver))
    s = suivimo_table()
    with engine.connect() as conn:
        conn.execute(sa.insert(s), {"CodeChantier": "X", "CodeSalarie": "S", "Date": DAY})
        conn.rollback()
    assert suivimo(tds_endpoint) == []
    engine.dispose()
