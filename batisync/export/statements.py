"""Every statement the exporter sends to Batigest for a batch, for one dialect (SQL
Server, or the PostgreSQL stand-in) and schema; `apply.py` sends them in order.

SQLAlchemy builds the ones on the batch table (create, delete, update, insert, drop);
the locked read and the batch load are rendered text (`literals.py`: a VALUES list of
typed, escaped literals, one round trip whatever the driver). Tests compile every one
of them for the `mssql` dialect, parse it as T-SQL, and run the whole sequence through
real SQL Server drivers against the TDS endpoint (`devstack/tds`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mssql, postgresql
from sqlalchemy.schema import CreateTable, DropTable

from batisync.export.batch_table import BATCH_COLUMNS, LoadRow, batch_table
from batisync.export.literals import insert_values, values_rows
from batisync.export.marts import KEY_NAMES
from batisync.export.model import Key
from batisync.export.plan import DELETE_OPS, UPDATE_OPS, Op, RowPlan
from batisync.export.suivimo import KEY_COLUMNS, VALUE_COLUMNS, suivimo_table

# update locks held to the end of the transaction, with serializable range locks: no
# concurrent writer inserts at the batch's keys or changes them before we write
LOCK_HINT = "WITH (UPDLOCK, HOLDLOCK)"


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


__all__ = ["LOCK_HINT", "BatchStatements"]
