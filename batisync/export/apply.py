"""Set-based application of one batch to SuiviMO, in one transaction.

Per batch, whatever its size and whatever the driver (at most 8 round trips):

1. read the SuiviMO rows at the batch's new and old keys (the keys are a VALUES list of
   literals), `WITH (UPDLOCK, HOLDLOCK)` on SQL Server: update locks held to the end of
   the transaction, with serializable range locks, so no concurrent writer can insert at
   those keys (no duplicate) or change them before we write (and two exporters queue
   instead of deadlocking).
2. `plan.plan_batch` decides per row in Python (pure).
3. `CREATE TABLE #export_batch` (SQL Server local temp table; `CREATE TEMPORARY TABLE
   export_batch` on the PostgreSQL stand-in), only when something is to be written. No
   parameters: with pyodbc a parameterised statement runs inside sp_executesql, and a
   temp table created there would vanish.
4. load the rows to write with their op and target, as one `INSERT … VALUES` of rendered
   literals (`literals.py`: one round trip per 1,000 rows on every driver, where
   parameters would cost one per row on FreeTDS, or one per 150 rows within SQL Server's
   2,100-parameter limit),
5. `DELETE` the old rows of merges and retractions,
6. one `UPDATE … FROM` for moves and value updates (matched on the pre-batch `target`
   key, so a swap or a chain happens at once, as one statement),
7. `INSERT … SELECT` the missing rows,
8. `DROP TABLE` the batch table (the pool reuses the connection).

Statements 5-7 are skipped when no row needs them; a dry run is statement 1 alone. Each
statement is sent on its own (never several in one batch: a driver reports an error in
the second statement of a batch only when its results are drained). The statements are
built by `BatchStatements` for the target's dialect; tests compile every one of them for
the `mssql` dialect, parse it as T-SQL, and run the whole sequence through real SQL
Server drivers against the TDS endpoint (`devstack/tds`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mssql, postgresql
from sqlalchemy.schema import CreateTable, DropTable

from batisync.export.literals import insert_values, values_rows
from batisync.export.model import Key, KeyNorm, Values, identity_key, values_from_db
from batisync.export.plan import DELETE_OPS, UPDATE_OPS, Op, Resolved, RowPlan, State
from batisync.export.row_by_row import apply_steps, steps
from batisync.export.suivimo import KEY_COLUMNS, VALUE_COLUMNS, suivimo_table

LOCK_HINT = "WITH (UPDLOCK, HOLDLOCK)"
BATCH_TABLE = "export_batch"
# the batch table's columns, in the order `LoadRow.batch_values` gives them
BATCH_COLUMNS = (
    "id_heure",
    "code_chantier",
    "code_salarie",
    "date_sqlserver",
    "nb_h0",
    "nb_h3",
    "nb_h4",
    "old_code_chantier",
    "old_code_salarie",
    "old_date_sqlserver",
    "op",
    "target_code_chantier",
    "target_code_salarie",
    "target_date_sqlserver",
)


def _text(length: int = 255) -> sa.types.TypeEngine[str]:
    # Wider than SuiviMO's varchar(8), so an over-long code fails on SuiviMO itself, with
    # its reason. COLLATE DATABASE_DEFAULT: tempdb's collation may differ from Batigest's,
    # and comparing the two would fail with a collation conflict.
    return sa.String(length).with_variant(sa.String(length, collation="DATABASE_DEFAULT"), "mssql")


def batch_table(dialect_name: str) -> sa.Table:
    """The batch table: `#export_batch` on SQL Server, a TEMPORARY table elsewhere."""
    mssql = dialect_name == "mssql"
    columns = [
        sa.Column("id_heure", _text(), primary_key=True),
        # the new key and values
        sa.Column("code_chantier", _text()),
        sa.Column("code_salarie", _text()),
        sa.Column("date_sqlserver", sa.DateTime),
        sa.Column("nb_h0", sa.Numeric(18, 6)),
        sa.Column("nb_h3", sa.Numeric(18, 6)),
        sa.Column("nb_h4", sa.Numeric(18, 6)),
        # the mapped old key
        sa.Column("old_code_chantier", _text()),
        sa.Column("old_code_salarie", _text()),
        sa.Column("old_date_sqlserver", sa.DateTime),
        # what to do, and where the rows to update sit before the batch
        sa.Column("op", _text(16)),
        sa.Column("target_code_chantier", _text()),
        sa.Column("target_code_salarie", _text()),
        sa.Column("target_date_sqlserver", sa.DateTime),
    ]
    return sa.Table(
        f"#{BATCH_TABLE}" if mssql else BATCH_TABLE,
        sa.MetaData(),
        *columns,
        prefixes=[] if mssql else ["TEMPORARY"],
    )


class BatchStatements:
    """Every statement the exporter sends to Batigest, for one dialect and schema."""

    def __init__(self, dialect_name: str, schema: str = "dbo", *, row_by_row: bool = False) -> None:
        self.dialect_name = dialect_name
        self.schema = schema
        # SuiviMO has triggers: write one row per statement (`row_by_row.py`)
        self.row_by_row = row_by_row
        self.s = suivimo_table(schema)
        self.b = batch_table(dialect_name)

    def _key_is(self, prefix: str) -> sa.ColumnElement[bool]:
        s, b = self.s.c, self.b.c
        return sa.and_(
            s.CodeChantier == b[f"{prefix}code_chantier"],
            s.CodeSalarie == b[f"{prefix}code_salarie"],
            s.Date == b[f"{prefix}date_sqlserver"],
        )

    @cached_property
    def create(self) -> CreateTable:
        return CreateTable(self.b)

    @cached_property
    def drop(self) -> DropTable:
        return DropTable(self.b)

    def load(self, rows: Sequence[Sequence[Any]]) -> list[str]:
        """The batch table's rows (in `BATCH_COLUMNS` order) as INSERT … VALUES literals."""
        table = self._quoted(self.b)
        return insert_values(table, BATCH_COLUMNS, rows, self.dialect_name)

    def read_state(self, keys: Iterable[tuple[int, Key]], *, lock: bool = True) -> str:
        """SuiviMO rows at `keys`, each `(part, key)`: part 0 the new keys, 1 the old.

        One join on a VALUES list (distinct keys, so each row comes once per part);
        `part` tells the halves apart for `state_from`."""
        s, name = self.s.c, self._quoted(self.s)
        q = self._quote
        hint = f" {LOCK_HINT}" if lock and self.dialect_name == "mssql" else ""
        distinct = sorted({(part, *key) for part, key in keys}, key=repr)
        listed = values_rows(distinct, self.dialect_name)
        on = " and ".join(
            f"s.{q(c.name)} = k.{k}"
            for c, k in ((s.CodeChantier, "cc"), (s.CodeSalarie, "cs"), (s.Date, "d"))
        )
        columns = ", ".join(f"s.{q(c)}" for c in (*KEY_COLUMNS, *VALUE_COLUMNS))
        return (
            f"select {columns}, k.part from {name} as s{hint} "
            f"join (values {listed}) as k (part, cc, cs, d) on {on}"
        )

    def _quote(self, name: str) -> str:
        return self.dialect.identifier_preparer.quote(name)

    def _quoted(self, table: sa.Table) -> str:
        return self.dialect.identifier_preparer.format_table(table)

    @cached_property
    def dialect(self) -> sa.Dialect:
        return mssql.dialect() if self.dialect_name == "mssql" else postgresql.dialect()

    @cached_property
    def delete_old(self) -> sa.Delete:
        return sa.delete(self.s).where(
            sa.exists().where(self._key_is("old_"), self.b.c.op.in_([str(o) for o in DELETE_OPS]))
        )

    @cached_property
    def update_rows(self) -> sa.Update:
        """Moves and value updates at once: rows at `target` get the new key and values."""
        b = self.b.c
        return (
            sa.update(self.s)
            .values(
                CodeChantier=b.code_chantier,
                CodeSalarie=b.code_salarie,
                Date=b.date_sqlserver,
                NbH0=b.nb_h0,
                NbH3=b.nb_h3,
                NbH4=b.nb_h4,
            )
            .where(self._key_is("target_"), b.op.in_([str(o) for o in UPDATE_OPS]))
        )

    @cached_property
    def insert_rows(self) -> sa.Insert:
        b = self.b.c
        return sa.insert(self.s).from_select(
            ["CodeChantier", "CodeSalarie", "Date", "NbH0", "NbH3", "NbH4"],
            sa.select(
                b.code_chantier, b.code_salarie, b.date_sqlserver, b.nb_h0, b.nb_h3, b.nb_h4
            ).where(b.op == str(Op.INSERT)),
        )

    def catalogue(self) -> dict[str, sa.Executable]:
        """Name → statement built by SQLAlchemy, for the T-SQL fidelity test (the
        rendered ones, `read_state` and `load`, are checked from their text)."""
        return {
            "create": self.create,
            "delete_old": self.delete_old,
            "update_rows": self.update_rows,
            "insert_rows": self.insert_rows,
            "drop": self.drop,
        }

    def rendered(self, sample: Sequence[LoadRow], plans: Sequence[RowPlan]) -> dict[str, str]:
        """Name → text of the rendered statements for `sample` rows written as `plans`."""
        by_id = {p.id_heure: p for p in plans}
        keys = [k for r in sample for k in r.touched_keys()]
        return {
            "read_state": self.read_state(keys, lock=True),
            "read_state_nolock": self.read_state(keys, lock=False),
            "load": self.load([r.batch_values(by_id[r.id_heure]) for r in sample])[0],
        }

    def rendered_kind(self, sql: str) -> str | None:
        """`read_state` or `load` when `sql` is one of the rendered statements."""
        if sql.startswith("select ") and " join (values " in sql:
            return "read_state"
        if sql.startswith(f"insert into {self._quoted(self.b)} ({BATCH_COLUMNS[0]},"):
            return "load"
        return None


