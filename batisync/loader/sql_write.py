"""A load's BatiSimply rows written by our own SQL, without dlt's normaliser (issue 19).

Each batch's rows (time slots, quarantine, project lookups) are typed for the columns
staging holds, or will hold once dlt has created its tables (`planned_columns`; fit.py
says what dlt would store), and COPYed, as the fetch goes, into temp tables of the
load's session: memory follows one batch, not the window. Once the fetch is complete,
`Staged.apply` replaces the rows of the same key in one transaction — what dlt's merge
(delete-insert on the primary key) stores: the same columns and values, one row per
key (the last one fetched), the slots' `_generation` given in the insert (the other
rows' null, stamped right after, as dlt's rows are), a new `_dlt_id` per row, and
`_dlt_load_id` as the no-change path makes it (`unchanged.load_id`, in no `_dlt_loads`
row). Changed projects are replaced the same way (delete all, insert), in that
transaction.

A first load (or one whose tables lack a column) lets dlt create the tables, with the
projects and no slot row, then applies the same way (pipeline.py). A row that does not
fit (a column to create, a value dlt would put in a variant column) hands everything to
dlt: the rows staged so far, read back from the temp tables, then the rest.
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
from batisync.loader.row_generations import SLOT_GENERATION
from batisync.loader.staging_state import snapshot_slots
from batisync.loader.tables import (
    LOOKUP_COLUMNS,
    PROJECT_COLUMNS,
    PROJECT_LOOKUPS,
    PROJECTS_TABLE,
    QUARANTINE_COLUMNS,
    QUARANTINE_TABLE,
    RAW_BATISIMPLY,
    SLOTS_TABLE,
    slot_hints,
)
from batisync.loader.unchanged import DLT_COLUMNS

log = logging.getLogger(__name__)

LOOKUPS_TABLE = f"{RAW_BATISIMPLY}.{PROJECT_LOOKUPS}"
# raw table -> its merge key (source.py's primary keys)
MERGED = {SLOTS_TABLE: "id", QUARANTINE_TABLE: "quarantine_key", LOOKUPS_TABLE: "id"}
# the hints of the tables other than the slots' (theirs: `tables.slot_hints`)
HINTS = {
    QUARANTINE_TABLE: QUARANTINE_COLUMNS,
    LOOKUPS_TABLE: LOOKUP_COLUMNS,
    PROJECTS_TABLE: PROJECT_COLUMNS,
}
# dlt's data types as its postgres destination creates them (information_schema's names)
PG_TYPES = {
    "text": "character varying",
    "bigint": "bigint",
    "double": "double precision",
    "bool": "boolean",
    "timestamp": "timestamp with time zone",
}
SEQ = "_lean_seq"  # the temp tables' fetch order: the last row of a key wins
READ_BACK_PAGE = 5_000

Columns = Mapping[str, Mapping[str, str]]  # table -> column -> PostgreSQL data type


def planned_columns(stored: Columns, complete: set[str]) -> dict[str, dict[str, str]]:
    """The columns of the merged tables and the projects' once dlt has created or
    completed them from our hints (pure): a complete table's as staging holds them."""
    planned: dict[str, dict[str, str]] = {}
    for table in (*MERGED, PROJECTS_TABLE):
        columns = dict(stored.get(table, {}))
        if table not in complete:
            hinted = slot_hints(columns) if table == SLOTS_TABLE else HINTS[table]
            for name, hint in hinted.items():
                columns.setdefault(name, PG_TYPES[hint["data_type"]])
            for name in DLT_COLUMNS:
                columns.setdefault(name, PG_TYPES["text"])
        planned[table] = columns
    return planned


def new_dlt_id() -> str:
    """A row id as dlt makes them (random, base64 of 10 bytes)."""
    return base64.b64encode(secrets.token_bytes(10)).decode("ascii").rstrip("=")


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


def _temp(table: str) -> str:
    return "lean_" + table.split(".")[1]


def _typed(batch: Batch, columns: Columns) -> dict[str, list[dict[str, Any]]]:
    """`batch`'s rows typed for their tables, or NoFit (nothing of the batch kept)."""
    return {
        table: [fitted(flat(row), columns[table]) for row in rows]
        for table, rows, flat in (
            (SLOTS_TABLE, batch.rows, slot_columns),
            (QUARANTINE_TABLE, batch.bad, dict),
            (LOOKUPS_TABLE, batch.lookups, dict),
        )
    }


