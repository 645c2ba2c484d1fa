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
from batisync.export.plan import Op, Resolved, RowPlan

BATCH_TABLE = "export_batch"


def _text(length: int = 255) -> sa.types.TypeEngine[str]:
    # Wider than SuiviMO's varchar(8), so an over-long code fails on SuiviMO itself, with
    # its reason. COLLATE DATABASE_DEFAULT: tempdb's collation may differ from Batigest's,
    # and comparing the two would fail with a collation conflict.
    return sa.String(length).with_variant(sa.String(length, collation="DATABASE_DEFAULT"), "mssql")


def _key(prefix: str) -> list[sa.Column[Any]]:
    chantier, salarie, date = (f"{prefix}{name}" for name in KEY_NAMES)
    return [sa.Column(chantier, _text()), sa.Column(salarie, _text()), sa.Column(date, sa.DateTime)]


def batch_table(dialect_name: str) -> sa.Table:
    """The batch table: `#export_batch` on SQL Server, a TEMPORARY table elsewhere."""
    mssql = dialect_name == "mssql"
    columns = [
        sa.Column("id_heure", _text(), primary_key=True),
        *_key(""),  # the new key and values
        *(sa.Column(name, sa.Numeric(18, 6)) for name in VALUE_NAMES),
        *_key("old_"),  # the mapped old key
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


__all__ = ["BATCH_COLUMNS", "BATCH_TABLE", "LoadRow", "batch_table", "load_rows"]
