"""Each raw row's `_generation`: the staging generation (generation.py) of the load that
last changed its content or its deletion marks. The transform reads only the rows newer
than the generation its last complete run read (issue 19, docs/INCREMENTAL.md).

dlt writes the column null on every row it writes (the records do not carry it), so
right after dlt's load, `stamp_generations` gives each null row either the generation
it had before, when a row of the same content was there before the load (a replaced
table rewrites its unchanged rows too), or this load's. The deletion marks set it in
the same statement (deletions.py). A row left null by a load that died before stamping
is stamped by the next load, and the transform takes a null as changed.
"""

from __future__ import annotations

import sqlalchemy as sa

from batisync.core.connections import relation_exists
from batisync.loader.tables import (
    CHANTIER_CHECK,
    CHANTIERS,
    PROJECT_LOOKUPS,
    PROJECTS_TABLE,
    QUARANTINE_TABLE,
    RAW_BATIGEST,
    RAW_BATISIMPLY,
    SALARIE_TABLE,
    SLOTS_TABLE,
)

# raw table -> the columns that make a row's content (never a timestamp of the load)
CONTENT_COLUMNS = {
    PROJECTS_TABLE: "id, _content_hash",
    SALARIE_TABLE: "code, _content_hash",
    f"{RAW_BATIGEST}.{CHANTIERS}": "code",
    f"{RAW_BATIGEST}.{CHANTIER_CHECK}": "is_on, detail",
    f"{RAW_BATISIMPLY}.{PROJECT_LOOKUPS}": "id, project_code, project_name, lookup_status",
    QUARANTINE_TABLE: "quarantine_key, reason, detail, payload, management_status",
}

_HAS_GENERATION = """
select 1 from information_schema.columns
where table_schema = :schema and table_name = :table and column_name = '_generation'
"""

# the slots' rows written since a generation are few: the transform's changed slots, the
# staging tests limited to them and the stamp below read them through this index, not
# by a scan of the window and its history (dlt creates no index of its own)
SLOTS_GENERATION_INDEX = "time_slots__generation"
_INDEX_EXISTS = "select 1 from pg_indexes where schemaname = :schema and indexname = :name"
_CREATE_INDEX = (
    f"create index if not exists {SLOTS_GENERATION_INDEX} on {SLOTS_TABLE} (_generation)"
)

# time slots: staging_state's prev_slots snapshot (id, content hash, gone, generation);
# a slot alive before with the same content keeps its generation (`row`: the slot row's
# alias; our SQL's writes give it in their insert, sql_write.py)
SLOT_GENERATION = (
    "coalesce((select p.g from prev_slots p where p.id = {row}.id "
    "and p.h = {row}._content_hash and not p.gone), {generation})"
)
_STAMP_SLOTS = (
    f"update {SLOTS_TABLE} t set _generation = "
    + SLOT_GENERATION.format(row="t", generation=":generation")
    + " where t._generation is null"
)


def generation_of(conn: sa.Connection, table: str) -> str:
    """`_generation`, or a null in its place for a table loaded before the column was."""
    schema, name = table.split(".")
    found = conn.execute(sa.text(_HAS_GENERATION), {"schema": schema, "table": name}).first()
    return "_generation" if found else "null::bigint"


def _stamped(conn: sa.Connection, table: str) -> bool:
    # a table this load did not write may still lack the column (loaded before it was)
    return relation_exists(conn, table) and generation_of(conn, table) == "_generation"


def _snapshot_name(table: str) -> str:
    return "prev_generation_" + table.replace(".", "_")


def _content(columns: str) -> str:
    return f"md5(row({columns})::text)"


def snapshot_generations(conn: sa.Connection) -> None:
    """Before the load: each content of the CONTENT_COLUMNS tables and its generation, in
    temp tables of this session (the time slots' are in staging_state's prev_slots)."""
    for table, columns in CONTENT_COLUMNS.items():
        temp = _snapshot_name(table)
        conn.execute(sa.text(f"drop table if exists {temp}"))
        conn.execute(sa.text(f"create temp table {temp} (content text primary key, g bigint)"))
        if relation_exists(conn, table):
            conn.execute(
                sa.text(
                    f"insert into {temp} select {_content(columns)}, "
                    f"max({generation_of(conn, table)}) from {table} group by 1"
                )
            )


def _index_generations(conn: sa.Connection) -> None:
    # DDL only when missing: creating an index locks the table against writes
    params = {"schema": RAW_BATISIMPLY, "name": SLOTS_GENERATION_INDEX}
    if conn.execute(sa.text(_INDEX_EXISTS), params).first() is None:
        conn.execute(sa.text(_CREATE_INDEX))


def stamp_generations(conn: sa.Connection, generation: int) -> None:
    """After dlt's load, in one transaction: every row dlt wrote (null `_generation`)
    keeps the generation of the same content before the load, or takes this load's."""
    with conn.begin():
        if _stamped(conn, SLOTS_TABLE):
            _index_generations(conn)
            conn.execute(sa.text(_STAMP_SLOTS), {"generation": generation})
        for table, columns in CONTENT_COLUMNS.items():
            if not _stamped(conn, table):
                continue
            stamp = (
                f"update {table} t set _generation = coalesce((select p.g from "
                f"{_snapshot_name(table)} p where p.content = {_content(columns)}), "
                ":generation) where t._generation is null"
            )
            conn.execute(sa.text(stamp), {"generation": generation})


__all__ = [
    "CONTENT_COLUMNS",
    "SLOTS_GENERATION_INDEX",
    "SLOT_GENERATION",
    "generation_of",
    "snapshot_generations",
    "stamp_generations",
]