class Staged:
    """The rows of one load, in temp tables of its session until `apply` (or, handed
    over to dlt, `read_back`)."""

    def __init__(
        self,
        conn: sa.Connection,
        columns: Columns,
        load_id: str,
        projects: list[dict[str, Any]] | None,
    ) -> None:
        self.conn = conn
        self.columns = columns
        self.load_id = load_id
        self.counts = dict.fromkeys(MERGED, 0)
        self.projects = projects  # typed; None: not written here
        for table in (*MERGED, PROJECTS_TABLE):
            self._create(table)

    def _data_columns(self, table: str) -> list[str]:
        return [name for name in self.columns[table] if name not in DLT_COLUMNS]

    def _cursor(self) -> Any:
        """A cursor of psycopg's own connection: this session, its temp tables."""
        return self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]

    def _create(self, table: str) -> None:
        temp = _temp(table)
        typed = ", ".join(f'"{name}" {kind}' for name, kind in self.columns[table].items())
        self.conn.exec_driver_sql(f"drop table if exists {temp}")
        self.conn.exec_driver_sql(
            f"create temp table {temp} ({typed}, {SEQ} bigint generated always as identity)"
        )

    def _copy(self, table: str, rows: list[dict[str, Any]]) -> None:
        names = self._data_columns(table)
        columns = _quoted([*names, *DLT_COLUMNS])
        with (
            self._cursor() as cursor,
            cursor.copy(f"copy {_temp(table)} ({columns}) from stdin") as copy,
        ):
            for row in rows:
                copy.write_row([*(row.get(name) for name in names), self.load_id, new_dlt_id()])

    def add(self, batch: Batch) -> None:
        """`batch`'s rows into the temp tables, or NoFit (then none of them)."""
        for table, rows in _typed(batch, self.columns).items():
            if rows:
                self._copy(table, rows)
                self.counts[table] += len(rows)
        self.conn.commit()  # the session's temp tables stay; no snapshot is held

    def as_created(self) -> bool:
        """Whether the tables dlt just created or completed have the columns the rows
        were typed for (`planned_columns`); else they are handed to dlt (`read_back`)."""
        found = unchanged.stored_columns(self.conn)
        self.conn.commit()
        for table in MERGED:  # the projects of a table to create are dlt's to write
            made = found.get(table, {})
            for name, kind in self.columns[table].items():
                if made.get(name) != kind:
                    log.warning(
                        "%s.%s is %s, not %s as planned: written by dlt",
                        table,
                        name,
                        made.get(name),
                        kind,
                    )
                    return False
        return True

    def read_back(self) -> Iterator[Batch]:
        """The rows staged so far, as dlt would have got them (flattened: dlt names them
        the same), page by page in fetch order; the temp tables dropped after."""
        fields = {SLOTS_TABLE: "rows", QUARANTINE_TABLE: "bad", LOOKUPS_TABLE: "lookups"}
        for table, field in fields.items():
            names = [n for n in self._data_columns(table) if n != "_generation"]
            query = (
                f"select {SEQ}, {_quoted(names)} from {_temp(table)} "
                f"where {SEQ} > %s order by {SEQ} limit {READ_BACK_PAGE}"
            )
            after = 0
            while True:
                with self._cursor() as cursor:
                    page = cursor.execute(query, (after,)).fetchall()
                self.conn.commit()
                if not page:
                    break
                after = page[-1][0]
                rows = [
                    {k: v for k, v in zip(names, values, strict=True) if v is not None}
                    for _, *values in page
                ]
                yield Batch(**{field: rows})
        self.drop()

    def drop(self) -> None:
        for table in (*MERGED, PROJECTS_TABLE):
            self.conn.exec_driver_sql(f"drop table if exists {_temp(table)}")
        self.conn.commit()

    def _merge(self, table: str, generation: int | None) -> None:
        """Replace the rows of `table` with the same key as the staged ones (every row:
        the projects), in the caller's transaction; the slots get their `_generation`
        here (with `generation`, this load's: no second write of each row to stamp it)."""
        temp, key = _temp(table), MERGED.get(table)
        names = [*self._data_columns(table), *DLT_COLUMNS]
        columns = _quoted(names)
        stamped = {}
        if table == SLOTS_TABLE and generation is not None:
            stamped["_generation"] = SLOT_GENERATION.format(row="s", generation=int(generation))
        values = ", ".join(stamped.get(name, f's."{name}"') for name in names)
        conn = self.conn
        conn.exec_driver_sql(f"analyze {temp}")
        if key is None:  # replaced, as dlt's truncate-and-insert
            conn.exec_driver_sql(f"delete from {table}")
            rows = f"select {values} from {temp} s"
        else:
            conn.exec_driver_sql(
                f'delete from {table} t using {temp} s where t."{key}" = s."{key}"'
            )
            # one row per key, the last fetched, as dlt's merge keeps one
            rows = (
                f'select distinct on (s."{key}") {values} from {temp} s '
                f'order by s."{key}", s.{SEQ} desc'
            )
        conn.exec_driver_sql(f"insert into {table} ({columns}) {rows}")

    def apply(
        self,
        *,
        refresh_projects: bool,
        slot_rows: Callable[[], bool],
        generation: int | None = None,
    ) -> None:
        """The staged rows in one transaction (a crash leaves raw as it was, or
        written), after `prev_slots` of the slots written; the projects, fetched
        unchanged, get this load id (dlt's replace would have rewritten them).
        `generation`: this load's, for the slots (the other rows are stamped after, as
        dlt's are: `row_generations.stamp_generations`)."""
        began = time.monotonic()
        conn = self.conn
        if slot_rows():  # the slots written: those staged
            ids = conn.exec_driver_sql(f"select distinct id from {_temp(SLOTS_TABLE)}")
            snapshot_slots(conn, [i for (i,) in ids])
        if self.projects is not None:
            self._copy(PROJECTS_TABLE, self.projects)
        conn.commit()
        try:
            with conn.begin():
                for table, count in self.counts.items():
                    if count:
                        self._merge(table, generation)
                if self.projects is not None:
                    self._merge(PROJECTS_TABLE, generation)
                elif refresh_projects:  # fetched unchanged
                    conn.execute(
                        sa.text(f"update {PROJECTS_TABLE} set _dlt_load_id = :load_id"),
                        {"load_id": self.load_id},
                    )
        except (sa.exc.SQLAlchemyError, psycopg.Error) as error:  # COPY is psycopg's own
            cause = root_cause(error)
            raise LoadError(
                f"loading {RAW_BATISIMPLY} failed: {type(cause).__name__}: {cause}"
            ) from cause
        self.drop()
        written = {t.split(".")[1]: n for t, n in self.counts.items() if n}
        if self.projects is not None:
            written["projects"] = len(self.projects)
        log.info("written by SQL in %.2f s, without dlt: %s", time.monotonic() - began, written)


