"""A changed load written by our own SQL, without dlt (issue 19): when every row of the
BatiSimply merge resources (time slots, quarantine, project lookups) fits the tables
staging holds (`fit.py`), the rows go by COPY into temp tables, then replace the rows of
the same key in one transaction — what dlt's merge (delete-insert on the primary key)
stores: the same columns and values, `_generation` null (stamped right after, as dlt's
rows are), a new `_dlt_id` per row, and `_dlt_load_id` as the no-change path makes it
(`unchanged.load_id`, in no `_dlt_loads` row).

Changed projects are replaced the same way (delete all, insert), in that transaction.
Used only when the tables are complete (`unchanged.batisimply_complete`): a table to
create or complete, a row that does not fit, or more than MAX_ROWS rows (held in memory
until written, where dlt streams them to files) go through dlt, handed the batches read
so far and the rest.
"""

from __future__ import annotations

import base64
import itertools
import logging
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg
import sqlalchemy as sa

from batisync.loader import unchanged
from batisync.loader.classify import Batch
from batisync.loader.fit import NoFit, fitted, project_columns, slot_columns
from batisync.loader.report import LoadError, api_errors, root_cause
from batisync.loader.staging_state import snapshot_slots
from batisync.loader.tables import (
    PROJECT_LOOKUPS,
    PROJECTS_TABLE,
    QUARANTINE,
    RAW_BATISIMPLY,
    SLOTS,
)

log = logging.getLogger(__name__)

# raw table -> its merge key (source.py's primary keys)
MERGED = {
    f"{RAW_BATISIMPLY}.{SLOTS}": "id",
    f"{RAW_BATISIMPLY}.{QUARANTINE}": "quarantine_key",
    f"{RAW_BATISIMPLY}.{PROJECT_LOOKUPS}": "id",
}
MAX_ROWS = 20_000  # more is a rewrite (a new CHECKS_VERSION): dlt streams it instead

Gathered = dict[str, dict[Any, dict[str, Any]]]  # table -> key -> column -> value


def _add(gathered: Gathered, batch: Batch, tables: Mapping[str, Mapping[str, str]]) -> None:
    """`batch`'s rows, typed for their tables (NoFit: one needs dlt)."""
    slots, quarantine, lookups = MERGED
    for table, rows, flat in (
        (slots, batch.rows, slot_columns),
        (quarantine, batch.bad, dict),
        (lookups, batch.lookups, dict),
    ):
        key = MERGED[table]
        for row in rows:
            typed = fitted(flat(row), tables[table])
            gathered[table][typed[key]] = typed  # one row per key, as dlt's merge keeps


def gather(
    batches: Iterator[Batch],
    tables: Mapping[str, Mapping[str, str]],
    projects: Sequence[Mapping[str, Any]] | None = None,
) -> tuple[Gathered | None, Iterator[Batch]]:
    """Every batch's rows typed for their table, and `projects` (None: not replaced)
    for theirs; or None and the batches for dlt (those read, then the rest) at the first
    row that does not fit, or past MAX_ROWS rows."""
    gathered: Gathered = {table: {} for table in MERGED}
    read: list[Batch] = []
    if projects is not None:
        try:  # a project listed twice (two codes) is two rows: keyed by position
            columns = tables[PROJECTS_TABLE]
            typed = (fitted(project_columns(row), columns) for row in projects)
            gathered[PROJECTS_TABLE] = dict(enumerate(typed))
        except NoFit as why:
            log.info("a project does not fit the stored table (%s): written by dlt", why)
            return None, batches
    with api_errors():
        for batch in batches:
            read.append(batch)
            try:
                _add(gathered, batch, tables)
            except NoFit as why:
                log.info("a row does not fit the stored tables (%s): written by dlt", why)
                return None, itertools.chain(read, batches)
            if sum(map(len, gathered.values())) > MAX_ROWS:
                log.info("more than %d rows to write: written by dlt", MAX_ROWS)
                return None, itertools.chain(read, batches)
    return gathered, iter(())


