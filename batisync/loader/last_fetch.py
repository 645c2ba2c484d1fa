"""When the loader last fetched the time slots: one row, written at the end of every
load that fetched its whole window (issue 19).

A slot fetched unchanged is not written (`staging_state.stamp_refused`), so the newest
`_fetched_at` of the slots says when something last changed, not when the loader last
ran; dbt's source freshness of `time_slots` reads this row instead (its
`loaded_at_query`).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from batisync.core.connections import relation_exists
from batisync.loader.tables import RAW_BATISIMPLY
from batisync.loader.window import Window

LAST_FETCH_TABLE = f"{RAW_BATISIMPLY}.time_slots_last_fetch"

_CREATE_TABLE = f"""
create table if not exists {LAST_FETCH_TABLE} (
    singleton boolean primary key default true check (singleton),
    fetched_at timestamptz not null,
    window_start timestamptz not null,
    window_end timestamptz not null,
    slots integer not null
)"""
_RECORD = f"""
insert into {LAST_FETCH_TABLE} as f (fetched_at, window_start, window_end, slots)
values (:fetched_at, :start, :end, :slots)
on conflict (singleton) do update
set fetched_at = excluded.fetched_at, window_start = excluded.window_start,
    window_end = excluded.window_end, slots = excluded.slots
"""


def record_fetch(conn: sa.Connection, window: Window, fetched_at: datetime, slots: int) -> None:
    """Keep this load's fetch (the raw schema exists: the staging generation made it)."""
    with conn.begin():
        # DDL only when missing: a role without CREATE may run the sync on a schema
        # made for it (as generation.py)
        if not relation_exists(conn, LAST_FETCH_TABLE):
            conn.execute(sa.text(_CREATE_TABLE))
        params = {"fetched_at": fetched_at, "start": window.start, "end": window.end}
        conn.execute(sa.text(_RECORD), {**params, "slots": slots})


__all__ = ["LAST_FETCH_TABLE", "record_fetch"]
