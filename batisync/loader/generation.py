"""The staging generation: a counter that every writer of the raw tables increases, in
a transaction of its own committed before it writes anything (`run_load` does it, so
the sync's load, `batisync load` and `debug-heures --update-codes` all do).

A complete sync records the generation its transform read (`sync_runs.generation`); a
later sync may skip its transform only when the generation it found before its own
load is that one: nobody wrote raw since (a run interrupted after its load, a load by
hand...). The counter only grows: a table created afresh (dropped with its schema)
starts from the clock in microseconds, beyond any value counted before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from batisync.core.connections import relation_exists
from batisync.loader.tables import RAW_BATISIMPLY

GENERATION_TABLE = f"{RAW_BATISIMPLY}.staging_generation"

_SCHEMA_EXISTS = "select 1 from pg_namespace where nspname = :schema"
_CREATE_SCHEMA = f"create schema {RAW_BATISIMPLY}"
_CREATE_TABLE = f"""
create table if not exists {GENERATION_TABLE} (
    singleton boolean primary key default true check (singleton),
    generation bigint not null,
    written_at timestamptz not null,
    written_by text
)"""
_CURRENT = f"select generation from {GENERATION_TABLE} for update"
_ADVANCE = f"""
insert into {GENERATION_TABLE} as g (generation, written_at, written_by)
values ((extract(epoch from clock_timestamp()) * 1000000)::bigint, now(), :by)
on conflict (singleton) do update
set generation = g.generation + 1, written_at = now(), written_by = excluded.written_by
returning generation
"""


@dataclass(frozen=True)
class Generation:
    """The generation a writer found (None: no writer had counted one) and its own."""

    before: int | None
    after: int

    def to_dict(self) -> dict[str, Any]:
        return {"before": self.before, "after": self.after}


def advance(conn: sa.Connection, written_by: str) -> Generation:
    """Increase the generation and commit, before the caller writes any raw table."""
    _ensure_table(conn)
    before = conn.execute(sa.text(_CURRENT)).scalar_one_or_none()
    after = conn.execute(sa.text(_ADVANCE), {"by": written_by[:200]}).scalar_one()
    conn.commit()
    return Generation(before, after)


def _ensure_table(conn: sa.Connection) -> None:
    # DDL only when missing: a role without CREATE on the database may run the sync on a
    # schema made for it (CREATE SCHEMA IF NOT EXISTS checks that privilege first)
    if relation_exists(conn, GENERATION_TABLE):
        return
    if conn.execute(sa.text(_SCHEMA_EXISTS), {"schema": RAW_BATISIMPLY}).first() is None:
        conn.execute(sa.text(_CREATE_SCHEMA))
    conn.execute(sa.text(_CREATE_TABLE))


__all__ = ["GENERATION_TABLE", "Generation", "advance"]
