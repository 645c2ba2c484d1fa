"""The exporter's decisions, as pure functions (no database)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from batisync.export.model import BadRow, MapRow, PushRow, Values, sqlserver_key
from batisync.export.plan import Action, Op, Resolved, State, plan_batch
from batisync.export.resolve import batches, group, resolve
from batisync.export.retract import retract_candidates, retract_refusal


def K(hour: int, cc: str = "CH1", cs: str = "S1") -> tuple[str, str, datetime]:
    return (cc, cs, datetime(2026, 3, 2, hour))


def V(hours: str = "1", h3: int = 0, h4: int = 0) -> Values:
    return Values(Decimal(hours), h3, h4)


def P(id_heure: str, key, values: Values | None = None) -> PushRow:
    return PushRow(id_heure, key, values or V())


def M(id_heure: str, key, values: Values | None = None) -> MapRow:
    return MapRow(id_heure, key, values or V())


def by_id(plans):
    return {p.id_heure: p for p in plans}


def test_parsing_rejects_bad_rows_with_a_reason() -> None:
    good = {
        "id_heure": "1",
        "code_chantier": "CH1",
        "code_salarie": "S1",
        "date_sqlserver": datetime(2026, 3, 2, 8),
        "nb_h0": Decimal("0.8333333333"),
        "nb_h3": 1,
        "nb_h4": False,
    }
    row = PushRow.from_mapping(good)
    assert row.values == Values(Decimal("0.833333"), 1, 0)
    cases = {
        "code_chantier": (None, "missing code_chantier"),
        "date_sqlserver": (datetime(2026, 3, 2, 8, 0, 0, 500), "fraction of a second"),
        "nb_h0": ("abc", "nb_h0 'abc' is not a number"),
        "nb_h3": (0.5, "nb_h3 0.5 is not an integer"),
        "id_heure": ("", "missing id_heure"),
    }
    for column, (value, reason) in cases.items():
        with pytest.raises(BadRow, match=reason):
            PushRow.from_mapping({**good, column: value})


def test_values_match_within_the_stored_precision_only() -> None:
    assert V("0.833333").matches(V("0.8333"))  # 4 decimals kept by Batigest: equal
    assert not V("0.833333").matches(V("0.85"))  # one minute apart: different
    assert not V("1", h3=1).matches(V("1", h3=0))
    assert not V("1").matches(Values(None, 0, 0))  # a NULL put by hand never matches


def test_resolve_takes_the_old_key_from_the_map_not_from_to_push() -> None:
    current = {"A": M("A", K(8))}
    [resolved], rejected = resolve([P("A", K(9))], current)
    assert rejected == []
    assert resolved.old_key == K(8)


def test_resolve_rejects_keys_held_by_a_live_slot_and_duplicates() -> None:
    current = {"Y": M("Y", K(10)), "G": M("G", K(11))}
    rows = [P("X", K(10)), P("D1", K(12)), P("D2", K(12)), P("Z", K(11))]
    accepted, rejected = resolve(rows, current, gone_ids={"G"})
    reasons = {p.id_heure: p.reason for p in rejected}
    assert set(reasons) == {"X", "D1", "D2"}
    assert reasons["X"].startswith("key_collision: key held by slot Y")
    assert reasons["D1"].startswith("key_collision: same key as slot D2")
    [z] = accepted
    assert (z.row.id_heure, z.adopts) == ("Z", ("G",))  # gone slot's row is adopted


def test_resolve_accepts_a_key_whose_holder_moves_away_in_the_same_run() -> None:
    current = {"A": M("A", K(8)), "B": M("B", K(9))}
    accepted, rejected = resolve([P("A", K(9)), P("B", K(10))], current)
    assert rejected == [] and len(accepted) == 2
    # …but not when the holder is rejected: then it stays, and so must its follower
    accepted, rejected = resolve([P("A", K(9)), P("B", K(10)), P("C", K(10))], current)
    assert {p.id_heure for p in rejected} == {"A", "B", "C"}
    assert accepted == []


def test_groups_keep_swaps_and_chains_together_across_batch_sizes() -> None:
    rows = [
        Resolved(P("A", K(9)), K(8)),  # A: 8 → 9
        Resolved(P("B", K(8)), K(9)),  # B: 9 → 8 (swap with A)
        Resolved(P("C", K(12)), K(11)),  # chain C: 11 → 12, D: 10 → 11
        Resolved(P("D", K(11)), K(10)),
        Resolved(P("E", K(14)), None),
    ]
    groups = sorted(sorted(r.row.id_heure for r in g) for g in group(rows))
    assert groups == [["A", "B"], ["C", "D"], ["E"]]
    packed = batches(group(rows), 1)
    assert sorted(sorted(r.row.id_heure for r in b) for b in packed) == groups


def test_plan_covers_every_case() -> None:
    state = State(
        {
            K(8): [V("1")],  # A's old row
            K(10): [V("2")],  # C's row, same values
            K(11): [V("3")],  # D's row, values differ
            K(13): [V("1")],  # E's old row; E's new key K(14) holds a foreign row
            K(14): [V("9")],
            K(16): [V("5")],  # F's new key (old row K(15) deleted by hand)
        }
    )
    batch = [
        Resolved(P("A", K(9), V("1")), K(8)),  # move
        Resolved(P("C", K(10), V("2")), K(10)),  # unchanged
        Resolved(P("D", K(11), V("4")), K(11)),  # update
        Resolved(P("E", K(14), V("1")), K(13)),  # rows at both keys: merge
        Resolved(P("F", K(16), V("5")), K(15)),  # old gone, new holds the values
        Resolved(P("G", K(17), V("1")), K(12)),  # old gone, new empty: insert
        Resolved(P("H", K(18), V("1")), None),  # new slot
    ]
    plans = by_id(plan_batch(batch, state))
    summary = {i: (p.action, p.op) for i, p in plans.items()}
    assert summary == {
        "A": (Action.MOVE, Op.MOVE),
        "C": (Action.UNCHANGED, Op.NOOP),
        "D": (Action.UPDATE, Op.UPDATE),
        "E": (Action.MOVE, Op.MERGE),
        "F": (Action.UNCHANGED, Op.NOOP),
        "G": (Action.INSERT, Op.INSERT),
        "H": (Action.INSERT, Op.INSERT),
    }
    assert plans["A"].target == K(8) and plans["E"].target == K(14)
    assert plans["A"].describe().startswith("A: move (CH1, S1, 2026-03-02 08:00:00)")


def test_plan_treats_a_key_left_in_the_same_batch_as_free() -> None:
    state = State({K(8): [V("1")], K(9): [V("2")], K(11): [V("3")]})
    batch = [
        Resolved(P("A", K(9), V("1")), K(8)),  # swap A/B
        Resolved(P("B", K(8), V("2")), K(9)),
        Resolved(P("C", K(12), V("3")), K(11)),  # chain: C leaves 11, N arrives there
        Resolved(P("N", K(11), V("7")), None),
    ]
    plans = by_id(plan_batch(batch, state))
    assert [plans[i].op for i in "ABCN"] == [Op.MOVE, Op.MOVE, Op.MOVE, Op.INSERT]


def test_sqlserver_keys_ignore_case_and_trailing_spaces() -> None:
    state = State({sqlserver_key(K(8, cc="ch1 ")): [V("1")]})
    [plan] = plan_batch([Resolved(P("A", K(8, cc="CH1")), None)], state, sqlserver_key)
    assert plan.action is Action.UNCHANGED  # a second row would be a duplicate there


def test_retract_candidates_and_guard() -> None:
    current = {i: M(i, K(n)) for n, i in enumerate("ABCDEFGHIJ")}
    picked = retract_candidates({"A", "B", "Z"}, current, pushed_ids={"B"})
    assert [m.id_heure for m in picked] == ["A"]  # Z is not ours, B is live again
    assert retract_refusal(1, 10, 0.1, force=False) is None
    assert "2 of 10" in (retract_refusal(2, 10, 0.1, force=False) or "")
    assert retract_refusal(2, 10, 0.1, force=True) is None


def test_plan_rejects_a_slot_whose_key_holds_two_rows() -> None:
    state = State(
        {
            K(8): [V("1"), V("1")],  # A's old key, doubled (by hand)
            K(10): [V("2"), V("5")],  # B's key, doubled: an update would change both
            K(12): [V("3")],  # C's old row
            K(14): [V("4"), V("4")],  # C's new key, doubled
            K(15): [V("6")],  # E's row: E is unchanged, its key holds one row
        }
    )
    batch = [
        Resolved(P("A", K(9), V("1")), K(8)),  # move from a doubled key
        Resolved(P("B", K(10), V("9")), K(10)),  # update at a doubled key
        Resolved(P("C", K(14), V("3")), K(12)),  # move onto a doubled key
        Resolved(P("E", K(15), V("6")), K(15)),
    ]
    plans = by_id(plan_batch(batch, state))
    assert {i: p.action for i, p in plans.items()} == {
        "A": Action.REJECT,
        "B": Action.REJECT,
        "C": Action.REJECT,
        "E": Action.UNCHANGED,
    }
    assert all(not plans[i].writes for i in "ABC")
    reason_a = plans["A"].reason or ""
    assert reason_a.startswith("duplicate_key: its mapped key (CH1, S1, 2026-03-02 08:00:00)")
    assert "holds 2 SuiviMO rows" in reason_a and "reconcile --repair" in reason_a
    assert (plans["B"].reason or "").startswith("duplicate_key: its key (CH1, S1, 2026-03-02 10")
    assert (plans["C"].reason or "").startswith("duplicate_key: its key (CH1, S1, 2026-03-02 14")


def test_a_slot_rejected_for_a_duplicate_keeps_its_key_held() -> None:
    # chain: A moves 8 → 9 where B sits; B moves 9 → 10, a doubled key. B is rejected,
    # so its row stays at 9 and A, which counted on 9 being left, is rejected in turn
    state = State({K(8): [V("1")], K(9): [V("2")], K(10): [V("7"), V("7")]})
    batch = [Resolved(P("A", K(9), V("1")), K(8)), Resolved(P("B", K(10), V("2")), K(9))]
    plans = by_id(plan_batch(batch, state))
    assert plans["B"].reason is not None and plans["B"].reason.startswith("duplicate_key")
    assert plans["A"].action is Action.REJECT
    assert plans["A"].reason == "key_collision: key held by slot B, whose write is rejected"
    # without the duplicate the chain goes through
    plans = by_id(plan_batch(batch, State({K(8): [V("1")], K(9): [V("2")]})))
    assert [plans[i].op for i in "AB"] == [Op.MOVE, Op.MOVE]


def test_sqlserver_keys_that_differ_by_case_are_one_doubled_key() -> None:
    state = State({sqlserver_key(K(8)): [V("1"), V("1")]})  # 'CH1' and 'ch1 ' rows
    [plan] = plan_batch([Resolved(P("A", K(8, cc="ch1"), V("2")), None)], state, sqlserver_key)
    assert plan.action is Action.REJECT and "holds 2 SuiviMO rows" in (plan.reason or "")
