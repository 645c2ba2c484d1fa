"""Before the batches, as pure functions: `to_push` rows checked against the map and
packed into batches.

`resolve` attaches to each row the key the map records for it (the map is the authority
on which SuiviMO row is ours: `to_push`'s own old key is only a hint and may be stale)
and rejects what cannot be written safely; `group`/`batches` keep rows whose keys depend
on each other (swaps, chains) in one batch, where `plan.plan_batch` decides them at once.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence

from batisync.export.model import Key, KeyNorm, MapRow, PushRow, identity_key
from batisync.export.plan import Resolved, RowPlan, reject


def resolve(
    rows: Sequence[PushRow],
    current_map: Mapping[str, MapRow],
    gone_ids: Iterable[str] = (),
    norm: KeyNorm = identity_key,
) -> tuple[list[Resolved], list[RowPlan]]:
    """Attach the mapped old key to each row; reject what cannot be written safely.

    Rejected: an id twice in the input; two rows for one new key; a new key that the
    map gives to another slot which is neither moving away in this run nor gone
    upstream (writing there would take a live slot's row). Repeated to a fixed point:
    a row whose key's holder is rejected stays where it is, so its mover is rejected.
    """
    gone = set(gone_ids)
    rejected: dict[str, str] = {}
    # counts and first holders, not a list per id or key: 100k rows on a first run
    by_id = Counter(row.id_heure for row in rows)
    for id_heure, n in by_id.items():
        if n > 1:
            rejected[id_heure] = "bad_record: id_heure appears more than once in to_push"
    first_at: dict[Key, str] = {}
    others_at: dict[Key, list[str]] = {}
    for row in rows:
        if row.id_heure not in rejected:
            key = norm(row.key)
            if key in first_at:
                others_at.setdefault(key, []).append(row.id_heure)
            else:
                first_at[key] = row.id_heure
    for key, first in first_at.items():  # in the order of the keys' first rows
        if key in others_at:
            ids = [first, *others_at[key]]
            for id_heure in ids:
                others = ", ".join(i for i in ids if i != id_heure)
                rejected[id_heure] = f"key_collision: same key as slot {others} in to_push"
    holder_of = {norm(m.key): m.id_heure for m in current_map.values()}

    adopts: dict[str, tuple[str, ...]] = {}
    changed = True
    while changed:
        changed = False
        for row in rows:
            if row.id_heure in rejected:
                continue
            holder = holder_of.get(norm(row.key))
            if holder is None or holder == row.id_heure:
                adopts[row.id_heure] = ()
            elif holder in by_id and holder not in rejected:
                adopts[row.id_heure] = ()  # it moves away in this run (same batch)
            elif holder in gone and holder not in by_id:
                adopts[row.id_heure] = (holder,)
            else:
                why = "is rejected" if holder in rejected else "is not moving in this run"
                rejected[row.id_heure] = f"key_collision: key held by slot {holder}, which {why}"
                changed = True

    accepted = [
        Resolved(
            row,
            current_map[row.id_heure].key if row.id_heure in current_map else None,
            adopts[row.id_heure],
        )
        for row in rows
        if row.id_heure not in rejected
    ]
    return accepted, [reject(i, reason) for i, reason in rejected.items()]


def group(resolved: Sequence[Resolved], norm: KeyNorm = identity_key) -> list[list[Resolved]]:
    """Rows linked through a shared key (old or new) — swaps, chains — in one group."""
    parent: dict[Key, Key] = {}

    def find(key: Key) -> Key:
        parent.setdefault(key, key)
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for r in resolved:
        root = find(norm(r.row.key))
        if r.old_key is not None:
            parent[find(norm(r.old_key))] = root
    groups: dict[Key, list[Resolved]] = defaultdict(list)
    for r in resolved:
        groups[find(norm(r.row.key))].append(r)
    return list(groups.values())


def batches(groups: Iterable[list[Resolved]], size: int) -> list[list[Resolved]]:
    """Pack whole groups into batches of about `size` rows (a group is never split)."""
    if size < 1:
        raise ValueError("batch size must be at least 1")
    out: list[list[Resolved]] = []
    current: list[Resolved] = []
    for g in groups:
        if current and len(current) + len(g) > size:
            out.append(current)
            current = []
        current.extend(g)
    if current:
        out.append(current)
    return out


__all__ = ["batches", "group", "resolve"]
