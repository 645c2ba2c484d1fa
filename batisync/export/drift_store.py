"""The drift stage's staging side: the slots to compare (dbt's `heures_synced`) and its
memory, `batigest_heures_drift` (owned by the drift stage, created on first use).

`batigest_heures_drift` keeps, per slot, what the sync restored (so a row deleted or
edited again the same way is `contested`, not fought over) and what it last reported
(so an alert names only new findings), for the slot's values hash: a change upstream
makes the row stale, and it is forgotten.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import groupby
from operator import itemgetter
from typing import Any, TypeVar

import sqlalchemy as sa

from batisync.core.connections import qualified, relation_exists
from batisync.export.drift import Memory
from batisync.export.map_table import MAP_TABLE
from batisync.export.model import Key, MapRow, values_from_db

DRIFT_TABLE = "batigest_heures_drift"
SYNCED_VIEW = "heures_synced"
STREAM_ROWS = 5000  # rows a server-side cursor fetches at a time
T = TypeVar("T")

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


def synced_exists(conn: sa.Connection, schema: str) -> bool:
    return relation_exists(conn, qualified(conn, schema, SYNCED_VIEW))


def map_rows_by_code(conn: sa.Connection, schema: str) -> dict[str, int]:
    """How many map rows (history included) each CodeSalarie has."""
    table = qualified(conn, schema, MAP_TABLE)
    sql = f"select code_salarie, count(*) from {table} group by code_salarie"
    return {code: int(n) for code, n in conn.exec_driver_sql(sql)}


def synced_by_group(
    conn: sa.Connection, schema: str, groups: Sequence[Sequence[str]]
) -> Iterator[tuple[list[MapRow], list[Key]]]:
    """Per group of employee codes, in order: its slots of heures_synced (whose SuiviMO
    row must be what the map says, see heures_synced.sql) and its map keys. One ordered
    query each, streamed side by side (server-side cursors): one group is held at a time.
    heures_synced's rows are map rows, so their codes are among the groups'."""
    codes = [c for g in groups for c in g]
    numbers = [n for n, g in enumerate(groups) for _ in g]
    # a filter on the codes, which PostgreSQL pushes down to the map's rows under
    # heures_synced (a join on unnest() was planned as a nested loop over every synced
    # row: 0.87 s at 100k for 90 employees, 0.17 s this way); the group by position
    number = (
        "(cast(:numbers as integer[]))[array_position(cast(:codes as text[]), "
        "cast(t.code_salarie as text))]"
    )
    where = "where t.code_salarie = any(cast(:codes as text[])) order by 1"
    stream = conn.execution_options(stream_results=True, yield_per=STREAM_ROWS)
    params = {"codes": codes, "numbers": numbers}
    view = qualified(conn, schema, SYNCED_VIEW)
    synced = stream.execute(
        sa.text(
            f"select {number}, t.id_heure, t.code_chantier, t.code_salarie, t.date_sqlserver, "
            f"t.nb_h0, t.nb_h3, t.nb_h4, t.values_hash from {view} t {where}"
        ),
        params,
    )
    keys = stream.execute(
        sa.text(
            f"select {number}, t.code_chantier, t.code_salarie, t.date_sqlserver "
            f"from {qualified(conn, schema, MAP_TABLE)} t {where}"
        ),
        params,
    )
    scopes = _per_group(
        (
            (r[0], MapRow(r[1], (r[2], r[3], r[4]), values_from_db(r[5], r[6], r[7]), r[8]))
            for r in synced
        ),
        len(groups),
    )
    mapped = _per_group(((r[0], (r[1], r[2], r[3])) for r in keys), len(groups))
    yield from zip(scopes, mapped, strict=True)


def _per_group(rows: Iterable[tuple[int, T]], count: int) -> Iterator[list[T]]:
    """Rows ordered by group number, as one list per group 0..count-1 (empty if none)."""
    runs = groupby(rows, key=itemgetter(0))
    run = next(runs, None)
    for number in range(count):
        if run is not None and run[0] == number:
            yield [r for _, r in run[1]]
            run = next(runs, None)
        else:
            yield []


def read_memory(conn: sa.Connection, schema: str) -> dict[str, Memory]:
    table = qualified(conn, schema, DRIFT_TABLE)
    if not relation_exists(conn, table):
        return {}
    rows = conn.exec_driver_sql(f"select {', '.join(_COLUMNS)} from {table}")
    return {r.id_heure: Memory(*r) for r in rows}


def write_memory(conn: sa.Connection, schema: str, rows: Sequence[Memory], run_id: str) -> None:
    """Replace the memory with `rows` (a few rows: only slots with a finding or a restore).
    The schema exists: heures_synced, read before, lives in it."""
    table = qualified(conn, schema, DRIFT_TABLE)
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
    "map_rows_by_code",
    "read_memory",
    "synced_by_group",
    "synced_exists",
    "write_memory",
]
