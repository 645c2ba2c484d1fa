"""Property: for random sequences of upstream changes and hand edits, after every sync
SuiviMO equals an independent oracle of the expected rows, with no duplicate key.

Exporter-level, with a stand-in for dbt: the slots are a Python model, and
`dbt_stand_in` derives `to_push` / `heures_gone` from the model and the current map the
way the dbt marts do (docs/ARCHITECTURE.md). Fast, so it explores many more sequences
(swaps, batch sizes, a small key space) than the full chain can afford;
`tests/test_sync_property.py` checks the same property through the real chain (fake
API → loader → dbt → exporter). The oracle never looks at the map or at the exporter's
report: it keeps its own record of what each slot last pushed and what sits in SuiviMO.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batisync.export import ExportOptions, ensure_map, run_export
from tests.export.helpers import (
    duplicate_keys,
    gone,
    hours,
    insert_suivimo,
    push,
    suivimo,
    write_marts,
)

Key = tuple[str, str, datetime]
Vals = tuple[Decimal, int, int]  # as SuiviMO stores them
# A small key space (6 keys), so moves land on each other's keys, on kept rows of gone
# slots and on foreign rows often.
CODES = ["CH1", "CH2"]
HOURS = [7, 8, 9]
MINUTES = [30, 45, 60, 90]


def key(cc: str, hour: int) -> Key:
    return (cc, "S1", datetime(2026, 3, 2, hour))


@dataclass(frozen=True)
class Slot:
    key: Key
    minutes: int
    h3: int = 0
    validated: bool = True
    deleted: bool = False

    @property
    def live(self) -> bool:
        return self.validated and not self.deleted

    @property
    def vals(self) -> Vals:
        return (hours(self.minutes).quantize(Decimal("0.000001")), self.h3, 0)


@dataclass
class World:
    """The upstream model plus the oracle of SuiviMO."""

    on_gone: str
    slots: dict[str, Slot]
    pushed: dict[str, tuple[Key, Vals]]  # what each slot last pushed (oracle's own record)
    rows: dict[str, tuple[Key, Vals] | None]  # the slot's SuiviMO row (None: deleted by hand)
    foreign: dict[Key, Vals]  # rows someone else wrote

    def live_keys(self, but: str | None = None) -> set[Key]:
        return {s.key for i, s in self.slots.items() if s.live and i != but}

    def expected(self) -> list[tuple]:
        ours = [(*k, *v) for r in self.rows.values() if r is not None for k, v in [r]]
        return sorted(ours + [(*k, *v) for k, v in self.foreign.items()], key=_order)

    def sync(self) -> None:
        """What one export must do, from the model alone."""
        dirty = [
            i for i, s in self.slots.items() if s.live and self.pushed.get(i) != (s.key, s.vals)
        ]
        for i in dirty:
            s = self.slots[i]
            self.foreign.pop(s.key, None)  # a row already at the new key is adopted
            for other, (k, _) in list(self.pushed.items()):
                if other != i and k == s.key and not self.slots[other].live:
                    del self.pushed[other]  # a gone slot's kept row, adopted
                    self.rows.pop(other, None)
            self.pushed[i] = self.rows[i] = (s.key, s.vals)
        if self.on_gone == "delete":
            for i in [i for i in self.pushed if not self.slots[i].live]:
                del self.pushed[i]
                self.rows.pop(i, None)


def _order(row: tuple) -> tuple:
    return (row[0], row[1], row[2], str(row[3:]))


def dbt_stand_in(world: World, staging: sa.Engine) -> tuple[list[dict], list[dict]]:
    """to_push and heures_gone as the dbt marts derive them from the slots and the map."""
    with staging.connect() as conn:
        mapped = {
            r.id_heure: r for r in conn.execute(sa.text("select * from batigest_heures_map")).all()
        }
    to_push, heures_gone = [], []
    for i, s in world.slots.items():
        m = mapped.get(i)
        if s.live:
            row = push(i, *s.key, s.minutes, s.h3, 0)
            old = None if m is None else (m.code_chantier, m.code_salarie, m.date_sqlserver)
            if m is None or old != s.key or m.values_hash != row["values_hash"]:
                to_push.append(
                    push(i, *s.key, s.minutes, s.h3, 0, old=old)
                    | ({"change_type": "values_changed"} if old == s.key else {})
                )
        elif m is not None:
            reason = "deleted_upstream" if s.deleted else "unvalidated"
            heures_gone.append(gone(i, (m.code_chantier, m.code_salarie, m.date_sqlserver), reason))
    return to_push, heures_gone


# Ops pick their slot and key by index among the ones for which the op is valid, so
# nearly every generated op does something (rather than being skipped).
pick = st.integers(min_value=0, max_value=20)
operations = st.one_of(
    st.tuples(st.just("move"), pick, pick),  # time shift or project change
    st.tuples(st.just("swap"), pick, pick),  # two slots exchange keys in one sync
    st.tuples(st.just("minutes"), pick, st.sampled_from(MINUTES)),
    st.tuples(st.just("journey"), pick),
    st.tuples(st.just("unvalidate"), pick),
    st.tuples(st.just("validate"), pick),
    st.tuples(st.just("delete"), pick),
    st.tuples(st.just("add"), pick, st.sampled_from(MINUTES)),
    st.tuples(st.just("hand_edit"), pick),
    st.tuples(st.just("hand_delete"), pick),
    st.tuples(st.just("foreign"), pick),
    st.just(("sync",)),
)
ALL_KEYS = [key(cc, h) for cc in CODES for h in HOURS]


def _nth(items: list, index: int) -> Any:
    return items[index % len(items)] if items else None


def apply_op(world: World, op: tuple, batigest: sa.Engine) -> None:
    """Change the model (and, for hand edits, SuiviMO). Upstream never gives two live
    slots one key (dbt rejects such slots, tested apart): ops keep live keys distinct."""
    name, *args = op
    alive = sorted(i for i, s in world.slots.items() if not s.deleted)
    i = _nth(alive, args[0]) if args else None
    slot = world.slots.get(i) if i else None
    if name == "add":
        free = [k for k in ALL_KEYS if k not in world.live_keys()]
        new_id = f"s{len(world.slots)}"
        if free:
            world.slots[new_id] = Slot(_nth(free, args[0]), args[1])
    elif name == "foreign":
        owned = {k for k, _ in world.pushed.values()} | set(world.foreign)
        k = _nth([k for k in ALL_KEYS if k not in owned], args[0])
        if k is not None:
            world.foreign[k] = (Decimal("2.000000"), 1, 1)
            insert_suivimo(batigest, [(*k, Decimal(2), 1, 1)])
    elif slot is None:
        return
    elif name == "move":
        taken = world.live_keys(but=i) | {slot.key}
        k = _nth([k for k in ALL_KEYS if k not in taken], args[1])
        if k is not None:
            world.slots[i] = replace(slot, key=k)
    elif name == "swap":
        # between live slots only: swapping with a gone slot could give two live slots one key
        j = _nth([a for a in alive if a != i and world.slots[a].live], args[1])
        if slot.live and j is not None:
            other = world.slots[j]
            world.slots[i], world.slots[j] = (
                replace(slot, key=other.key),
                replace(other, key=slot.key),
            )
    elif name == "minutes":
        world.slots[i] = replace(slot, minutes=args[1])
    elif name == "journey":
        world.slots[i] = replace(slot, h3=1 - slot.h3)
    elif name == "unvalidate":
        world.slots[i] = replace(slot, validated=False)
    elif name == "validate":
        if slot.key not in world.live_keys(but=i):
            world.slots[i] = replace(slot, validated=True)
    elif name == "delete":
        world.slots[i] = replace(slot, deleted=True)
    elif name in ("hand_edit", "hand_delete"):
        with_row = sorted(r for r, v in world.rows.items() if v is not None)
        r = _nth(with_row, args[0])
        if r is not None:
            hand_edit(world, r, batigest, delete=name == "hand_delete")


def hand_edit(world: World, i: str, batigest: sa.Engine, *, delete: bool) -> None:
    """Someone edits (NbH4) or deletes the slot's row in Batigest."""
    current = world.rows[i]
    assert current is not None
    k, (h0, h3, h4) = current
    where = '"CodeChantier" = :cc and "CodeSalarie" = :cs and "Date" = :d'
    with batigest.begin() as conn:
        if delete:
            conn.execute(
                sa.text(f'delete from dbo."SuiviMO" where {where}'), dict(cc=k[0], cs=k[1], d=k[2])
            )
            world.rows[i] = None
        else:
            conn.execute(
                sa.text(f'update dbo."SuiviMO" set "NbH4" = :v where {where}'),
                dict(v=1 - h4, cc=k[0], cs=k[1], d=k[2]),
            )
            world.rows[i] = (k, (h0, h3, 1 - h4))


