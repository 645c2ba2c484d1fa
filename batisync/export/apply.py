"""Set-based application of one batch to SuiviMO, in one transaction.

Per batch, whatever its size (at most 8 statements on the Batigest connection):

1. `CREATE TABLE #export_batch` (SQL Server local temp table; `CREATE TEMPORARY TABLE
   export_batch` on the PostgreSQL stand-in). No parameters: with pyodbc a parameterised
   statement runs inside sp_executesql, and a temp table created there would vanish.
2. bulk-load the batch (`executemany`; with `fast_executemany=True` pyodbc sends the
   parameter arrays in one go instead of one round trip per row).
3. read the SuiviMO rows at the batch's old and new keys, `WITH (UPDLOCK, HOLDLOCK)` on
   SQL Server: update locks held to the end of the transaction, with serializable
   range locks, so no concurrent writer can insert at those keys (no duplicate) or
   change them before we write (and two exporters queue instead of deadlocking).
4. `plan.plan_batch` decides per row in Python; the ops are set on the batch table
   (`executemany`, skipped when nothing is to be written).
5. `DELETE` the old rows of merges and retractions,
6. one `UPDATE … FROM` for moves and value updates (matched on the pre-batch `target`
   key, so a swap or a chain happens at once, as one statement),
7. `INSERT … SELECT` the missing rows,
8. `DROP TABLE` the batch table (the pool reuses the connection).

Statements 5-7 are skipped when no row needs them. The statements are built by
`BatchStatements` for the target's dialect; tests compile every one of them for the
`mssql` dialect and parse it as T-SQL. No SQL Server runs here: SQL Server behaviour
(locks, temp tables, pyodbc) is described from its documentation, and the same
statements are exercised for real on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import sqlalchemy as sa
from sqlalchemy.schema import CreateTable, DropTable

from batisync.export.model import Key, KeyNorm, Values, identity_key, values_from_db
from batisync.export.plan import DELETE_OPS, UPDATE_OPS, Op, Resolved, RowPlan, State
from batisync.export.suivimo import suivimo_table

LOCK_HINT = "WITH (UPDLOCK, HOLDLOCK)"
BATCH_TABLE = "export_batch"


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

    def __init__(self, dialect_name: str, schema: str = "dbo") -> None:
        self.dialect_name = dialect_name
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

    @cached_property
    def load(self) -> sa.Insert:
        return sa.insert(self.b)

    def read_state(self, *, lock: bool = True) -> sa.CompoundSelect:
        """SuiviMO rows at the new keys, then at the old keys (one statement)."""
        s = self.s

        def rows_at(prefix: str) -> sa.Select[Any]:
            part = sa.literal_column("1" if prefix else "0").label("part")
            query = sa.select(
                s.c.CodeChantier, s.c.CodeSalarie, s.c.Date, s.c.NbH0, s.c.NbH3, s.c.NbH4, part
            ).where(sa.exists().where(self._key_is(prefix)))
            return query.with_hint(s, LOCK_HINT, "mssql") if lock else query

        # UNION ALL of two semi-joins (not one join on `new OR old`): each is a hash
        # join; `part` tells the halves apart for `state_from`.
        return sa.union_all(rows_at(""), rows_at("old_"))

    @cached_property
    def set_ops(self) -> sa.Update:
        b = self.b
        return (
            sa.update(b)
            .where(b.c.id_heure == sa.bindparam("p_id"))
            .values(
                op=sa.bindparam("p_op"),
                target_code_chantier=sa.bindparam("p_tcc"),
                target_code_salarie=sa.bindparam("p_tcs"),
                target_date_sqlserver=sa.bindparam("p_td"),
            )
        )

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
        """Name → statement, for the T-SQL fidelity test."""
        return {
            "create": self.create,
            "load": self.load,
            "read_state": self.read_state(lock=True),
            "read_state_nolock": self.read_state(lock=False),
            "set_ops": self.set_ops,
            "delete_old": self.delete_old,
            "update_rows": self.update_rows,
            "insert_rows": self.insert_rows,
            "drop": self.drop,
        }


@dataclass(frozen=True)
class LoadRow:
    """One row of the batch table: new key/values, mapped old key, and maybe an op."""

    id_heure: str
    new: tuple[Any, ...] | None  # (code_chantier, code_salarie, date, nb_h0, nb_h3, nb_h4)
    old: tuple[Any, ...] | None  # (code_chantier, code_salarie, date)
    op: Op | None = None

    def params(self) -> dict[str, Any]:
        new = self.new or (None,) * 6
        old = self.old or (None,) * 3
        return {
            "id_heure": self.id_heure,
            "code_chantier": new[0],
            "code_salarie": new[1],
            "date_sqlserver": new[2],
            "nb_h0": new[3],
            "nb_h3": new[4],
            "nb_h4": new[5],
            "old_code_chantier": old[0],
            "old_code_salarie": old[1],
            "old_date_sqlserver": old[2],
            "op": None if self.op is None else str(self.op),
            "target_code_chantier": None,
            "target_code_salarie": None,
            "target_date_sqlserver": None,
        }


def load_rows(batch: Sequence[Resolved]) -> list[LoadRow]:
    rows = []
    for r in batch:
        v = r.row.values
        new = (*r.row.key, v.nb_h0, v.nb_h3, v.nb_h4)
        rows.append(LoadRow(r.row.id_heure, new, r.old_key))
    return rows


def state_from(rows: Sequence[Any], norm: KeyNorm = identity_key) -> State:
    """Fold the read_state rows: the rows at each key once, by normalised key.

    Both halves of the UNION ALL return every row at a key they match, so a key that
    is both a new and an old key comes twice: keep one half's list. Duplicates within
    SuiviMO itself stay visible (two rows at a key → two values)."""
    parts: tuple[dict[Key, list[Values]], dict[Key, list[Values]]] = ({}, {})
    for row in rows:
        key = norm((row.CodeChantier, row.CodeSalarie, row.Date))
        parts[row.part].setdefault(key, []).append(values_from_db(row.NbH0, row.NbH3, row.NbH4))
    return State({**parts[1], **parts[0]})


def open_batch(
    conn: sa.Connection,
    statements: BatchStatements,
    rows: Sequence[LoadRow],
    norm: KeyNorm = identity_key,
    *,
    lock: bool = True,
) -> State:
    """Statements 1-3: create and load the batch table, read (and lock) the state."""
    conn.execute(statements.create)
    conn.execute(statements.load, [r.params() for r in rows])
    return state_from(conn.execute(statements.read_state(lock=lock)).all(), norm)


def write_batch(conn: sa.Connection, statements: BatchStatements, plans: Sequence[RowPlan]) -> None:
    """Statements 4-7 for the planned rows (ops loaded with the rows are kept)."""
    writes = [p for p in plans if p.writes]
    to_set = [p for p in writes if p.op is not Op.RETRACT]
    if to_set:
        conn.execute(
            statements.set_ops,
            [
                {
                    "p_id": p.id_heure,
                    "p_op": str(p.op),
                    "p_tcc": None if p.target is None else p.target[0],
                    "p_tcs": None if p.target is None else p.target[1],
                    "p_td": None if p.target is None else p.target[2],
                }
                for p in to_set
            ],
        )
    ops = {p.op for p in writes}
    if ops & set(DELETE_OPS):
        conn.execute(statements.delete_old)
    if ops & set(UPDATE_OPS):
        conn.execute(statements.update_rows)
    if Op.INSERT in ops:
        conn.execute(statements.insert_rows)


def close_batch(conn: sa.Connection, statements: BatchStatements) -> None:
    """Statement 8: drop the batch table (pooled connections outlive the batch)."""
    conn.execute(statements.drop)


def run_batch(
    conn: sa.Connection,
    statements: BatchStatements,
    rows: Sequence[LoadRow],
    planner: Callable[[State], list[RowPlan]],
    norm: KeyNorm = identity_key,
    *,
    write: bool = True,
) -> list[RowPlan]:
    """One batch in one transaction: load, read (locked when writing), plan, write.

    Without `write` (dry run, reconcile without repair) nothing is locked and the
    transaction is rolled back: SuiviMO is only read."""
    with conn.begin() as transaction:
        state = open_batch(conn, statements, rows, norm, lock=write)
        plans = planner(state)
        if write:
            write_batch(conn, statements, plans)
        close_batch(conn, statements)
        if not write:
            transaction.rollback()
    return plans