@dataclass(frozen=True)
class LoadRow:
    """One row of the batch: new key/values, mapped old key, and maybe an op."""

    id_heure: str
    new: tuple[Any, ...] | None  # (code_chantier, code_salarie, date, nb_h0, nb_h3, nb_h4)
    old: tuple[Any, ...] | None  # (code_chantier, code_salarie, date)
    op: Op | None = None

    def touched_keys(self) -> list[tuple[int, Key]]:
        """(part, key) of the SuiviMO rows this row may touch: 0 new, 1 old."""
        found = [(0, tuple(self.new[:3]))] if self.new else []
        return found + ([(1, tuple(self.old))] if self.old else [])

    def batch_values(self, plan: RowPlan) -> tuple[Any, ...]:
        """The batch table's row (BATCH_COLUMNS order) for this row written as `plan`."""
        new = self.new or (None,) * 6
        old = self.old or (None,) * 3
        target = plan.target or (None,) * 3
        return (self.id_heure, *new, *old, str(plan.op), *target)


def load_rows(batch: Sequence[Resolved]) -> list[LoadRow]:
    rows = []
    for r in batch:
        v = r.row.values
        new = (*r.row.key, v.nb_h0, v.nb_h3, v.nb_h4)
        rows.append(LoadRow(r.row.id_heure, new, r.old_key))
    return rows


