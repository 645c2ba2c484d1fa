"""Drift between SuiviMO and the map, as the sync sees it after each run: pure decisions.

`decide` takes the slots whose row must be exactly what the map says (dbt's
`heures_synced`), every mapped key, the SuiviMO rows read around them and what earlier
runs remembered (`batigest_heures_drift`), and says, per slot, what is wrong and whether
the sync may heal it. Reconcile's `classify` names the drift (`missing`, `changed`,
`duplicated`); the sync then refines it so that it never works against a person:

- `missing`: the row is gone: insert it again (the seed's promise) unless
- `moved_by_hand`: an unmapped row of the same employee sits on the same day (someone
  moved the row by hand): nothing is inserted, the finding is reported;
- `changed`: NbH0/NbH3/NbH4 differ: set them back (no other column is touched);
- `duplicated`: the key holds several rows: reported, never collapsed by the sync;
- `contested`: a row the sync restored once is deleted or changed again the same way
  while its slot did not change upstream: reported and left alone until it does.
Under an accent-insensitive collation a missing row is reported, never inserted: the
comparison here cannot see an accented twin that SQL Server takes for the same key.

`remember` gives the next content of the memory table (pure as well).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from batisync.export.model import Key, KeyNorm, MapRow, PushRow, Values, format_key
from batisync.export.plan import Resolved, State
from batisync.export.reconcile_report import classify

KINDS = ("missing", "changed", "moved_by_hand", "duplicated", "contested")
HEALABLE = ("missing", "changed")
# one line per kind, for the log and the summary: what it is and what happens to it
MEANING = {
    "missing": "rows deleted by hand",
    "changed": "rows whose NbH0/NbH3/NbH4 were edited by hand",
    "moved_by_hand": (
        "rows missing at their key while an unmapped row of the same employee sits on that "
        "day (moved by hand?): nothing inserted; check them, `batisync reconcile` lists them"
    ),
    "duplicated": (
        "keys holding several rows: never collapsed by the sync; `batisync reconcile "
        "--repair` keeps one when a row holds the synced values"
    ),
    "contested": (
        "rows restored once and deleted or edited again: left alone until their slot "
        "changes upstream"
    ),
}


@dataclass(frozen=True, slots=True)
class SuiviRow:
    """One SuiviMO row as read (its own key, not normalised)."""

    key: Key
    values: Values


@dataclass(frozen=True)
class Memory:
    """One `batigest_heures_drift` row: what the sync did and said about a slot's row,
    for the slot's values hash (a change upstream makes it stale)."""

    id_heure: str
    values_hash: str
    restored_kind: str | None = None  # missing | changed: the sync restored it once
    restored_at: datetime | None = None
    reported_kind: str | None = None  # the finding the last run reported
    first_reported_at: datetime | None = None


@dataclass(frozen=True)
class DriftFinding:
    id_heure: str
    kind: str  # one of KINDS
    key: Key
    expected: Values
    found: tuple[SuiviRow, ...]  # at the key; for moved_by_hand the unmapped rows that day
    heal: bool  # the sync writes it (HEURES_ON_DRIFT=repair, not a dry run)
    why: str = ""  # why it is only reported
    new: bool = True  # not reported so by the previous run
    restored: bool = False  # written by this run

    def describe(self) -> str:
        found = "; ".join(f"{format_key(r.key)} {r.values}" for r in self.found) or "no row"
        where = "unmapped row(s) that day" if self.kind == "moved_by_hand" else "found"
        outcome = "restored" if self.restored else f"left as it is: {self.why}"
        new = "" if self.new else " (reported before)"
        return (
            f"drift {self.kind} {self.id_heure} at {format_key(self.key)}: expected "
            f"{self.expected}; {where} {found} -> {outcome}{new}"
        )


@dataclass(frozen=True)
class Decision:
    checked: int
    findings: tuple[DriftFinding, ...]

    @property
    def to_heal(self) -> list[DriftFinding]:
        return [f for f in self.findings if f.heal]


def state_of(m: MapRow) -> str:
    """What identifies the slot's pushed state: its values hash (every map row in scope
    has values; a row without a hash is named by its key and values)."""
    return m.values_hash or f"{format_key(m.key)} {m.values}"


def _day(norm: KeyNorm, key: Key) -> tuple[str, date]:
    n = norm(key)
    return (n[1], n[2].date())


