"""A load with nothing to write costs its fetch and a compare: dlt is started only when
some resource has rows to write (issue 19). Here: what staging holds of the small
resources (read before any pipeline), the pure decisions "would dlt write anything?",
and, when it would not, the bookkeeping its load wrote, by our own SQL.

What dlt's load of identical rows changed, and what is written here instead: the
quarantine's `last_seen_at` (deletion marking reads it: a slot quarantined in this run
is not deleted), the lookups' `looked_up_at`, the check's `checked_at`, and
`_dlt_load_id` of every row dlt would have rewritten (projects', salarie's: dbt's
source freshness field `to_timestamp(_dlt_load_id)`); such a load id is ours, in no
`_dlt_loads` row. `_generation` is left as it is (dlt's rows kept theirs: same content).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from batisync.loader.batigest import ChantierCheck, with_hash
from batisync.loader.classify import Batch
from batisync.loader.tables import (
    CHANTIER_CHECK,
    CHANTIER_COLUMNS,
    CHANTIERS,
    CHECK_COLUMNS,
    LOOKUP_COLUMNS,
    PROJECT_COLUMNS,
    PROJECT_LOOKUPS,
    PROJECTS,
    QUARANTINE,
    QUARANTINE_COLUMNS,
    RAW_BATIGEST,
    RAW_BATISIMPLY,
    SALARIE,
    SALARIE_COLUMNS,
    SLOT_COLUMNS,
    SLOTS,
)

# (schema, table) -> the columns dlt creates from our hints: a table missing one of them
# (loaded by an older version) goes through dlt, which adds it
HINTED = {
    (RAW_BATISIMPLY, SLOTS): SLOT_COLUMNS,
    (RAW_BATISIMPLY, QUARANTINE): QUARANTINE_COLUMNS,
    (RAW_BATISIMPLY, PROJECT_LOOKUPS): LOOKUP_COLUMNS,
    (RAW_BATISIMPLY, PROJECTS): PROJECT_COLUMNS,
    (RAW_BATIGEST, SALARIE): SALARIE_COLUMNS,
    (RAW_BATIGEST, CHANTIERS): CHANTIER_COLUMNS,
    (RAW_BATIGEST, CHANTIER_CHECK): CHECK_COLUMNS,
}
DLT_COLUMNS = ("_dlt_load_id", "_dlt_id")
# a quarantine row's content: every column but the two times of the load
QUARANTINE_CONTENT = ("resource", "record_id", "reason", "detail", "payload", "management_status")
LOOKUP_CONTENT = ("project_code", "project_name", "lookup_status")


def _digest(values: Iterable[Any]) -> str:
    return hashlib.md5(repr(tuple(values)).encode(), usedforsecurity=False).hexdigest()


@dataclass
class Stored:
    """What staging holds of the small resources, before this load writes anything."""

    complete: set[str] = field(default_factory=set)  # "schema.table" with every column
    # "schema.table" -> column -> PostgreSQL data type (sql_write.py's rows must fit)
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    quarantine: dict[str, str] = field(default_factory=dict)  # key -> content digest
    lookups: dict[int, tuple] = field(default_factory=dict)  # id -> LOOKUP_CONTENT
    projects: Counter[tuple] = field(default_factory=Counter)  # (id, hash)
    salarie: Counter[tuple] = field(default_factory=Counter)  # (code, hash)
    chantiers: Counter[str] = field(default_factory=Counter)
    check: list[tuple] = field(default_factory=list)  # (is_on, detail)


def stored_columns(conn: sa.Connection) -> dict[str, dict[str, str]]:
    """`schema.table` -> column -> PostgreSQL data type, of every raw table."""
    query = (
        "select table_schema, table_name, column_name, data_type "
        "from information_schema.columns where table_schema in (:a, :b)"
    )
    columns: dict[str, dict[str, str]] = {}
    for schema, table, column, data_type in conn.execute(
        sa.text(query), {"a": RAW_BATISIMPLY, "b": RAW_BATIGEST}
    ):
        columns.setdefault(f"{schema}.{table}", {})[column] = data_type
    return columns


def read_stored(conn: sa.Connection) -> Stored:
    """The small tables, after `staging_state.read_before` (its prev_projects and
    prev_salarie snapshots are read here)."""
    stored = Stored(columns=stored_columns(conn))
    for key, hints in HINTED.items():
        found = stored.columns.get(".".join(key), {})
        if set(hints) | set(DLT_COLUMNS) <= found.keys():
            stored.complete.add(".".join(key))

    def rows(table: str, select: str) -> Iterator[Any]:
        if table in stored.complete:
            yield from conn.execute(sa.text(f"select {select} from {table}"))

    quarantine = f"{RAW_BATISIMPLY}.{QUARANTINE}"
    for key, *content in rows(quarantine, f"quarantine_key, {', '.join(QUARANTINE_CONTENT)}"):
        stored.quarantine[key] = _digest(content)
    lookups = f"{RAW_BATISIMPLY}.{PROJECT_LOOKUPS}"
    for lookup_id, *content in rows(lookups, f"id, {', '.join(LOOKUP_CONTENT)}"):
        stored.lookups[lookup_id] = tuple(content)
    stored.projects = Counter(map(tuple, conn.execute(sa.text("select key, h from prev_projects"))))
    stored.salarie = Counter(map(tuple, conn.execute(sa.text("select key, h from prev_salarie"))))
    stored.chantiers = Counter(c for (c,) in rows(f"{RAW_BATIGEST}.{CHANTIERS}", "code"))
    stored.check = [tuple(r) for r in rows(f"{RAW_BATIGEST}.{CHANTIER_CHECK}", "is_on, detail")]
    conn.commit()
    return stored


# -- the decisions (pure) ------------------------------------------------------------


def batch_writes(batch: Batch, stored: Stored) -> bool:
    """True when dlt would write something of `batch` that staging does not hold."""
    if batch.rows:  # the classifier hands on only new or changed slots
        return True
    for row in batch.bad:
        content = _digest(row[c] for c in QUARANTINE_CONTENT)
        if stored.quarantine.get(row["quarantine_key"]) != content:
            return True
    return any(
        stored.lookups.get(row["id"]) != tuple(row[c] for c in LOOKUP_CONTENT)
        for row in batch.lookups
    )


def batisimply_complete(stored: Stored, projects: Sequence[Mapping[str, Any]] | None) -> bool:
    """False when dlt must create or complete a BatiSimply table (the projects' only
    when they are refreshed, `projects` not None)."""
    names = (SLOTS, QUARANTINE, PROJECT_LOOKUPS, *((PROJECTS,) if projects is not None else ()))
    return {f"{RAW_BATISIMPLY}.{name}" for name in names} <= stored.complete


def batisimply_writes(stored: Stored, projects: Sequence[Mapping[str, Any]] | None) -> bool:
    """True when the BatiSimply pipeline must run whatever the slots are: a table to
    create or complete, or projects (None: kept as they are) that differ."""
    if not batisimply_complete(stored, projects):
        return True
    if projects is None:
        return False
    fetched = Counter((str(p["id"]), p["_content_hash"]) for p in projects)
    return fetched != stored.projects


def batigest_writes(
    stored: Stored, salarie: Sequence[Mapping[str, Any]] | None, check: ChantierCheck
) -> bool:
    """True when the Batigest pipeline has something to write (salarie None: kept)."""
    if salarie is not None:
        fetched = Counter(
            (None if r["code"] is None else str(r["code"]), with_hash(r)["_content_hash"])
            for r in salarie
        )
        if f"{RAW_BATIGEST}.{SALARIE}" not in stored.complete or fetched != stored.salarie:
            return True
    if f"{RAW_BATIGEST}.{CHANTIER_CHECK}" not in stored.complete:
        return True
    if stored.check != [(check.is_on, check.detail)]:
        return True
    if not check.is_on:
        return False  # chantiers is not written while the check is off
    codes = Counter(check.codes or ())
    return f"{RAW_BATIGEST}.{CHANTIERS}" not in stored.complete or codes != stored.chantiers


def read_until_write(batches: Iterator[Batch], stored: Stored, seen: list[Batch]) -> bool:
    """Read `batches` into `seen` up to the first one dlt would write (True), or all."""
    for batch in batches:
        seen.append(batch)
        if batch_writes(batch, stored):
            return True
    return False


# -- the bookkeeping, when dlt does not run ------------------------------------------


def load_id(at: datetime) -> str:
    """A load id as dlt makes them (Unix seconds as text): dbt's freshness reads it."""
    return str(at.timestamp())


