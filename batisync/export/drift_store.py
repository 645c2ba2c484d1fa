"""The drift stage's staging side: the slots to compare (dbt's `heures_synced`) and its
memory, `batigest_heures_drift` (owned by the drift stage, created on first use).

`batigest_heures_drift` keeps, per slot, what the sync restored (so a row deleted or
edited again the same way is `contested`, not fought over) and what it last reported
(so an alert names only new findings), for the slot's values hash: a change upstream
makes the row stale, and it is forgotten.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from batisync.core.connections import relation_exists
from batisync.export.drift import Memory
from batisync.export.model import MapRow, values_from_db

DRIFT_TABLE = "batigest_heures_drift"
SYNCED_VIEW = "heures_synced"

_DDL = """
create table if not exists {table} (
  id_heure varchar primary key,
  values_hash varchar not null,
  restored_kind varchar,
  restored_at timestamptz,
  reported_kind varchar,
  first_reported_at timestamptz,
  run_id varchar
)
"""
_COLUMNS = (
    "id_heure",
    "values_hash",
    "restored_kind",
    "restored_at",
    "reported_kind",
    "first_reported_at",
)


def _q(conn: sa.Connection, schema: str, name: str) -> str:
    prep = conn.dialect.identifier_preparer
    return f"{prep.quote_schema(schema)}.{prep.quote(name)}"


def synced_exists(conn: sa.Connection, schema: str) -> bool:
    return relation_exists(conn, _q(conn, schema, SYNCED_VIEW))


def read_synced(conn: sa.Connection, schema: str) -> list[MapRow]:
    """The slots whose SuiviMO row must be what the map says (see heures_synced.sql)."""
    rows = conn.exec_driver_sql(
        "select id_heure, code_chantier, code_salarie, date_sqlserver, nb_h0, nb_h3, nb_h4, "
        f"values_hash from {_q(conn, schema, SYNCED_VIEW)}"
    )
    return [
        MapRow(
            r.id_heure,
            (r.code_chantier, r.code_salarie, r.date_sqlserver),
            values_from_db(r.nb_h0, r.nb_h3, r.nb_h4),
            r.values_hash,
        )
        for r in rows
    ]


def read_memory(conn: sa.Connection, schema: str) -> dict[str, Memory]:
    table = _q(conn, schema, DRIFT_TABLE)
    if not relation_exists(conn, table):
        return {}
    rows = conn.exec_driver_sql(f"select {', '.join(_COLUMNS)} from {table}")
    return {r.id_heure: Memory(*r) for r in rows}


def write_memory(conn: sa.Connection, schema: str, rows: Sequence[Memory], run_id: str) -> None:
    """Replace the memory with `rows` (a few rows: only slots with a finding or a restore).
    The schema exists: heures_synced, read before, lives in it."""
    table = _q(conn, schema, DRIFT_TABLE)
    conn.exec_driver_sql(_DDL.format(table=table))
    conn.exec_driver_sql(f"delete from {table}")
    if not rows:
        return
    columns: dict[str, Any] = {c: [getattr(m, c) for m in rows] for c in _COLUMNS}
    conn.execute(
        sa.text(
            f"insert into {table} ({', '.join(_COLUMNS)}, run_id) "
            "select u.*, cast(:run_id as text) from unnest("
            "cast(:id_heure as text[]), cast(:values_hash as text[]), "
            "cast(:restored_kind as text[]), cast(:restored_at as timestamptz[]), "
            "cast(:reported_kind as text[]), cast(:first_reported_at as timestamptz[])) as u"
        ),
        {**columns, "run_id": run_id},
    )


__all__ = [
    "DRIFT_TABLE",
    "SYNCED_VIEW",
    "read_memory",
    "read_synced",
    "synced_exists",
    "write_memory",
]
