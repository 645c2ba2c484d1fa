"""T-SQL → PostgreSQL translation, without a server (the catalog is filled by hand)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from devstack.tds.catalog import Catalog, Relation
from devstack.tds.requests import split_statements
from devstack.tds.translate import TranslationError, literal, render, translate


@pytest.fixture
def catalog() -> Catalog:
    c = Catalog()
    rel = Relation("dbo", "SuiviMO", False, {"codechantier": "CodeChantier", "date": "Date"})
    c._by_name = {"suivimo": [rel]}
    c._by_qualified = {("dbo", "suivimo"): rel}
    c._schemas = {"dbo": "dbo"}
    c._stale = False
    return c


def pg(sql: str, catalog: Catalog, **values: object) -> str:
    return render(translate(sql, catalog), {f"@{k}": v for k, v in values.items()})


def test_identifiers_take_the_catalog_spelling(catalog: Catalog) -> None:
    assert pg("SELECT codechantier FROM DBO.suivimo WHERE [DATE] > @P1", catalog, p1=None) == (
        'SELECT "CodeChantier" FROM "dbo"."SuiviMO" WHERE "Date" > NULL'
    )


def test_result_names_keep_the_tsql_spelling(catalog: Catalog) -> None:
    t = translate("SELECT codechantier, 1 AS Part, 2 FROM dbo.SuiviMO", catalog)
    assert t.names == ["codechantier", "Part", ""]


def test_temp_tables_and_collate(catalog: Catalog) -> None:
    sql = pg("CREATE TABLE #b (x varchar(8) COLLATE DATABASE_DEFAULT NULL)", catalog)
    assert sql == 'CREATE TEMPORARY TABLE "#b" ("x" VARCHAR(8) NULL)'
    assert pg("SELECT [#b].x FROM [#b]", catalog) == 'SELECT "#b".x FROM "#b"'


def test_select_into_a_temp_table_creates_a_temporary_table(catalog: Catalog) -> None:
    t = translate(
        "select cast(v.x as varchar(8)) collate DATABASE_DEFAULT as x into [#b] "
        "from (values (N'a'), (NULL)) as v (x)",
        catalog,
    )
    assert t.sql == (
        'SELECT CAST("v"."x" AS VARCHAR(8)) AS "x" INTO TEMPORARY "#b" '
        "FROM (VALUES ('a'), (NULL)) AS \"v\"(x)"
    )
    assert t.ddl  # the catalog is read again before the next statement


def test_lock_hints_dropped_and_top(catalog: Catalog) -> None:
    sql = pg("SELECT TOP 3 Date FROM dbo.SuiviMO WITH (UPDLOCK, HOLDLOCK)", catalog)
    assert sql == 'SELECT "Date" FROM "dbo"."SuiviMO" LIMIT 3'


def test_update_from_the_target_itself(catalog: Catalog) -> None:
    sql = pg(
        "UPDATE dbo.SuiviMO SET Date = [#b].d FROM dbo.SuiviMO, [#b] "
        "WHERE dbo.SuiviMO.CodeChantier = [#b].c",
        catalog,
    )
    assert sql == (
        'UPDATE "dbo"."SuiviMO" SET "Date" = "#b".d FROM "#b" '
        'WHERE "dbo"."SuiviMO"."CodeChantier" = "#b".c'
    )


def test_catalog_views_and_functions(catalog: Catalog) -> None:
    sql = pg(
        "SELECT c.COLUMN_NAME FROM INFORMATION_SCHEMA.COLUMNS c "
        "WHERE COLUMNPROPERTY(OBJECT_ID('dbo.SuiviMO'), c.COLUMN_NAME, 'IsIdentity') = 1",
        catalog,
    )
    assert "FROM pg_temp.is_columns" in sql
    assert "PG_TEMP.TDS_COLUMNPROPERTY(PG_TEMP.TDS_OBJECT_ID('dbo.SuiviMO')" in sql


def test_parameters_and_globals(catalog: Catalog) -> None:
    t = translate("SELECT ?, @P1, @@ROWCOUNT", catalog)
    assert t.slots == ["?0", "@p1", "@@rowcount"]
    assert render(t, {"?0": 1, "@p1": "x", "@@rowcount": 3}) == "SELECT 1, 'x', 3"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "NULL"),
        (True, "1"),
        (-3, "(-3)"),
        (Decimal("1.2345678"), "1.2345678"),
        (2.5, "'2.5'::float8"),
        ("l'œuvre", "'l''œuvre'"),
        (dt.datetime(2024, 1, 2, 3, 4, 5, 6000), "'2024-01-02 03:04:05.006000'::timestamp"),
        (dt.date(2024, 1, 2), "'2024-01-02'::date"),
        (b"\x00\xff", "'\\x00ff'::bytea"),
    ],
)
def test_literals(value: object, expected: str) -> None:
    assert literal(value) == expected


def test_unparsable_statement_is_an_error(catalog: Catalog) -> None:
    with pytest.raises(TranslationError):
        translate("SELECT FROM WHERE (", catalog)


def test_split_statements() -> None:
    assert split_statements("SET NOCOUNT ON; select ';' AS [a;b] -- c;\n; select 2") == [
        "SET NOCOUNT ON",
        "select ';' AS [a;b] -- c;",
        "select 2",
    ]