def state_from(rows: Sequence[Any], norm: KeyNorm = identity_key) -> State:
    """Fold the read_state rows: the rows at each key once, by normalised key.

    Both halves return every row at a key they match, so a key that is both a new and an
    old key comes twice: keep one half's list. Duplicates within SuiviMO itself stay
    visible (two rows at a key → two values)."""
    parts: tuple[dict[Key, list[Values]], dict[Key, list[Values]]] = ({}, {})
    for row in rows:
        key = norm((row.CodeChantier, row.CodeSalarie, row.Date))
        parts[row.part].setdefault(key, []).append(values_from_db(row.NbH0, row.NbH3, row.NbH4))
    return State({**parts[1], **parts[0]})


def read_state(
    conn: sa.Connection,
    statements: BatchStatements,
    rows: Sequence[LoadRow],
    norm: KeyNorm = identity_key,
    *,
    lock: bool = True,
) -> State:
    """Statement 1: the SuiviMO rows at the batch's keys (locked when writing)."""
    keys = [k for r in rows for k in r.touched_keys()]
    if not keys:
        return State({})
    return state_from(conn.exec_driver_sql(statements.read_state(keys, lock=lock)).all(), norm)


def write_batch(
    conn: sa.Connection,
    statements: BatchStatements,
    rows: Sequence[LoadRow],
    plans: Sequence[RowPlan],
    norm: KeyNorm = identity_key,
) -> None:
    """Statements 3-8 for the planned rows that write (or, under triggers, one statement
    per row)."""
    writes = {p.id_heure: p for p in plans if p.writes}
    if not writes:
        return
    if statements.row_by_row:
        apply_steps(conn, statements.schema, steps(list(writes.values()), norm))
        return
    conn.execute(statements.create)
    loaded = [r.batch_values(writes[r.id_heure]) for r in rows if r.id_heure in writes]
    for statement in statements.load(loaded):
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
