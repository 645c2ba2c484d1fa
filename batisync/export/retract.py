"""HEURES_ON_GONE=delete: which rows of gone slots to remove, and the safety limit.

Pure decisions; `runner` applies them as batches (`apply.run_batch`). Only rows
the project wrote are retracted, found through the map at their mapped key; a slot
that is in `to_push` again (re-validated) is never retracted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from batisync.export.model import KeyNorm, MapRow, identity_key
from batisync.export.plan import Action, Op, RowPlan, State


def plan_retract(
    mapped: Sequence[MapRow], state: State, norm: KeyNorm = identity_key
) -> list[RowPlan]:
    """Retraction of gone slots: delete the rows at their mapped key (if still there)."""
    return [
        RowPlan(
            m.id_heure,
            Action.RETRACT,
            Op.RETRACT,
            old_key=m.key,
            old_values=(state.at(norm(m.key)) or [None])[0],
        )
        for m in mapped
    ]


def retract_candidates(
    gone_ids: Iterable[str], current_map: Mapping[str, MapRow], pushed_ids: Iterable[str]
) -> list[MapRow]:
    """The gone slots that still have a map row (only rows we wrote), not pushed now."""
    skip = set(pushed_ids)
    return [current_map[i] for i in sorted(set(gone_ids)) if i in current_map and i not in skip]


def retract_refusal(count: int, mapped: int, max_share: float, force: bool) -> str | None:
    """Why retracting `count` of `mapped` rows is refused (None when allowed)."""
    if force or count == 0 or count <= max_share * mapped:
        return None
    return (
        f"retraction refused: {count} of {mapped} mapped rows would be deleted, more than "
        f"HEURES_RETRACT_MAX_SHARE={max_share:g}; run with --force if that is intended"
    )
