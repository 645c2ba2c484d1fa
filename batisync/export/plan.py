"""The exporter's decision for one batch, as pure functions (no I/O), and its vocabulary.

`plan_batch` decides, from the SuiviMO rows really found at the old and new keys, what
each row of a batch needs (`RowPlan`: the reported `Action`, the statements' `Op`). The
rows come from `resolve.py` (checked against the map, grouped into batches); the same
plan drives the dry run, the set-based statements of `apply` and the row-by-row path.

Semantics (the seed, CONTRACT.md): key unchanged → update if values differ, insert if
the row is missing; key changed → move the mapped old row to the new key and values;
old row gone → upsert at the new key; rows at both keys → update the new one and delete
the old one. A row already at the new key that is not ours is adopted (updated), and
if another slot's map row points at it, that slot must be gone upstream: its map row
is dropped so two map rows never point at one SuiviMO row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from batisync.export.model import Key, KeyNorm, PushRow, Values, format_key, identity_key


class Action(StrEnum):
    """What a row means for SuiviMO (reported)."""

    INSERT = "insert"
    UPDATE = "update"
    MOVE = "move"
    UNCHANGED = "unchanged"
    RETRACT = "retract"
    REJECT = "reject"


class Op(StrEnum):
    """What the batch statements do for a row (the `op` column of the batch table)."""

    INSERT = "insert"  # insert at the new key
    UPDATE = "update"  # update the values of the rows at the new key
    MOVE = "move"  # update the rows at the old key to the new key and values
    MERGE = "merge"  # delete the old rows, update the values at the new key
    MERGE_KEEP = "merge_keep"  # delete the old rows, the new key already holds the values
    NOOP = "noop"
    RETRACT = "retract"  # delete the rows at the (mapped) old key


# Ops that delete the rows at the old key, and ops that update rows (found at `target`).
DELETE_OPS = (Op.MERGE, Op.MERGE_KEEP, Op.RETRACT)
UPDATE_OPS = (Op.MOVE, Op.UPDATE, Op.MERGE)


@dataclass(frozen=True, slots=True)
class Resolved:
    """A to_push row checked against the map."""

    row: PushRow
    old_key: Key | None  # the key the map records for this slot, None if unmapped
    adopts: tuple[str, ...] = ()  # gone slots whose map row points at row.key


@dataclass(frozen=True, slots=True)
class RowPlan:
    id_heure: str
    action: Action
    op: Op | None = None
    old_key: Key | None = None
    new_key: Key | None = None
    old_values: Values | None = None
    new_values: Values | None = None
    reason: str | None = None
    adopts: tuple[str, ...] = ()

    @property
    def target(self) -> Key | None:
        """Where the rows this op updates sit before the batch (old key for a move)."""
        if self.op is Op.MOVE:
            return self.old_key
        if self.op in (Op.UPDATE, Op.MERGE):
            return self.new_key
        return None

    @property
    def writes(self) -> bool:
        return self.op not in (None, Op.NOOP)

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain data (the dry run's `planned_writes`)."""
        return {
            "id_heure": self.id_heure,
            "action": str(self.action),
            "old_key": _key_dict(self.old_key),
            "new_key": _key_dict(self.new_key),
            "old_values": _values_dict(self.old_values),
            "new_values": _values_dict(self.new_values),
            "adopts": list(self.adopts),
        }

    def describe(self) -> str:
        """One line for the dry run: action, old → new key and values."""
        if self.action is Action.REJECT:
            return f"{self.id_heure}: reject ({self.reason})"
        before = f"{format_key(self.old_key)} {self.old_values or '-'}"
        after = f"{format_key(self.new_key)} {self.new_values or '-'}"
        extra = f" [adopts the row of {', '.join(self.adopts)}]" if self.adopts else ""
        return f"{self.id_heure}: {self.action} {before} -> {after}{extra}"


def _key_dict(key: Key | None) -> dict[str, str] | None:
    if key is None:
        return None
    return {"CodeChantier": key[0], "CodeSalarie": key[1], "Date": f"{key[2]:%Y-%m-%d %H:%M:%S}"}


def _values_dict(values: Values | None) -> dict[str, Any] | None:
    if values is None:
        return None
    h0 = None if values.nb_h0 is None else str(values.nb_h0)
    return {"NbH0": h0, "NbH3": values.nb_h3, "NbH4": values.nb_h4}


def reject(id_heure: str, reason: str) -> RowPlan:
    return RowPlan(id_heure, Action.REJECT, reason=reason)


