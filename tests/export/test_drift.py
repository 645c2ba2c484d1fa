"""The drift stage's decision (pure): what is wrong with each slot's SuiviMO row, what the
sync may heal, what it only reports, and what it remembers for the next run."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from batisync.export.drift import Memory, SuiviRow, decide, remember, state_of
from batisync.export.drift_report import DriftReport
from batisync.export.model import MapRow, Values, identity_key, sqlserver_key

NOW = datetime(2026, 3, 3, 6, tzinfo=UTC)


def K(hour: int, cc: str = "CH1", cs: str = "S1", day: int = 2) -> tuple[str, str, datetime]:
    return (cc, cs, datetime(2026, 3, day, hour))


def V(hours: str = "1", h3: int = 0, h4: int = 0) -> Values:
    return Values(Decimal(hours), h3, h4)


def M(id_heure: str, key, values: Values | None = None, h: str | None = None) -> MapRow:
    return MapRow(id_heure, key, values or V(), h or f"hash-{id_heure}")


def R(key, values: Values | None = None) -> SuiviRow:
    return SuiviRow(key, values or V())


def by_id(decision):
    return {f.id_heure: f for f in decision.findings}


def test_each_kind_of_drift_is_named_and_only_deletions_and_edits_are_healed() -> None:
    scope = [
        M("ok", K(7)),
        M("gone", K(8)),
        M("edited", K(9), V("2", 1, 0)),
        M("doubled", K(10)),
        M("moved", K(8, cs="S2")),
        M("alone", K(8, cs="S3")),
    ]
    rows = [
        R(K(7)),
        R(K(9), V("2", 0, 0)),  # NbH3 edited by hand
        R(K(10)),
        R(K(10)),
        R(K(15, cs="S2"), V("1")),  # S2's row now at 15:00, where no slot is mapped
        R(K(8, cs="S3", day=3)),  # another day: not a move
        R(K(8, cc="CH9", cs="S4")),  # another employee that day
    ]
    other_slot = K(16, cs="S3")  # a mapped row of another slot the same day: not a move
    rows.append(R(other_slot))
    decision = decide(scope, [m.key for m in scope] + [other_slot], rows, {}, identity_key)
    found = by_id(decision)
    assert decision.checked == 6
    assert {i: (f.kind, f.heal) for i, f in found.items()} == {
        "gone": ("missing", True),
        "edited": ("changed", True),
        "doubled": ("duplicated", False),
        "moved": ("moved_by_hand", False),
        "alone": ("missing", True),
    }
    assert [f.id_heure for f in decision.to_heal] == ["alone", "edited", "gone"]
    assert found["moved"].found == (R(K(15, cs="S2")),)  # the unmapped row it looks moved to
    assert "nothing inserted" in found["moved"].why
    assert found["doubled"].found == (R(K(10)), R(K(10)))
    assert "never collapsed" in found["doubled"].why
    assert found["edited"].found == (R(K(9), V("2", 0, 0)),)
    assert all(f.new for f in found.values())
    text = found["moved"].describe()
    assert text.startswith("drift moved_by_hand moved at (CH1, S2, 2026-03-02 08:00:00)")
    assert "unmapped row(s) that day (CH1, S2, 2026-03-02 15:00:00) NbH0=1" in text


def test_keys_compare_as_sql_server_does() -> None:
    scope = [M("A", K(8)), M("B", K(9))]
    rows = [R(K(8, cc="ch1 ", cs="s1")), R(K(9, cc="CH1 ")), R(K(9, cc="ch1"))]
    found = by_id(decide(scope, [m.key for m in scope], rows, {}, sqlserver_key))
    assert list(found) == ["B"] and found["B"].kind == "duplicated"  # A is in place


def test_a_row_restored_once_and_deleted_again_is_contested_until_its_slot_changes() -> None:
    slot = M("A", K(8))
    restored = Memory("A", state_of(slot), restored_kind="missing", restored_at=NOW)
    [f] = decide([slot], [slot.key], [], {"A": restored}, identity_key).findings
    assert (f.kind, f.heal, f.new) == ("contested", False, True)
    assert f.why == "restored once, then deleted again: left alone until its slot changes upstream"
    # the next run reports it again, but as nothing new
    seen = replace(restored, reported_kind="contested", first_reported_at=NOW)
    [again] = decide([slot], [slot.key], [], {"A": seen}, identity_key).findings
    assert (again.kind, again.new) == ("contested", False)
    # the slot changed upstream (its values hash): the memory is stale, the row healed
    changed = replace(slot, values_hash="hash-after-upstream-change")
    [fresh] = decide([changed], [slot.key], [], {"A": seen}, identity_key).findings
    assert (fresh.kind, fresh.heal, fresh.new) == ("missing", True, True)
    # edited after a restored deletion: another way, healed once more
    [edited] = decide([slot], [slot.key], [R(K(8), V("5"))], {"A": seen}, identity_key).findings
    assert (edited.kind, edited.heal) == ("changed", True)


def test_report_only_and_an_accent_insensitive_collation_write_nothing_they_should_not() -> None:
    scope = [M("gone", K(8)), M("edited", K(9))]
    rows = [R(K(9), V("3"))]
    keys = [m.key for m in scope]
    found = by_id(decide(scope, keys, rows, {}, identity_key, report_only="HEURES_ON_DRIFT=report"))
    assert {i: (f.kind, f.heal, f.why) for i, f in found.items()} == {
        "gone": ("missing", False, "HEURES_ON_DRIFT=report"),
        "edited": ("changed", False, "HEURES_ON_DRIFT=report"),
    }
    found = by_id(decide(scope, keys, rows, {}, identity_key, accent_insensitive=True))
    assert (found["gone"].heal, found["edited"].heal) == (False, True)  # an update is safe
    assert "accent-insensitive collation" in found["gone"].why


def test_an_unchanged_finding_is_not_new() -> None:
    slot = M("A", K(8))
    seen = {"A": Memory("A", state_of(slot), reported_kind="moved_by_hand", first_reported_at=NOW)}
    rows = [R(K(11))]  # unmapped, same employee, same day
    [f] = decide([slot], [slot.key], rows, seen, identity_key).findings
    assert (f.kind, f.new) == ("moved_by_hand", False)
    [other] = decide([slot], [slot.key], [R(K(8)), R(K(8))], seen, identity_key).findings
    assert (other.kind, other.new) == ("duplicated", True)  # found another way: new


def test_remember_keeps_restores_and_reports_for_the_slots_current_state() -> None:
    later = datetime(2026, 3, 3, 7, tzinfo=UTC)
    slots = {i: M(i, K(8, day=n)) for n, i in enumerate("ABCDE", start=2)}  # one day each
    states = {i: state_of(m) for i, m in slots.items()}
    memory = {
        "A": Memory("A", states["A"], "missing", NOW),  # restored, fine since
        "B": Memory("B", "an older state", "changed", NOW),  # slot changed upstream
        "C": Memory("C", states["C"], None, None, "moved_by_hand", NOW),  # still moved
        "D": Memory("D", states["D"], None, None, "duplicated", NOW),  # fixed by a person
        "Z": Memory("Z", "h", "missing", NOW),  # no longer mapped
    }
    rows = [R(K(8, day=2)), R(K(13, day=4))]  # A in place; C's day holds an unmapped row
    decision = decide(list(slots.values()), [m.key for m in slots.values()], rows, memory,
                      identity_key)  # fmt: skip
    found = by_id(decision)
    assert {i: f.kind for i, f in found.items()} == {
        "B": "missing",
        "C": "moved_by_hand",
        "D": "missing",
        "E": "missing",
    }
    healed = [replace(f, restored=f.heal) for f in decision.findings]
    after = {m.id_heure: m for m in remember(memory, healed, states, later)}
    assert set(after) == {"A", "B", "C", "D", "E"}
    assert after["A"] == Memory("A", states["A"], "missing", NOW)
    assert after["B"] == Memory("B", states["B"], "missing", later, "missing", later)
    assert after["C"] == Memory("C", states["C"], None, None, "moved_by_hand", NOW)
    # a finding that goes away is forgotten unless the row was restored
    clean = remember(after, [], states, later)
    assert {m.id_heure for m in clean} == {"A", "B", "D", "E"}  # C was only reported
    assert all(m.reported_kind is None for m in clean)


def test_the_report_counts_and_lines() -> None:
    slot = M("A", K(8))
    decision = decide([slot, M("B", K(9))], [slot.key, K(9)], [R(K(9)), R(K(9))], {},
                      identity_key)  # fmt: skip
    report = DriftReport("r1", checked=decision.checked)
    report.findings = [replace(f, restored=f.heal) for f in decision.findings]
    assert report.counts() == {
        "checked": 2,
        "restored": 1,
        "reported": 1,
        "new": 2,
        "restored_kinds": {"missing": 1},
        "reported_kinds": {"duplicated": 1},
        "new_kinds": {"missing": 1, "duplicated": 1},
    }
    assert report.summary_line() == (
        "SuiviMO drift: checked 2; restored 1 (missing 1); reported 1 (duplicated 1); 2 new"
    )
    assert report.kind_lines()[0] == "restored missing 1 (1 new): rows deleted by hand"
    assert report.kind_lines()[1].startswith("reported duplicated 1 (1 new): keys holding")
    assert DriftReport("r2", checked=5).summary_line() == "SuiviMO drift: checked 5, none found"
