"""The benchmark's world: older history beside the window (`generate(history_days=…)`)
and the changes between runs (`move_and_edit`)."""

from __future__ import annotations

import random
from datetime import date, timedelta

from devstack.fake_batisimply import generate
from devstack.reliability.changes import move_and_edit
from devstack.verify import healthy_keys, healthy_slots

TODAY = date(2026, 6, 30)


def test_history_lies_before_the_window_and_leaves_the_window_as_it_was() -> None:
    plain = generate(n_slots=600, n_projects=8, days=60, seed=3, today=TODAY)
    aged = generate(n_slots=600, n_projects=8, days=60, seed=3, today=TODAY, history_days=60)
    first = (TODAY - timedelta(days=60)).isoformat()
    oldest = (TODAY - timedelta(days=120)).isoformat()
    window = {i: s for i, s in aged.slots.items() if s["startDate"][:10] >= first}
    older = {i: s for i, s in aged.slots.items() if i not in window}
    assert window == plain.slots  # n_slots counts the window only
    assert len(older) > 400  # about as dense as the window
    assert all(oldest <= s["startDate"][:10] < first for s in older.values())
    window_users = {s["user"]["id"] for s in window.values()}
    assert {s["user"]["id"] for s in older.values()} <= window_users  # the same people


def test_move_and_edit_changes_n_plus_n_healthy_slots_onto_free_keys() -> None:
    ds = generate(n_slots=800, n_projects=8, days=60, seed=5, today=TODAY, history_days=60)
    before = {i: dict(s) for i, s in ds.slots.items()}
    keys_before = healthy_keys(ds, TODAY, 60)
    changed = move_and_edit(ds, 20, random.Random(1), TODAY, 60)
    assert len(set(changed)) == 40 and set(changed) <= set(keys_before)
    differ = {i for i, s in ds.slots.items() if s != before[i]}
    assert differ == set(changed)  # nothing else, nothing in the history
    moved = [i for i in changed[:20] if ds.slots[i]["startDate"] != before[i]["startDate"]]
    assert len(moved) == 20
    after = healthy_slots(ds, TODAY, 60)
    assert set(after) == set(keys_before)  # every slot still alone on its key
    assert all(after[i].key != keys_before[i] for i in moved)