def reset(staging: sa.Engine, batigest: sa.Engine) -> None:
    ensure_map(staging)  # dbt's on-run-start creates it before the marts read it
    with staging.begin() as conn, batigest.begin() as target:
        conn.exec_driver_sql("truncate batigest_heures_map")
        target.exec_driver_sql('truncate dbo."SuiviMO"')


def sync(
    world: World, staging: sa.Engine, batigest: sa.Engine, batch_size: int, row_by_row: bool
) -> Any:
    to_push, heures_gone = dbt_stand_in(world, staging)
    write_marts(staging, to_push, heures_gone)
    options = ExportOptions(
        batch_size=batch_size,
        on_gone=world.on_gone,
        retract_max_share=1.0,
        row_by_row=row_by_row,
    )
    report = run_export(staging, batigest, options)
    world.sync()
    return report


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    initial=st.permutations(ALL_KEYS),
    ops=st.lists(operations, min_size=8, max_size=30),
    on_gone=st.sampled_from(["keep", "delete"]),
    batch_size=st.integers(min_value=1, max_value=4),
    # the trigger-safe path (one row per statement) must write what the set-based one does
    row_by_row=st.booleans(),
)
def test_suivimo_always_equals_the_oracle(
    staging_engine, batigest_engine, initial, ops, on_gone, batch_size, row_by_row
) -> None:
    reset(staging_engine, batigest_engine)
    world = World(on_gone, {}, {}, {}, {})
    # a synced starting population: four slots on distinct keys
    for k in initial[:4]:
        world.slots[f"s{len(world.slots)}"] = Slot(k, 60)
    for op in [("sync",), *ops, ("sync",)]:
        if op[0] != "sync":
            apply_op(world, op, batigest_engine)
            continue
        report = sync(world, staging_engine, batigest_engine, batch_size, row_by_row)
        actual = sorted(suivimo(batigest_engine), key=_order)
        assert report.rejected == []
        assert not duplicate_keys(actual)
        assert actual == world.expected()
        with staging_engine.connect() as conn:
            mapped = {
                r[0]: (r[1], r[2], r[3])
                for r in conn.exec_driver_sql(
                    "select id_heure, code_chantier, code_salarie, date_sqlserver "
                    "from batigest_heures_map"
                )
            }
        assert mapped == {i: k for i, (k, _) in world.pushed.items()}
    # and once converged, a sync writes nothing
    again = sync(world, staging_engine, batigest_engine, batch_size, row_by_row)
    assert (again.inserted, again.updated, again.moved, again.retracted) == (0, 0, 0, 0)
