"""Set-based application of one batch to SuiviMO, in one transaction.

Per batch, whatever its size and whatever the driver (6 round trips when it inserts and
updates, 7 with deletes, the commit included):

1. read the SuiviMO rows at the batch's new and old keys (the keys are a VALUES list of
   literals), `WITH (UPDLOCK, HOLDLOCK)` on SQL Server: update locks held to the end of
   the transaction, with serializable range locks, so no concurrent writer can insert at
   those keys (no duplicate) or change them before we write (and two exporters queue
   instead of deadlocking).
2. `plan.plan_batch` decides per row in Python (pure).
3. only when something is to be written: create and load the batch table in one
   statement, `SELECT … INTO #export_batch FROM (VALUES …)` (SQL Server local temp
   table; `CREATE TEMPORARY TABLE export_batch AS …` on the PostgreSQL stand-in), the
   rows to write with their op and target as rendered literals (`literals.py`: one round
   trip per 1,000 rows on every driver, where parameters would cost one per row on
   FreeTDS, or one per 150 rows within SQL Server's 2,100-parameter limit). No
   parameters: with pyodbc a parameterised statement runs inside sp_executesql, and a
   temp table created there would vanish. Not mssql-python's bulk copy: it opens a
   connection of its own, outside this transaction, which cannot see a `#` table
   (docs/NOTES.md).
4. `DELETE` the old rows of merges and retractions,
5. one `UPDATE … FROM` for moves and value updates (matched on the pre-batch `target`
   key, so a swap or a chain happens at once, as one statement),
6. `INSERT … SELECT` the missing rows,
7. `DROP TABLE` the batch table (the pool reuses the connection).

Statements 4-6 are skipped when no row needs them; a dry run is statement 1 alone. Each
statement is sent on its own (never several in one batch: a driver reports an error in
the second statement of a batch only when its results are drained). The statements are
built by `statements.BatchStatements` for the target's dialect; the batch table and its
rows are `batch_table.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from batisync.export.batch_table import LoadRow
from batisync.export.model import Key, KeyNorm, Values, identity_key, values_from_db
from batisync.export.plan import DELETE_OPS, UPDATE_OPS, Op, RowPlan, State
from batisync.export.row_by_row import apply_steps, steps
from batisync.export.statements import BatchStatements

# Errors that come from the data of a row (too long, overflow, constraint): the batch is
# retried group by group so the other rows get written. Anything else (connection lost,
# a bug) stops the run: what was committed is consistent and the next run converges.
ROW_ERRORS = (sa.exc.DataError, sa.exc.IntegrityError)
# The same errors as SQL Server words them (msg 8152/2628 truncation, 8115 overflow, 515
# NULL, 245/241 conversion): drivers do not agree on their class (mssql-python raises
# msg 2628 as a ProgrammingError, pyodbc as a DataError), so the text decides too.
ROW_ERROR_TEXTS = (
    "would be truncated",
    "arithmetic overflow",
    "cannot insert the value null",
    "conversion failed",
)


def is_row_error(error: sa.exc.DBAPIError) -> bool:
    """Whether `error` comes from the data of a row rather than from the run."""
    if isinstance(error, ROW_ERRORS):
        return True
    text = str(error.orig if error.orig is not None else error).lower()
    return any(marker in text for marker in ROW_ERROR_TEXTS)


def state_from(rows: Sequence[Any], norm: KeyNorm = identity_key) -> State:
    """Fold the read_state rows (key columns, then values) by normalised key.

    Duplicates within SuiviMO itself stay visible (two rows at a key → two values)."""
    found: dict[Key, list[Values]] = {}
    for cc, cs, date, nb_h0, nb_h3, nb_h4 in rows:
        found.setdefault(norm((cc, cs, date)), []).append(values_from_db(nb_h0, nb_h3, nb_h4))
    return State(found)


def read_state(
    conn: sa.Connection,
    statements: BatchStatements,
    rows: Sequence[LoadRow],
    norm: KeyNorm = identity_key,
    *,
    lock: bool = True,
) -> State:
    """Statement 1: the SuiviMO rows at the batch's keys (locked when writing)."""
    # each key once, as the target compares keys (one spelling of 'ch1' / 'CH1 ')
    keys = {norm(k): k for r in rows for k in r.touched_keys()}
    if not keys:
        return State({})
    sql = statements.read_state(keys.values(), lock=lock)
    return state_from(conn.exec_driver_sql(sql).all(), norm)


def write_batch(
    conn: sa.Connection,
    statements: BatchStatements,
    rows: Sequence[LoadRow],
    plans: Sequence[RowPlan],
    norm: KeyNorm = identity_key,
) -> None:
    """Statements 3-7 for the planned rows that write (or, under triggers, one statement
    per row)."""
    writes = {p.id_heure: p for p in plans if p.writes}
    if not writes:
        return
    if statements.row_by_row:
        apply_steps(conn, statements.schema, steps(list(writes.values()), norm))
        return
    loaded = [r.batch_values(writes[r.id_heure]) for r in rows if r.id_heure in writes]
    for statement in statements.load(loaded):  # the first one creates the batch table
        conn.exec_driver_sql(statement)
    ops = {p.op for p in writes.values()}
    if ops & set(DELETE_OPS):
        conn.execute(statements.delete_old)
    if ops & set(UPDATE_OPS):
        conn.execute(statements.update_rows)
    if Op.INSERT in ops:
        conn.execute(statements.insert_rows)
    conn.execute(statements.drop)  # pooled connections outlive the batch


def run_batch(
    conn: sa.Connection,
    statements: BatchStatements,
    rows: Sequence[LoadRow],
    planner: Callable[[State], list[RowPlan]],
    norm: KeyNorm = identity_key,
    *,
    write: bool = True,
) -> list[RowPlan]:
    """One batch in one transaction: read (locked when writing), plan, write.

    Without `write` (dry run, reconcile without repair) nothing is locked and the
    transaction is rolled back: SuiviMO is only read."""
    with conn.begin() as transaction:
        state = read_state(conn, statements, rows, norm, lock=write)
        plans = planner(state)
        if write:
            write_batch(conn, statements, rows, plans, norm)
        else:
            transaction.rollback()
    return plans


__all__ = ["ROW_ERRORS", "is_row_error", "read_state", "run_batch", "state_from", "write_batch"]
