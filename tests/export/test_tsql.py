"""T-SQL fidelity: every statement the exporter can send to SuiviMO, compiled for SQL
Server (`mssql+pyodbc`), parses as T-SQL and has no PostgreSQL-only syntax.

No SQL Server runs here; this checks the SQL text, and a scenario on PostgreSQL checks
that nothing outside the catalogue is ever sent to Batigest.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
import sqlglot
from sqlalchemy.dialects.mssql import pyodbc as mssql_pyodbc

from batisync.export import ExportOptions, reconcile, run_export
from batisync.export.batch_table import LoadRow
from batisync.export.plan import Action, Op, RowPlan
from batisync.export.statements import BatchStatements
from tests.export.helpers import (
    gone,
    insert_suivimo,
    push,
    write_marts,
)

MSSQL = mssql_pyodbc.dialect()
KEY = ("CH1", "S1", datetime(2026, 3, 2, 7))
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


MSSQL_STATEMENTS = BatchStatements("mssql", "dbo")
CATALOGUE = MSSQL_STATEMENTS.catalogue()
# rendered statements, with values that test the literals: a quote, an accent, decimals
SAMPLE = [
    LoadRow("1", ("CH'1", "S1", datetime(2026, 3, 2, 8), Decimal("7.5"), 1, 0), None),
    LoadRow("2", ("CHé2", "S2", datetime(2026, 3, 2, 9), Decimal("0.016667"), 0, 1), KEY),
]
PLANS = [RowPlan("1", Action.INSERT, Op.INSERT), RowPlan("2", Action.MOVE, Op.MOVE, KEY)]
RENDERED = MSSQL_STATEMENTS.rendered(SAMPLE, PLANS)
ALL = {**{n: compile_mssql(s) for n, s in CATALOGUE.items()}, **RENDERED}


@pytest.mark.parametrize("name", sorted(ALL))
def test_statement_is_tsql(name: str) -> None:
    sql = ALL[name]
    parsed = sqlglot.parse_one(sql, read="tsql")  # raises on a syntax T-SQL does not have
    assert parsed is not None
    for pattern in POSTGRES_ONLY:
        assert not re.search(pattern, sql, re.IGNORECASE), f"{name}: {pattern} in {sql}"
    if not name.startswith("read_state"):
        assert "[#export_batch]" in sql  # a local temp table, in every statement
    if "SuiviMO" in sql:
        assert "dbo.[SuiviMO]" in sql


def test_the_literals_are_typed_and_escaped() -> None:
    load = RENDERED["load"]
    assert "N'CH''1'" in load and "N'CHé2'" in load  # quotes doubled, text as nvarchar
    # ISO 8601 with a T: read the same whatever SET LANGUAGE / DATEFORMAT says
    assert "cast('2026-03-02T08:00:00.000' as datetime)" in load
    assert ", 7.5, 1, 0," in load and "0.016667" in load
    assert "N'insert'" in load and "N'move'" in load


def test_the_sql_server_specifics_are_there() -> None:
    read = RENDERED["read_state"]
    assert read.count("dbo.[SuiviMO] as s WITH (UPDLOCK, HOLDLOCK)") == 1
    assert "WITH (" not in RENDERED["read_state_nolock"]
    load = RENDERED["load"]
    # one statement creates and fills the local temp table, each column typed
    assert re.match(r"select cast\(v\.id_heure as VARCHAR\(255\)\) collate DATABASE_DEFAULT", load)
    assert " into [#export_batch] from (values (N'1', " in load
    assert "cast(v.date_sqlserver as DATETIME) as date_sqlserver" in load
    assert "cast(v.nb_h0 as NUMERIC(18, 6)) as nb_h0" in load
    # no collation conflict with tempdb: every text column takes the database's
    assert load.count("collate DATABASE_DEFAULT") == 8
    update = compile_mssql(CATALOGUE["update_rows"])
    assert re.match(
        r"UPDATE dbo\.\[SuiviMO\] SET .* FROM dbo\.\[SuiviMO\], \[#export_batch\]", update
    )
    assert "[#export_batch].op IN ('move', 'update', 'merge')" in update  # no parameter


def test_a_batch_of_more_than_1000_rows_is_loaded_1000_rows_a_statement() -> None:
    rows = [("i", "CH1", "S1", datetime(2026, 3, 2), Decimal(1), 0, 0, *[None] * 3, "insert")]
    rows = [(str(n), *r[1:], *[None] * 3) for n, r in enumerate(rows * 2500)]
    first, *more = MSSQL_STATEMENTS.load(rows)
    assert first.count("), (") == 999 and " into [#export_batch] " in first
    assert [s.count("), (") for s in more] == [999, 499]
    assert all(s.startswith("insert into [#export_batch] (id_heure, ") for s in more)


def test_nothing_outside_the_catalogue_reaches_batigest(staging_engine, batigest_engine) -> None:
    """A scenario touching every path; each statement sent must be a catalogue one."""
    with batigest_engine.connect():
        pass  # first connect: SQLAlchemy's own dialect probes happen before we listen
    pg_statements = BatchStatements("postgresql", "dbo")
    pg_catalogue = {
        str(s.compile(dialect=batigest_engine.dialect)): name
        for name, s in pg_statements.catalogue().items()
    }
    sent: list[str] = []
    with_parameters: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool):
        compiled = getattr(context, "compiled", None)
        name = pg_catalogue.get(str(compiled)) or pg_statements.rendered_kind(statement)
        sent.append(name or f"NOT IN CATALOGUE: {statement}")
        if params:  # a SQL Server driver would prepare and unprepare it: 2 round trips more
            with_parameters.append(statement)

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
        deleting = ExportOptions(on_gone="delete")
        run_export(staging_engine, batigest_engine, deleting, dry_run=True, force=True)
        run_export(staging_engine, batigest_engine, deleting, force=True)
        reconcile(staging_engine, batigest_engine, repair=True)
    finally:
        sa.event.remove(batigest_engine, "before_cursor_execute", record)
    assert not [s for s in sent if s.startswith("NOT IN")]
    assert with_parameters == []
    # and the scenario used every one
    assert set(sent) == {*pg_catalogue.values(), "read_state", "load"}


def test_fast_executemany_only_where_the_driver_supports_it() -> None:
    from batisync.export import make_batigest_engine

    # no connection is made: only the engine's settings per driver are checked
    microsoft = "mssql+pyodbc://user:pw@batigest/BTG?driver=ODBC+Driver+18+for+SQL+Server"
    engine = make_batigest_engine(microsoft)
    assert engine.dialect.name == "mssql" and engine.dialect.fast_executemany is True
    # …which SQLAlchemy honours for an INSERT executemany without RETURNING
    assert engine.dialect.use_insertmanyvalues_wo_returning is False
    # FreeTDS has no SQLDescribeParam: fast_executemany would crash it (SIGSEGV)
    freetds = "mssql+pyodbc://user:pw@batigest/BTG?driver=FreeTDS&TDS_Version=7.4"
    assert make_batigest_engine(freetds).dialect.fast_executemany is False


def test_the_drift_digest_is_tsql() -> None:
    """The drift stage's per-employee digest of SuiviMO (issue 19): functions every
    supported SQL Server has (HASHBYTES, CONCAT: 2012), sums that cannot overflow."""
    from batisync.export.drift_digest import suivimo_digest_sql

    sql = suivimo_digest_sql(MSSQL_STATEMENTS, datetime(2026, 3, 2), datetime(2026, 3, 4))
    assert sqlglot.parse_one(sql, read="tsql") is not None
    for pattern in POSTGRES_ONLY:
        assert not re.search(pattern, sql, re.IGNORECASE), f"{pattern} in {sql}"
    assert "dbo.[SuiviMO]" in sql and "count_big(*)" in sql
    assert sql.count("as int) as bigint)") == 2  # 32-bit slices summed as bigint