def decide(
    scope: Sequence[MapRow],
    mapped_keys: Iterable[Key],
    rows: Iterable[SuiviRow],
    memory: Mapping[str, Memory],
    norm: KeyNorm,
    *,
    report_only: str = "",
    accent_insensitive: bool = False,
) -> Decision:
    """The findings for `scope` (see the module doc); with `report_only` (why: the
    setting, a dry run) nothing is to be healed, every finding is reported."""
    state, at_key, by_day = State(), defaultdict(list), defaultdict(list)
    for r in rows:
        state.rows.setdefault(norm(r.key), []).append(r.values)
        at_key[norm(r.key)].append(r)
        by_day[_day(norm, r.key)].append(r)
    mapped = {norm(k) for k in mapped_keys}
    findings = []
    for m in sorted(scope, key=lambda m: m.id_heure):
        drift = classify(Resolved(PushRow(m.id_heure, m.key, m.values), m.key), state, norm)
        if drift is None:
            continue
        kind, found = drift.kind, tuple(at_key[norm(m.key)])
        why = report_only
        remembered = memory.get(m.id_heure)
        if remembered is not None and remembered.values_hash != state_of(m):
            remembered = None  # the slot changed upstream since: start afresh
        if kind == "duplicated":
            why = "a key holding several rows is never collapsed by the sync"
        elif kind == "missing" and (
            moved := tuple(r for r in by_day[_day(norm, m.key)] if norm(r.key) not in mapped)
        ):
            kind, found = "moved_by_hand", moved
            why = "an unmapped row of the same employee that day: nothing inserted"
        elif remembered is not None and remembered.restored_kind == kind:
            kind = "contested"
            why = (
                f"restored once, then {'deleted' if drift.kind == 'missing' else 'edited'} "
                "again: left alone until its slot changes upstream"
            )
        elif kind == "missing" and accent_insensitive:
            why = "accent-insensitive collation: an accented twin may be this row, not inserted"
        new = remembered is None or remembered.reported_kind != kind
        findings.append(
            DriftFinding(
                m.id_heure,
                kind,
                m.key,
                m.values,
                found,
                heal=not why,
                why=why,
                new=new,
            )
        )
    return Decision(len(scope), tuple(findings))


def employee_code(norm: KeyNorm, code: str) -> str:
    """CodeSalarie as the target's collation compares it (`norm` folds codes only)."""
    return norm(("", code, datetime.min))[1]


def employee_groups(
    rows_by_code: Mapping[str, int], norm: KeyNorm, budget: int, max_codes: int
) -> list[list[str]]:
    """The map's employee codes in groups of about `budget` map rows (at most `max_codes`
    codes), which the drift stage checks one at a time. Every comparison of `decide`
    stays within one employee as `norm` sees them (a key, a day of that employee), so
    codes that `norm` takes for one employee always share a group: a group's findings
    are those a single pass over everything would give."""
    same: dict[str, list[str]] = defaultdict(list)
    for code in rows_by_code:
        same[employee_code(norm, code)].append(code)
    groups: list[list[str]] = []
    current: list[str] = []
    held = 0
    for name in sorted(same):
        codes = sorted(same[name])
        size = sum(rows_by_code[c] for c in codes)
        if current and (held + size > budget or len(current) + len(codes) > max_codes):
            groups.append(current)
            current, held = [], 0
        current += codes
        held += size
    if current:
        groups.append(current)
    return groups


def remember(
    memory: Mapping[str, Memory],
    findings: Iterable[DriftFinding],
    states: Mapping[str, str],
    now: datetime,
) -> list[Memory]:
    """The memory after this run: restores are kept while the slot's state (`states`:
    id → `state_of` of every map row) is unchanged; the last findings replace the
    previous ones; a slot no longer mapped, or changed upstream, is forgotten."""
    found = {f.id_heure: f for f in findings}
    out = []
    for id_heure in sorted(set(memory) | set(found)):
        current = states.get(id_heure)
        if current is None:
            continue
        before = memory.get(id_heure)
        if before is not None and before.values_hash != current:
            before = None
        f = found.get(id_heure)
        restored_kind = before.restored_kind if before else None
        restored_at = before.restored_at if before else None
        if f is not None and f.restored:
            restored_kind, restored_at = f.kind, now
        reported = f.kind if f is not None else None
        if before is not None and before.reported_kind == reported:
            first = before.first_reported_at
        else:
            first = now if reported else None
        if restored_kind or reported:
            out.append(Memory(id_heure, current, restored_kind, restored_at, reported, first))
    return out


__all__ = [
    "HEALABLE",
    "KINDS",
    "MEANING",
    "Decision",
    "DriftFinding",
    "Memory",
    "SuiviRow",
    "decide",
    "employee_code",
    "employee_groups",
    "remember",
    "state_of",
]
