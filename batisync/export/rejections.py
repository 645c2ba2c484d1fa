"""The rejected slots (dbt's `heures_rejected`) as the people fixing the data see them.

`heures_rejected_seen` remembers what the last sync reported: dbt reads it to mark each
rejection new or not and to carry `first_rejected_at` across runs; the sync rewrites it
after each real run (`remember_rejections`). Same DDL as the dbt macro
`heures_rejected_seen_ddl` (on-run-start), so either may create it first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from batisync.core.connections import qualified, relation_exists

SEEN_TABLE = "heures_rejected_seen"
# what `batisync rejected` prints and writes to CSV, in this order
COLUMNS = (
    "id_heure",
    "employee_name",
    "work_date",
    "started_at_local",
    "ended_at_local",
    "total_hours",
    "project_id",
    "project_code",
    "project_name",
    "reason",
    "detail",
    "user_id",
    "salarie_code",
    "first_rejected_at",
    "is_new",
)

_DDL = """
create table if not exists {table} (
  id_heure varchar primary key,
  reason varchar not null,
  first_rejected_at timestamptz not null,
  last_rejected_at timestamptz not null
)
"""


def _columns(conn: sa.Connection, schema: str, name: str) -> set[str]:
    return {c["name"] for c in sa.inspect(conn).get_columns(name, schema=schema)}


def rejections_by_reason(
    conn: sa.Connection, schema: str = "public"
) -> tuple[dict[str, int], dict[str, int]]:
    """(all, new since the last sync) rejections of heures_rejected, by reason."""
    table = qualified(conn, schema, "heures_rejected")
    if not relation_exists(conn, table):
        return {}, {}
    new = "is_new" if "is_new" in _columns(conn, schema, "heures_rejected") else "true"
    query = sa.text(
        f"select reason, count(*), count(*) filter (where {new}) from {table} group by reason"
    )
    by_reason: dict[str, int] = {}
    new_by_reason: dict[str, int] = {}
    for reason, total, fresh in conn.execute(query):
        by_reason[str(reason)] = int(total)
        if fresh:
            new_by_reason[str(reason)] = int(fresh)
    return by_reason, new_by_reason


def remember_rejections(conn: sa.Connection, schema: str, now: datetime) -> int:
    """Make heures_rejected_seen what heures_rejected holds now; returns its row count.

    A slot no longer rejected (or rejected for another reason) is forgotten, so if it is
    rejected again later it counts as new again."""
    rejected = qualified(conn, schema, "heures_rejected")
    if not relation_exists(conn, rejected):
        return 0
    seen = qualified(conn, schema, SEEN_TABLE)
    conn.execute(sa.text(_DDL.format(table=seen)))
    conn.execute(
        sa.text(
            f"delete from {seen} s where not exists (select 1 from {rejected} r "
            "where r.id_heure = s.id_heure and r.reason = s.reason)"
        )
    )
    has_first = "first_rejected_at" in _columns(conn, schema, "heures_rejected")
    first = "coalesce(r.first_rejected_at, :now)" if has_first else ":now"
    result = conn.execute(
        sa.text(
            f"insert into {seen} (id_heure, reason, first_rejected_at, last_rejected_at) "
            f"select r.id_heure, r.reason, {first}, :now from {rejected} r "
            "on conflict (id_heure) do update set last_rejected_at = excluded.last_rejected_at"
        ),
        {"now": now},
    )
    return int(result.rowcount or 0)


def read_rejected(conn: sa.Connection, schema: str = "public") -> list[dict[str, Any]]:
    """Every row of heures_rejected, oldest slot first (the columns it has of COLUMNS)."""
    table = qualified(conn, schema, "heures_rejected")
    if not relation_exists(conn, table):
        raise LookupError(f"{schema}.heures_rejected not found in staging: run a sync first")
    present = _columns(conn, schema, "heures_rejected")
    names = [c for c in COLUMNS if c in present]
    order = "started_at_local nulls last, " if "started_at_local" in present else ""
    rows = conn.execute(
        sa.text(f"select {', '.join(names)} from {table} order by {order}id_heure")
    ).mappings()
    return [dict(r) for r in rows]


def mark_reported(conn: sa.Connection, schema: str, now: datetime) -> None:
    """A run that skipped its transform reported the same rejections again: none is new
    any more (`is_new` is "not reported by the last sync"), and they were seen `now`."""
    remember_rejections(conn, schema, now)
    rejected = qualified(conn, schema, "heures_rejected")
    if relation_exists(conn, rejected) and "is_new" in _columns(conn, schema, "heures_rejected"):
        conn.execute(sa.text(f"update {rejected} set is_new = false where is_new"))


__all__ = [
    "COLUMNS",
    "SEEN_TABLE",
    "mark_reported",
    "read_rejected",
    "rejections_by_reason",
    "remember_rejections",
]
