"""T-SQL fidelity: every statement the exporter can send to SuiviMO, compiled for SQL
Server (`mssql+pyodbc`), parses as T-SQL and has no PostgreSQL-only syntax.

No SQL Server runs here; this checks the SQL text, and a scenario on PostgreSQL checks
that nothing outside the catalogue is ever sent to Batigest.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
import sqlglot
from sqlalchemy.dialects.mssql import pyodbc as mssql_pyodbc

from batisync.export import reconcile, run_export
from batisync.export.apply import BatchStatements
from tests.export.helpers import (
    gone,
    insert_suivimo,
    push,
    write_marts,
)

MSSQL = mssql_pyodbc.dialect()
POSTGRES_ONLY = [
    r"::",
    r"\bON CONFLICT\b",
    r"\bRETURNING\b",
    r"\bILIKE\b",
    r"\bTEMPORARY\b",
    r"\bLIMIT\b",
    r"\bOFFSET\b",
    r"\bSERIAL\b",
    r"\bBOOLEAN\b",
    r"\bIS (NOT )?DISTINCT FROM\b",
    r"\bFOR UPDATE\b",
    r"%\(",
    r'"',  # PostgreSQL quoting; SQLAlchemy quotes with [] for SQL Server
]


def compile_mssql(statement: Any) -> str:
    return str(statement.compile(dialect=MSSQL, compile_kwargs={"render_postcompile": True}))


CATALOGUE = BatchStatements("mssql", "dbo").catalogue()


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_statement_is_tsql(name: str) -> None:
    sql = compile_mssql(CATALOGUE[name])
    parsed = sqlglot.parse_one(sql, read="tsql")  # raises on a syntax T-SQL does not have
    assert parsed is not None
    for pattern in POSTGRES_ONLY:
        assert not re.search(pattern, sql, re.IGNORECASE), f"{name}: {pattern} in {sql}"
    assert "[#export_batch]" in sql  # a local temp table, in every statement
    if "SuiviMO" in sql:
        assert "dbo.[SuiviMO]" in sql


def test_the_sql_server_specifics_are_there() -> None:
    read = compile_mssql(CATALOGUE["read_state"])
    assert read.count("dbo.[SuiviMO] WITH (UPDLOCK, HOLDLOCK)") == 2  # both halves locked
    assert "WITH (" not in compile_mssql(CATALOGUE["read_state_nolock"])
    create = compile_mssql(CATALOGUE["create"])
    assert create.startswith("\nCREATE TABLE [#export_batch]")
    assert "COLLATE DATABASE_DEFAULT" in create  # no collation conflict with tempdb
    update = compile_mssql(CATALOGUE["update_rows"])
    assert re.match(
        r"UPDATE dbo\.\[SuiviMO\] SET .* FROM dbo\.\[SuiviMO\], \[#export_batch\]", update
    )


def test_nothing_outside_the_catalogue_reaches_batigest(staging_engine, batigest_engine) -> None:
    """A scenario touching every path; each statement sent must be a catalogue one."""
    with batigest_engine.connect():
        pass  # first connect: SQLAlchemy's own dialect probes happen before we listen
    pg_catalogue = {
        str(s.compile(dialect=batigest_engine.dialect)): name
        for name, s in BatchStatements("postgresql", "dbo").catalogue().items()
    }
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool):
        compiled = getattr(context, "compiled", None)
        sent.append(pg_catalogue.get(str(compiled), f"NOT IN CATALOGUE: {statement}"))

    K = lambda h: ("CH1", "S1", datetime(2026, 3, 2, h))  # noqa: E731
    insert_suivimo(batigest_engine, [(*K(9), 1, 0, 0)])
    sa.event.listen(batigest_engine, "before_cursor_execute", record)
    try:
        write_marts(staging_engine, [push("A", *K(8)), push("B", *K(10)), push("G", *K(11))])
        run_export(staging_engine, batigest_engine)
        write_marts(
            staging_engine,
            [push("A", *K(9), old=K(8)), push("B", *K(12), 5), push("X", "TOOLONG99", *K(1)[1:])],
            [gone("G", K(11))],
        )
        run_export(staging_engine, batigest_engine, dry_run=True, on_gone="delete", force=True)
        run_export(staging_engine, batigest_engine, on_gone="delete", force=True)
        reconcile(staging_engine, batigest_engine, repair=True)
    finally:
        sa.event.remove(batigest_engine, "before_cursor_execute", record)
    assert not [s for s in sent if s.startswith("NOT IN")]
    assert set(sent) == set(pg_catalogue.values())  # and the scenario used every one


def test_the_production_engine_bulk_loads_with_fast_executemany() -> None:
    from batisync.export import make_batigest_engine

    url = "mssql+pyodbc://user:pw@batigest/BTG?driver=ODBC+Driver+18+for+SQL+Server"
    engine = make_batigest_engine(url)  # no connection is made: no SQL Server here
    assert engine.dialect.name == "mssql" and engine.dialect.fast_executemany is True
    # …which SQLAlchemy honours for an INSERT executemany without RETURNING
    assert engine.dialect.use_insertmanyvalues_wo_returning is False