@dataclass
class State:
    """The SuiviMO rows found at a batch's keys: normalised key → values of each row."""

    rows: dict[Key, list[Values]] = field(default_factory=dict)

    def at(self, key: Key | None) -> list[Values]:
        return [] if key is None else self.rows.get(key, [])


def plan_batch(
    batch: Sequence[Resolved], state: State, norm: KeyNorm = identity_key
) -> list[RowPlan]:
    """Per-row plan for one batch, applied at once by `apply` (see the module doc).

    A key that another row of the batch leaves (its old row exists and moves or is
    deleted) counts as free: that is what makes swaps and chains (A: K1→K2 while
    B: K2→K3) come out right when the statements run as one set.

    A slot whose old or new key holds two rows or more is rejected `duplicate_key`: which
    of them is ours cannot be told, so the export neither moves nor updates them all
    (`batisync reconcile --repair` collapses a key when one row holds the synced values).
    A row then stays where it is, so a slot moving onto its key is rejected in turn, to
    a fixed point, as `resolve` does for the map.
    """
    rejected = _rejected_in_batch(batch, state, norm)
    active = [r for r in batch if r.row.id_heure not in rejected]
    leaving = _leaving(active, state, norm)
    plans = []
    for r in batch:
        if (reason := rejected.get(r.row.id_heure)) is not None:
            plans.append(reject(r.row.id_heure, reason))
            continue
        new = norm(r.row.key)
        moving = r.old_key is not None and norm(r.old_key) != new
        old_rows = state.at(norm(r.old_key)) if moving else []
        new_rows = [] if new in leaving else state.at(new)
        same = bool(new_rows) and all(v.matches(r.row.values) for v in new_rows)
        if old_rows:
            action = Action.MOVE
            op = Op.MOVE if not new_rows else Op.MERGE_KEEP if same else Op.MERGE
            before = (r.old_key, old_rows[0])
        elif new_rows:
            action, op = (Action.UNCHANGED, Op.NOOP) if same else (Action.UPDATE, Op.UPDATE)
            before = (r.row.key, new_rows[0])
        else:
            action, op, before = Action.INSERT, Op.INSERT, (None, None)
        plans.append(
            RowPlan(
                r.row.id_heure,
                action,
                op,
                old_key=before[0],
                new_key=r.row.key,
                old_values=before[1],
                new_values=r.row.values,
                adopts=r.adopts,
            )
        )
    return plans


def _leaving(batch: Sequence[Resolved], state: State, norm: KeyNorm) -> set[Key]:
    """Old keys whose row moves away (or is deleted) in this batch."""
    return {
        old
        for r in batch
        if r.old_key is not None and (old := norm(r.old_key)) != norm(r.row.key) and state.at(old)
    }


def _rejected_in_batch(batch: Sequence[Resolved], state: State, norm: KeyNorm) -> dict[str, str]:
    """id → reason for the rows of a batch that touch a duplicated key (see `plan_batch`)."""
    rejected: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        active = [r for r in batch if r.row.id_heure not in rejected]
        leaving = _leaving(active, state, norm)
        # the rows of rejected movers stay at their old key: that key is not free
        staying = {
            norm(r.old_key): r.row.id_heure
            for r in batch
            if r.row.id_heure in rejected and r.old_key is not None and state.at(norm(r.old_key))
        }
        for r in active:
            new = norm(r.row.key)
            moving = r.old_key is not None and norm(r.old_key) != new
            old_rows = state.at(norm(r.old_key)) if moving else []
            new_rows = [] if new in leaving else state.at(new)
            if len(old_rows) > 1:
                reason = duplicate_reason(r.old_key, len(old_rows), "its mapped key")
            elif len(new_rows) > 1:
                reason = duplicate_reason(r.row.key, len(new_rows), "its key")
            elif (holder := staying.get(new)) is not None and holder != r.row.id_heure:
                reason = f"key_collision: key held by slot {holder}, whose write is rejected"
            else:
                continue
            rejected[r.row.id_heure] = reason
            changed = True
    return rejected


def duplicate_reason(key: Key | None, rows: int, which: str) -> str:
    """Why a slot is not written at a key holding several rows (the export and the drift
    check say it the same way)."""
    return (
        f"duplicate_key: {which} {format_key(key)} holds {rows} SuiviMO rows; which one is "
        "ours cannot be told, so none is written (`batisync reconcile --repair` collapses "
        "them when one holds the synced values)"
    )
