"""The batch table a batch is loaded into before the set-based writes (`statements.py`),
and the rows loaded into it.

A batch row is a `to_push` row without its hash and change type (`marts.py`), then what
to do with it (`op`) and where the rows it updates sit before the batch (`target_…`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from batisync.export.marts import KEY_NAMES, VALUE_NAMES
from batisync.export.model import Key
from batisync.export.plan import DELETE_OPS, Op, Resolved, RowPlan

BATCH_TABLE = "export_batch"


def _text(length: int = 255) -> sa.types.TypeEngine[str]:
    # Wider than SuiviMO's varchar(8), so an over-long code fails on SuiviMO itself, with
    # its reason (the load gives text columns tempdb's collation: `statements.load`).
    return sa.String(length)


def _key(prefix: str) -> list[sa.Column[Any]]:
    chantier, salarie, date = (f"{prefix}{name}" for name in KEY_NAMES)
    return [sa.Column(chantier, _text()), sa.Column(salarie, _text()), sa.Column(date, sa.DateTime)]


def batch_table(dialect_name: str) -> sa.Table:
    """The batch table: `#export_batch` on SQL Server, a TEMPORARY table elsewhere.

    Never created from this definition: `statements.load` creates and fills it in one
    statement, casting each column to the type given here."""
    mssql = dialect_name == "mssql"
    columns = [
        sa.Column("id_heure", _text()),
        *_key(""),  # the new key and values
        *(sa.Column(name, sa.Numeric(18, 6)) for name in VALUE_NAMES),
        *_key("old_"),  # the mapped old key, where its rows are deleted (else NULL)
        sa.Column("op", _text(16)),  # what to do
        *_key("target_"),  # where the rows to update sit before the batch
    ]
    return sa.Table(
        f"#{BATCH_TABLE}" if mssql else BATCH_TABLE,
        sa.MetaData(),
        *columns,
        prefixes=[] if mssql else ["TEMPORARY"],
    )


# the batch table's columns, in the order `LoadRow.batch_values` gives them
BATCH_COLUMNS = tuple(c.name for c in batch_table("postgresql").columns)


@dataclass(frozen=True)
class LoadRow:
    """One row of the batch: new key/values, mapped old key, and maybe an op."""

    id_heure: str
    new: tuple[Any, ...] | None  # (code_chantier, code_salarie, date, nb_h0, nb_h3, nb_h4)
    old: tuple[Any, ...] | None  # (code_chantier, code_salarie, date)
    op: Op | None = None

    def touched_keys(self) -> list[Key]:
        """The keys of the SuiviMO rows this row may touch: its new key, its old key."""
        found = [(self.new[0], self.new[1], self.new[2])] if self.new else []
        return found + ([(self.old[0], self.old[1], self.old[2])] if self.old else [])

    def batch_values(self, plan: RowPlan) -> tuple[Any, ...]:
        """The batch table's row (BATCH_COLUMNS order) for this row written as `plan`.

        Only the keys a statement reads are filled: the old key for the ops that delete
        there, the target for the ops that update (fewer literals to send and parse)."""
        new = self.new or (None,) * 6
        old = self.old if self.old and plan.op in DELETE_OPS else (None,) * 3
        target = plan.target or (None,) * 3
        return (self.id_heure, *new, *old, str(plan.op), *target)


def load_rows(batch: Sequence[Resolved]) -> list[LoadRow]:
    rows = []
    for r in batch:
        v = r.row.values
        new = (*r.row.key, v.nb_h0, v.nb_h3, v.nb_h4)
        rows.append(LoadRow(r.row.id_heure, new, r.old_key))
    return rows


__all__ = ["BATCH_COLUMNS", "BATCH_TABLE", "LoadRow", "batch_table", "load_rows"]
