"""Every statement the exporter sends to Batigest for a batch, for one dialect (SQL
Server, or the PostgreSQL stand-in) and schema; `apply.py` sends them in order.

SQLAlchemy builds the writes from the batch table (delete, update, insert, drop), with
no parameter left (the ops are rendered in: a parameterised statement costs SQL Server
drivers a prepare and an unprepare, two round trips more than a plain batch). The
locked read and the batch load are rendered text (`literals.py`: a VALUES list of typed,
escaped literals, one round trip whatever the driver); the load creates the batch table
as it fills it (`SELECT … INTO`). Tests compile every one of them for the `mssql`
dialect, parse it as T-SQL, and run the whole sequence through real SQL Server drivers
against the TDS endpoint (`devstack/tds`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mssql, postgresql
from sqlalchemy.schema import DropTable

from batisync.export.batch_table import BATCH_COLUMNS, LoadRow, batch_table
from batisync.export.literals import MAX_VALUES_ROWS, insert_values, values_rows
from batisync.export.marts import KEY_NAMES
from batisync.export.model import Key
from batisync.export.plan import DELETE_OPS, UPDATE_OPS, Op, RowPlan
from batisync.export.suivimo import KEY_COLUMNS, VALUE_COLUMNS, suivimo_table

# update locks held to the end of the transaction, with serializable range locks: no
# concurrent writer inserts at the batch's keys or changes them before we write
LOCK_HINT = "WITH (UPDLOCK, HOLDLOCK)"
_NAMES = ", ".join(BATCH_COLUMNS)  # the VALUES list's column names


def _ops(ops: Iterable[Op]) -> sa.BindParameter[Any]:
    """The ops as an IN list rendered into the statement (no parameter is sent)."""
    return sa.bindparam(None, [str(o) for o in ops], expanding=True, literal_execute=True)


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
        pairs = zip(KEY_COLUMNS, KEY_NAMES, strict=True)
        return sa.and_(*(s[column] == b[f"{prefix}{name}"] for column, name in pairs))

    @cached_property
    def drop(self) -> DropTable:
        return DropTable(self.b)

    def load(self, rows: Sequence[Sequence[Any]]) -> list[str]:
        """The batch table created and filled with `rows` (in `BATCH_COLUMNS` order).

        The first statement creates it from a VALUES list of up to 1,000 rows
        (`SELECT … INTO` on SQL Server, `CREATE TEMPORARY TABLE … AS` on PostgreSQL):
        one round trip where CREATE TABLE then INSERT took two. Every column is cast to
        its type, so a column that is all NULL in this batch still compares as a key.
        Further rows follow as INSERT … VALUES, 1,000 a statement (SQL Server's limit
        for an INSERT; it also bounds the statement's size)."""
        table = self._quoted(self.b)
        head, rest = rows[:MAX_VALUES_ROWS], rows[MAX_VALUES_ROWS:]
        source = f"from (values {values_rows(head, self.dialect_name)}) as v ({_NAMES})"
        if self.dialect_name == "mssql":
            first = f"select {self._typed_columns} into {table} {source}"
        else:
            first = f"create temporary table {table} as select {self._typed_columns} {source}"
        return [first, *insert_values(table, BATCH_COLUMNS, rest, self.dialect_name)]

    @cached_property
    def _typed_columns(self) -> str:
        """`cast(v.c as type) as c` for each batch column. Text takes the database's
        collation on SQL Server: tempdb's may differ from Batigest's, and comparing the
        two would fail with a collation conflict."""
        columns = []
        for column in self.b.columns:
            typed = f"cast(v.{column.name} as {column.type.compile(dialect=self.dialect)})"
            if self.dialect_name == "mssql" and isinstance(column.type, sa.String):
                typed += " collate DATABASE_DEFAULT"
            columns.append(f"{typed} as {column.name}")
        return ", ".join(columns)

    def read_state(self, keys: Iterable[Key], *, lock: bool = True) -> str:
        """SuiviMO rows at `keys`: one join on a VALUES list of the keys, which the
        caller gives once each (as the target compares them), so each row comes once."""
        s, name = self.s.c, self._quoted(self.s)
        q = self._quote
        hint = f" {LOCK_HINT}" if lock and self.dialect_name == "mssql" else ""
        listed = values_rows(sorted(keys), self.dialect_name)  # sorted: the same text again
        on = " and ".join(
            f"s.{q(c.name)} = k.{k}"
            for c, k in ((s.CodeChantier, "cc"), (s.CodeSalarie, "cs"), (s.Date, "d"))
        )
        columns = ", ".join(f"s.{q(c)}" for c in (*KEY_COLUMNS, *VALUE_COLUMNS))
        return (
            f"select {columns} from {name} as s{hint} "
            f"join (values {listed}) as k (cc, cs, d) on {on}"
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
            sa.exists().where(self._key_is("old_"), self.b.c.op.in_(_ops(DELETE_OPS)))
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
            .where(self._key_is("target_"), b.op.in_(_ops(UPDATE_OPS)))
        )

    @cached_property
    def insert_rows(self) -> sa.Insert:
        b = self.b.c
        return sa.insert(self.s).from_select(
            ["CodeChantier", "CodeSalarie", "Date", "NbH0", "NbH3", "NbH4"],
            sa.select(
                b.code_chantier, b.code_salarie, b.date_sqlserver, b.nb_h0, b.nb_h3, b.nb_h4
            ).where(b.op == sa.literal(str(Op.INSERT), literal_execute=True)),
        )

    def catalogue(self) -> dict[str, sa.Executable]:
        """Name → statement built by SQLAlchemy, for the T-SQL fidelity test (the
        rendered ones, `read_state` and `load`, are checked from their text)."""
        return {
            "delete_old": self.delete_old,
            "update_rows": self.update_rows,
            "insert_rows": self.insert_rows,
            "drop": self.drop,
        }

    def rendered(self, sample: Sequence[LoadRow], plans: Sequence[RowPlan]) -> dict[str, str]:
        """Name → text of the rendered statements for `sample` rows written as `plans`."""
        by_id = {p.id_heure: p for p in plans}
        keys = {k for r in sample for k in r.touched_keys()}
        return {
            "read_state": self.read_state(keys, lock=True),
            "read_state_nolock": self.read_state(keys, lock=False),
            "load": self.load([r.batch_values(by_id[r.id_heure]) for r in sample])[0],
        }

    def rendered_kind(self, sql: str) -> str | None:
        """`read_state` or `load` when `sql` is one of the rendered statements."""
        table = self._quoted(self.b)
        loads = ("select cast(v.", f"create temporary table {table} as ", f"insert into {table} (")
        if sql.startswith(loads):
            return "load"
        if sql.startswith("select ") and " join (values " in sql:
            return "read_state"
        return None


__all__ = ["LOCK_HINT", "BatchStatements"]
