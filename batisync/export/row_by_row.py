"""The trigger-safe write path: the same writes as the set-based statements, one SuiviMO
row per statement, inside the batch's transaction (the seed's shape), for a Batigest
whose SuiviMO has triggers written for one row at a time.

`steps(plans)` is pure: deletes, then updates in an order where no update lands on a key
that a later update still has to read (a chain A→B, B→C runs B→C first), then inserts.
A cycle (two slots swapping keys) cannot be ordered: one of its rows is first parked at
a temporary key (its own key, 100 years earlier: visible only inside the transaction)
and moved from there.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

import sqlalchemy as sa

from batisync.export.model import Key, KeyNorm, Values, identity_key
from batisync.export.plan import DELETE_OPS, UPDATE_OPS, Op, RowPlan
from batisync.export.suivimo import suivimo_table

PARK_OFFSET = timedelta(days=36525)  # a parked row's Date, moved 100 years back


@dataclass(frozen=True)
class Step:
    kind: str  # delete | update | insert
    key: Key  # the rows this step touches (for insert: the new row's key)
    new_key: Key | None = None
    values: Values | None = None


def _updates_in_order(updates: list[RowPlan], norm: KeyNorm) -> list[Step]:
    pending = [Step("update", p.target, p.new_key, p.new_values) for p in updates if p.target]
    ordered: list[Step] = []
    while pending:
        # a step may run once no other pending step still reads the key it lands on
        read_later = {norm(s.key) for s in pending}
        ready = [
            s
            for s in pending
            if norm(s.new_key) not in read_later or norm(s.key) == norm(s.new_key)
        ]
        if not ready:  # a cycle: park one row, then it is an ordinary move from there
            first = pending[0]
            parked = (first.key[0], first.key[1], first.key[2] - PARK_OFFSET)
            ordered.append(Step("update", first.key, parked, None))
            pending[0] = replace(first, key=parked)
            continue
        ordered.extend(ready)
        pending = [s for s in pending if s not in ready]
    return ordered


def steps(plans: list[RowPlan], norm: KeyNorm = identity_key) -> list[Step]:
    """The per-row statements for `plans`, in an order equal to the set-based writes."""
    writes = [p for p in plans if p.writes]
    deletes = [Step("delete", p.old_key) for p in writes if p.op in DELETE_OPS and p.old_key]
    updates = _updates_in_order([p for p in writes if p.op in UPDATE_OPS], norm)
    inserts = [Step("insert", p.new_key, values=p.new_values) for p in writes if p.op is Op.INSERT]
    return [*deletes, *updates, *inserts]


def _where_key(table: sa.Table) -> sa.ColumnElement[bool]:
    c = table.c
    return sa.and_(
        c.CodeChantier == sa.bindparam("k_cc"),
        c.CodeSalarie == sa.bindparam("k_cs"),
        c.Date == sa.bindparam("k_d"),
    )


def _key_params(key: Key) -> dict[str, object]:
    return {"k_cc": key[0], "k_cs": key[1], "k_d": key[2]}


def _row(key: Key, values: Values | None) -> dict[str, object]:
    row: dict[str, object] = {"CodeChantier": key[0], "CodeSalarie": key[1], "Date": key[2]}
    if values is not None:
        row |= {"NbH0": values.nb_h0, "NbH3": values.nb_h3, "NbH4": values.nb_h4}
    return row


def apply_steps(conn: sa.Connection, schema: str, todo: list[Step]) -> None:
    """Run each step as its own statement (parameters: one row's worth each)."""
    table = suivimo_table(schema)
    for step in todo:
        if step.kind == "delete":
            conn.execute(sa.delete(table).where(_where_key(table)), _key_params(step.key))
        elif step.kind == "update":
            assert step.new_key is not None
            statement = (
                sa.update(table).where(_where_key(table)).values(_row(step.new_key, step.values))
            )
            conn.execute(statement, _key_params(step.key))
        else:
            conn.execute(sa.insert(table).values(_row(step.key, step.values)))


__all__ = ["Step", "apply_steps", "steps"]