def stage(
    conn: sa.Connection,
    batches: Iterator[Batch],
    columns: Columns,
    fetched_at: datetime,
    projects: Sequence[Mapping[str, Any]] | None = None,
) -> tuple[Staged | None, Iterator[Batch] | None]:
    """Every batch's rows (and `projects`, None: not written here) staged for `apply`,
    nothing left for dlt; or, at the first row that does not fit, None and every batch
    for dlt (those staged, read back, then the rest)."""
    typed_projects = None
    if projects is not None:
        try:  # a project listed twice (two codes) is two rows
            typed_projects = [fitted(project_columns(r), columns[PROJECTS_TABLE]) for r in projects]
        except NoFit as why:
            log.info("a project does not fit the stored table (%s): written by dlt", why)
            return None, batches
    staged = Staged(conn, columns, unchanged.load_id(fetched_at), typed_projects)
    with api_errors():
        for batch in batches:
            try:
                staged.add(batch)
            except NoFit as why:
                log.info("a row does not fit the stored tables (%s): written by dlt", why)
                return None, itertools.chain(staged.read_back(), [batch], batches)
    return staged, None


__all__ = [
    "MERGED",
    "PG_TYPES",
    "Staged",
    "new_dlt_id",
    "planned_columns",
    "stage",
]