def new_dlt_id() -> str:
    """A row id as dlt makes them (random, base64 of 10 bytes)."""
    return base64.b64encode(secrets.token_bytes(10)).decode("ascii").rstrip("=")


def _quoted(names: list[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


def _merge(conn: sa.Connection, table: str, rows: list[dict[str, Any]], load_id: str) -> None:
    """Replace the rows of `table` with the same key as `rows` (every row: the projects)
    in the caller's transaction: COPY into a temp table shaped like it, delete, insert."""
    key = MERGED.get(table)
    names = sorted({name for row in rows for name in row})
    columns = _quoted([*names, "_dlt_load_id", "_dlt_id"])
    temp = "lean_" + table.split(".")[1]
    conn.exec_driver_sql(f"create temp table {temp} (like {table}) on commit drop")
    driver: Any = conn.connection.driver_connection  # psycopg's, in this transaction
    copy_sql = f"copy {temp} ({columns}) from stdin"
    with driver.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for row in rows:
            copy.write_row([*(row.get(name) for name in names), load_id, new_dlt_id()])
    conn.exec_driver_sql(f"analyze {temp}")
    if key is None:  # replaced, as dlt's truncate-and-insert
        conn.exec_driver_sql(f"delete from {table}")
    else:
        conn.exec_driver_sql(f'delete from {table} t using {temp} s where t."{key}" = s."{key}"')
    conn.exec_driver_sql(f"insert into {table} ({columns}) select {columns} from {temp}")


def write(
    conn: sa.Connection,
    gathered: Gathered,
    *,
    fetched_at: datetime,
    refresh_projects: bool,
    slot_rows: Callable[[], bool],
) -> None:
    """The gathered rows in one transaction (a crash leaves raw as it was, or written),
    after `prev_slots` of the slots written; the projects, fetched unchanged, get
    this load id (dlt's replace would have rewritten them)."""
    began = time.monotonic()
    if slot_rows():  # the slots written: those gathered (one row per id)
        snapshot_slots(conn, [str(i) for i in gathered[f"{RAW_BATISIMPLY}.{SLOTS}"]])
    load_id = unchanged.load_id(fetched_at)
    conn.commit()
    try:
        with conn.begin():
            for table, rows in gathered.items():
                if rows or table == PROJECTS_TABLE:
                    _merge(conn, table, list(rows.values()), load_id)
            if refresh_projects and PROJECTS_TABLE not in gathered:  # fetched unchanged
                conn.execute(
                    sa.text(f"update {PROJECTS_TABLE} set _dlt_load_id = :load_id"),
                    {"load_id": load_id},
                )
    except (sa.exc.SQLAlchemyError, psycopg.Error) as error:  # COPY is psycopg's own
        cause = root_cause(error)
        raise LoadError(
            f"loading {RAW_BATISIMPLY} failed: {type(cause).__name__}: {cause}"
        ) from cause
    written = {table.split(".")[1]: len(rows) for table, rows in gathered.items() if rows}
    log.info("written by SQL in %.2f s, without dlt: %s", time.monotonic() - began, written)


def write_or_hand_over(
    conn: sa.Connection,
    batches: Iterator[Batch],
    stored: unchanged.Stored,
    fetched_at: datetime,
    refresh_projects: bool,
    slot_rows: Callable[[], bool],
    projects: Sequence[Mapping[str, Any]] | None,
) -> Iterator[Batch] | None:
    """`batches` (and `projects`, None: not replaced) written by our SQL (None), or,
    when they need dlt, handed back whole."""
    gathered, for_dlt = gather(batches, stored.columns, projects)
    if gathered is None:
        return for_dlt
    write(
        conn,
        gathered,
        fetched_at=fetched_at,
        refresh_projects=refresh_projects,
        slot_rows=slot_rows,
    )
    return None


__all__ = [
    "MAX_ROWS",
    "MERGED",
    "gather",
    "new_dlt_id",
    "write",
    "write_or_hand_over",
]
