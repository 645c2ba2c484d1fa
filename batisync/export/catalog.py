"""Reading Batigest's own catalog into `BatigestFacts` (what `inspection.assess` judges).

SQL Server is read through `INFORMATION_SCHEMA`, `sys.*`, `COLUMNPROPERTY` and
`HAS_PERMS_BY_NAME`; the PostgreSQL stand-in through its `information_schema` and
`pg_catalog`. Read only: nothing is created, even temporarily.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from batisync.export.inspection import SUIVIMO_PRIVILEGES, BatigestFacts, Column

_MSSQL_COLUMNS = """
select c.COLUMN_NAME, lower(c.DATA_TYPE), c.IS_NULLABLE, c.COLUMN_DEFAULT,
       c.CHARACTER_MAXIMUM_LENGTH, c.NUMERIC_PRECISION, c.NUMERIC_SCALE, c.COLLATION_NAME,
       COLUMNPROPERTY(OBJECT_ID(:qualified), c.COLUMN_NAME, 'IsIdentity'),
       COLUMNPROPERTY(OBJECT_ID(:qualified), c.COLUMN_NAME, 'IsComputed')
from INFORMATION_SCHEMA.COLUMNS c
where c.TABLE_SCHEMA = :schema and c.TABLE_NAME = :table
order by c.ORDINAL_POSITION
"""
_MSSQL_TRIGGERS = """
select t.name from sys.triggers t
where t.parent_id = OBJECT_ID(:qualified) and t.is_disabled = 0
order by t.name
"""
_MSSQL_INDEXES = """
select ic.index_id, c.name
from sys.index_columns ic
join sys.columns c on c.object_id = ic.object_id and c.column_id = ic.column_id
where ic.object_id = OBJECT_ID(:qualified) and ic.key_ordinal > 0
order by ic.index_id, ic.key_ordinal
"""
_MSSQL_PERMISSION = "select HAS_PERMS_BY_NAME(:qualified, 'OBJECT', :permission)"

_PG_COLUMNS = """
select c.column_name, c.data_type, c.is_nullable, c.column_default,
       c.character_maximum_length, c.numeric_precision, c.numeric_scale, c.collation_name,
       case when c.is_identity = 'YES' then 1 else 0 end,
       case when c.is_generated = 'ALWAYS' then 1 else 0 end
from information_schema.columns c
where c.table_schema = :schema and c.table_name = :table
order by c.ordinal_position
"""
_PG_TRIGGERS = """
select t.tgname from pg_trigger t
where t.tgrelid = to_regclass(:qualified) and not t.tgisinternal and t.tgenabled <> 'D'
order by t.tgname
"""
_PG_INDEXES = """
select i.indexrelid, a.attname
from pg_index i
cross join lateral unnest(i.indkey) with ordinality as k(attnum, position)
join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
where i.indrelid = to_regclass(:qualified)
order by i.indexrelid, k.position
"""
_PG_PERMISSION = """
select case when to_regclass(:qualified) is null then null
            else has_table_privilege(to_regclass(:qualified), :permission) end
"""


def _columns(conn: sa.Connection, sql: str, schema: str, table: str, qualified: str) -> tuple:
    rows = conn.execute(sa.text(sql), {"schema": schema, "table": table, "qualified": qualified})
    return tuple(
        Column(
            name=str(r[0]),
            data_type=str(r[1]).lower(),
            nullable=str(r[2]).upper() == "YES",
            has_default=r[3] is not None,
            max_length=None if r[4] is None else int(r[4]),
            precision=None if r[5] is None else int(r[5]),
            scale=None if r[6] is None else int(r[6]),
            collation=r[7],
            is_identity=bool(r[8]),
            is_computed=bool(r[9]),
        )
        for r in rows
    )


def _indexes(conn: sa.Connection, sql: str, qualified: str) -> tuple[tuple[str, ...], ...]:
    found: dict[Any, list[str]] = {}
    for index_id, column in conn.execute(sa.text(sql), {"qualified": qualified}):
        found.setdefault(index_id, []).append(str(column))
    return tuple(tuple(columns) for columns in found.values())


def read_facts(conn: sa.Connection, schema: str = "dbo") -> BatigestFacts:
    """What the catalog says about `schema`.SuiviMO, `schema`.Salarie and ChantierDef."""
    mssql = conn.dialect.name == "mssql"

    def qualified(table: str) -> str:
        return f"{schema}.{table}" if mssql else f'"{schema}"."{table}"'

    columns_sql = _MSSQL_COLUMNS if mssql else _PG_COLUMNS
    permission_sql = _MSSQL_PERMISSION if mssql else _PG_PERMISSION

    def granted(table: str, permission: str) -> bool | None:
        value = conn.execute(
            sa.text(permission_sql), {"qualified": qualified(table), "permission": permission}
        ).scalar()
        return None if value is None else bool(value)

    suivimo = _columns(conn, columns_sql, schema, "SuiviMO", qualified("SuiviMO"))
    salarie = _columns(conn, columns_sql, schema, "Salarie", qualified("Salarie"))
    privileges: dict[str, bool] = {}
    if salarie:
        privileges["SELECT on Salarie"] = bool(granted("Salarie", "SELECT"))
    if suivimo:
        for permission in SUIVIMO_PRIVILEGES:
            privileges[f"{permission} on SuiviMO"] = bool(granted("SuiviMO", permission))
    triggers = conn.execute(
        sa.text(_MSSQL_TRIGGERS if mssql else _PG_TRIGGERS), {"qualified": qualified("SuiviMO")}
    )
    return BatigestFacts(
        schema=schema,
        suivimo=suivimo,
        salarie=salarie,
        triggers=tuple(str(t) for (t,) in triggers),
        indexes=_indexes(conn, _MSSQL_INDEXES if mssql else _PG_INDEXES, qualified("SuiviMO")),
        privileges=privileges,
        chantier_readable=bool(granted("ChantierDef", "SELECT")),
    )


__all__ = ["read_facts"]
