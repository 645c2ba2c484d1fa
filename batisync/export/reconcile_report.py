"""What `reconcile` finds: each mapped row's finding (`classify`, pure: the drift
stage names its drift with it too) and the report `batisync reconcile` prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from batisync.export.model import Key, KeyNorm, Values, format_key
from batisync.export.plan import Resolved, RowPlan, State

KINDS = ("duplicated", "missing", "changed")


@dataclass(frozen=True)
class Finding:
    """One mapped slot whose SuiviMO row is not what the map says."""

    id_heure: str
    kind: str  # duplicated | missing | changed
    key: Key
    expected: Values
    found: tuple[Values, ...]
    repaired: bool = False
    statements: tuple[str, ...] = ()  # for a person to run (a duplicate we cannot resolve)

    @property
    def resolvable(self) -> bool:
        """`--repair` can fix it (for a duplicate: one of the rows holds our values)."""
        return self.kind != "duplicated" or any(v.matches(self.expected) for v in self.found)

    def describe(self) -> str:
        found = "; ".join(str(v) for v in self.found) or "no row"
        text = (
            f"{self.kind} {self.id_heure} at {format_key(self.key)}: "
            f"expected {self.expected}, found {found}"
        )
        if self.repaired:
            return f"{text} -> repaired"
        if self.resolvable:
            return f"{text} -> `batisync reconcile --repair` fixes it"
        lines = [f"{text} -> none of these rows holds the synced values: choose, then run"]
        return "\n".join([*lines, *(f"    {s};" for s in self.statements)])

    def to_dict(self) -> dict[str, Any]:
        return {
            "id_heure": self.id_heure,
            "kind": self.kind,
            "key": {
                "CodeChantier": self.key[0],
                "CodeSalarie": self.key[1],
                "Date": str(self.key[2]),
            },
            "expected": _values(self.expected),
            "found": [_values(v) for v in self.found],
            "repaired": self.repaired,
            "resolvable": self.resolvable,
            "statements": list(self.statements),
        }


def _values(v: Values) -> dict[str, Any]:
    return {"NbH0": None if v.nb_h0 is None else str(v.nb_h0), "NbH3": v.nb_h3, "NbH4": v.nb_h4}


@dataclass
class ReconcileReport:
    checked: int = 0
    ok: int = 0
    findings: list[Finding] = field(default_factory=list)
    unverifiable: list[str] = field(default_factory=list)  # seed-era map rows, no values
    plans: list[RowPlan] = field(default_factory=list)

    def ids(self, kind: str) -> list[str]:
        return [f.id_heure for f in self.findings if f.kind == kind]

    @property
    def missing(self) -> list[str]:
        return self.ids("missing")

    @property
    def changed(self) -> list[str]:
        return self.ids("changed")

    @property
    def duplicated(self) -> list[str]:
        return self.ids("duplicated")

    @property
    def repaired(self) -> int:
        return sum(f.repaired for f in self.findings)

    @property
    def drift(self) -> int:
        """Findings still standing after this run (what makes `reconcile` exit 1)."""
        return sum(not f.repaired for f in self.findings)

    def summary_line(self) -> str:
        counts = ", ".join(f"{len(self.ids(k))} {k}" for k in ("missing", "changed", "duplicated"))
        unverifiable = (
            f"; {len(self.unverifiable)} seed-era map row(s) without values not checked"
            if self.unverifiable
            else ""
        )
        return (
            f"reconcile: {self.checked} checked = {self.ok} ok + {counts}; "
            f"{self.repaired} repaired, {self.drift} left{unverifiable}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "ok": self.ok,
            "missing": self.missing,
            "changed": self.changed,
            "duplicated": self.duplicated,
            "unverifiable": list(self.unverifiable),
            "repaired": self.repaired,
            "drift": self.drift,
            "findings": [f.to_dict() for f in self.findings],
        }


def classify(r: Resolved, state: State, norm: KeyNorm) -> Finding | None:
    """The finding for one mapped row, None when SuiviMO holds exactly its values (pure)."""
    rows = state.at(norm(r.row.key))
    expected = r.row.values
    found = tuple(rows)
    if len(rows) > 1:
        kind = "duplicated"
    elif not rows:
        kind = "missing"
    elif not rows[0].matches(expected):
        kind = "changed"
    else:
        return None
    return Finding(r.row.id_heure, kind, r.row.key, expected, found)


__all__ = ["KINDS", "Finding", "ReconcileReport", "classify"]
