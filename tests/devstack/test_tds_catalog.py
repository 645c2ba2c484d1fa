"""SQL Server catalog queries (a Batigest inspection's) answered from pg_catalog."""

from __future__ import annotations

import psycopg
import pytest

from devstack.tds import TdsEndpoint

PG_EXTRAS = """
create index "IX_SuiviMO_Key" on dbo."SuiviMO" ("CodeChantier", "CodeSalarie" desc);
create table dbo."Compteur" ("Id" int generated always as identity primary key, "Nom" text);
create function dbo.suivimo_audit() returns trigger language plpgsql as
  $$ begin return new; end $$;
create trigger "TR_SuiviMO_Audit" after insert or update on dbo."SuiviMO"
  for each row execute function dbo.suivimo_audit();
"""


@pytest.fixture
def cursor(tds_endpoint: TdsEndpoint, tds_driver: str):
    with psycopg.connect(tds_endpoint.conninfo, autocommit=True) as pg:
        pg.execute(PG_EXTRAS)
    conn = tds_endpoint.connect(tds_driver)
    yield conn.cursor()
    conn.close()


def rows(cursor, sql: str, *params: object) -> list[tuple]:
    cursor.execute(sql, *params)
    return [tuple(r) for r in cursor.fetchall()]


def test_information_schema_columns(cursor) -> None:
    got = rows(
        cursor,
        "SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, "
        "NUMERIC_SCALE, IS_NULLABLE, COLUMN_DEFAULT, COLLATION_NAME "
        "FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? "
        "ORDER BY ORDINAL_POSITION",
        "dbo",
        "Salarie",
    )
    by_name = {r[0]: r[1:] for r in got}
    assert list(by_name)[:3] == ["Code", "Nom", "Prenom"]
    assert by_name["Code"] == ("varchar", 8, None, None, "NO", None, "Latin1_General_CI_AS")
    assert by_name["DateEntree"][:4] == ("datetime", None, None, None)
    assert by_name["Actif"] == ("smallint", None, 5, 0, "YES", "(1)", None)


def test_triggers(cursor) -> None:
    got = rows(
        cursor,
        "SELECT tr.name, t.name AS table_name, s.name AS schema_name, tr.is_disabled, "
        "tr.is_instead_of_trigger, o.type FROM sys.triggers tr "
        "JOIN sys.tables t ON t.object_id = tr.parent_id "
        "JOIN sys.schemas s ON s.schema_id = t.schema_id "
        "JOIN sys.objects o ON o.object_id = tr.object_id",
    )
    assert [(r[0], r[1], r[2], bool(r[3]), bool(r[4]), r[5].strip()) for r in got] == [
        ("TR_SuiviMO_Audit", "SuiviMO", "dbo", False, False, "TR")
    ]
    assert rows(
        cursor, "SELECT COUNT(*) FROM sys.triggers WHERE parent_id = OBJECT_ID(?)", "dbo.Salarie"
    ) == [(0,)]


def test_indexes(cursor) -> None:
    got = rows(
        cursor,
        "SELECT i.name, i.is_unique, i.is_primary_key, c.name, ic.key_ordinal, "
        "ic.is_descending_key FROM sys.indexes i "
        "JOIN sys.index_columns ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id "
        "JOIN sys.columns c ON c.object_id = ic.object_id AND c.column_id = ic.column_id "
        "WHERE i.object_id = OBJECT_ID('dbo.SuiviMO') ORDER BY i.name, ic.key_ordinal",
    )
    assert [(r[0], bool(r[1]), bool(r[2]), r[3], r[4], bool(r[5])) for r in got] == [
        ("IX_SuiviMO_Key", False, False, "CodeChantier", 1, False),
        ("IX_SuiviMO_Key", False, False, "CodeSalarie", 2, True),
    ]
    pk = rows(
        cursor,
        "SELECT name FROM sys.indexes "
        "WHERE object_id = OBJECT_ID('dbo.Salarie') AND is_primary_key = 1",
    )
    assert len(pk) == 1


def test_identity_columns(cursor) -> None:
    assert rows(cursor, "SELECT COLUMNPROPERTY(OBJECT_ID('dbo.Compteur'), 'Id', 'IsIdentity')") == [
        (1,)
    ]
    assert rows(
        cursor, "SELECT COLUMNPROPERTY(OBJECT_ID('dbo.SuiviMO'), 'Date', 'IsIdentity')"
    ) == [(0,)]
    got = rows(
        cursor,
        "SELECT OBJECT_NAME(ic.object_id), ic.name FROM sys.identity_columns ic "
        "JOIN sys.tables t ON t.object_id = ic.object_id",
    )
    assert got == [("Compteur", "Id")]


def test_permissions(cursor) -> None:
    assert rows(cursor, "SELECT HAS_PERMS_BY_NAME('dbo.SuiviMO', 'OBJECT', 'INSERT')") == [(1,)]
    assert rows(cursor, "SELECT HAS_PERMS_BY_NAME(?, 'OBJECT', 'DELETE')", "dbo.suivimo") == [(1,)]
    assert rows(cursor, "SELECT HAS_PERMS_BY_NAME('dbo.Nope', 'OBJECT', 'INSERT')") == [(None,)]


def test_server_probes(cursor) -> None:
    version = rows(cursor, "SELECT CAST(SERVERPROPERTY('ProductVersion') AS VARCHAR)")[0][0]
    assert version.startswith("16.")
    assert "Microsoft SQL Server" in rows(cursor, "SELECT @@version")[0][0]
    assert rows(cursor, "SELECT schema_name()") == [("dbo",)]
    assert rows(cursor, "SELECT @@TRANCOUNT") == [(0,)]