def mark_batisimply_seen(
    conn: sa.Connection, seen: Sequence[Batch], at: datetime, refresh_projects: bool
) -> None:
    """What dlt's load of the same rows wrote: quarantine and lookups seen now."""
    keys = [row["quarantine_key"] for batch in seen for row in batch.bad]
    ids = [row["id"] for batch in seen for row in batch.lookups]
    params = {"at": at, "load_id": load_id(at), "keys": keys, "ids": ids}
    with conn.begin():
        if keys:
            conn.execute(
                sa.text(
                    f"update {RAW_BATISIMPLY}.{QUARANTINE} set last_seen_at = :at, "
                    "_dlt_load_id = :load_id where quarantine_key = any(cast(:keys as text[]))"
                ),
                params,
            )
        if ids:
            conn.execute(
                sa.text(
                    f"update {RAW_BATISIMPLY}.{PROJECT_LOOKUPS} set looked_up_at = :at, "
                    "_dlt_load_id = :load_id where id = any(cast(:ids as bigint[]))"
                ),
                params,
            )
        if refresh_projects:
            conn.execute(
                sa.text(f"update {RAW_BATISIMPLY}.{PROJECTS} set _dlt_load_id = :load_id"),
                params,
            )


def mark_batigest_seen(
    conn: sa.Connection, salarie_refreshed: bool, check: ChantierCheck, at: datetime
) -> None:
    """What dlt's replace of the same Batigest rows wrote: their load id, `checked_at`."""
    params = {"at": at, "load_id": load_id(at)}
    with conn.begin():
        if salarie_refreshed:
            conn.execute(
                sa.text(f"update {RAW_BATIGEST}.{SALARIE} set _dlt_load_id = :load_id"), params
            )
        conn.execute(
            sa.text(
                f"update {RAW_BATIGEST}.{CHANTIER_CHECK} set checked_at = :at, "
                "_dlt_load_id = :load_id"
            ),
            params,
        )
        if check.is_on:
            conn.execute(
                sa.text(f"update {RAW_BATIGEST}.{CHANTIERS} set _dlt_load_id = :load_id"), params
            )


__all__ = [
    "Stored",
    "batch_writes",
    "batigest_writes",
    "batisimply_complete",
    "batisimply_writes",
    "load_id",
    "mark_batigest_seen",
    "mark_batisimply_seen",
    "read_stored",
    "read_until_write",
    "stored_columns",
]
