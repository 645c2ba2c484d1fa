"""What the drift stage found and did, in the shape the run summary, `sync_runs` and the
alert read (batisync.orchestrate)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from batisync.export.drift import KINDS, MEANING, DriftFinding, SuiviRow
from batisync.export.model import Key, Values


@dataclass
class DriftReport:
    run_id: str
    policy: str = "repair"  # HEURES_ON_DRIFT
    dry_run: bool = False
    checked: int = 0  # slots of heures_synced compared with SuiviMO
    findings: list[DriftFinding] = field(default_factory=list)
    note: str | None = None  # why nothing was checked

    @property
    def restored(self) -> list[DriftFinding]:
        return [f for f in self.findings if f.restored]

    @property
    def reported(self) -> list[DriftFinding]:
        return [f for f in self.findings if not f.restored]

    @property
    def new(self) -> list[DriftFinding]:
        return [f for f in self.findings if f.new]

    def counts(self) -> dict[str, Any]:
        """Restored and reported rows, by kind (what `sync_runs` and the alert read)."""
        return {
            "checked": self.checked,
            "restored": len(self.restored),
            "reported": len(self.reported),
            "new": len(self.new),
            "restored_kinds": _by_kind(self.restored),
            "reported_kinds": _by_kind(self.reported),
            "new_kinds": _by_kind(self.new),
        }

    def summary_line(self) -> str:
        """`SuiviMO drift: checked N; restored N (…); reported N (…); N new`."""
        if self.note:
            return f"SuiviMO drift: not checked ({self.note})"
        if not self.findings:
            return f"SuiviMO drift: checked {self.checked}, none found"
        counts = self.counts()
        parts = [f"SuiviMO drift: checked {self.checked}"]
        for name in ("restored", "reported"):
            if counts[name]:
                parts.append(f"{name} {counts[name]} ({_pairs(counts[f'{name}_kinds'])})")
        return "; ".join(parts) + f"; {counts['new']} new"

    def kind_lines(self) -> list[str]:
        """One line per kind found: how many, restored or reported, and what it means."""
        lines = []
        for outcome, found in (("restored", self.restored), ("reported", self.reported)):
            for kind, n in _by_kind(found).items():
                new = sum(f.new for f in found if f.kind == kind)
                lines.append(f"{outcome} {kind} {n} ({new} new): {MEANING[kind]}")
        if self.reported and self.policy == "report":
            lines.append("HEURES_ON_DRIFT=report: the sync only reports drift")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "policy": self.policy,
            "dry_run": self.dry_run,
            "note": self.note,
            **self.counts(),
            "findings": [_finding(f) for f in self.findings],
        }


def _by_kind(findings: list[DriftFinding]) -> dict[str, int]:
    counted = Counter(f.kind for f in findings)
    return {k: counted[k] for k in KINDS if counted[k]}


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {n}" for k, n in counts.items())


def _key(key: Key) -> dict[str, str]:
    return {"CodeChantier": key[0], "CodeSalarie": key[1], "Date": f"{key[2]:%Y-%m-%d %H:%M:%S}"}


def _values(v: Values) -> dict[str, Any]:
    return {"NbH0": None if v.nb_h0 is None else str(v.nb_h0), "NbH3": v.nb_h3, "NbH4": v.nb_h4}


def _row(r: SuiviRow) -> dict[str, Any]:
    return {**_key(r.key), **_values(r.values)}


def _finding(f: DriftFinding) -> dict[str, Any]:
    return {
        "id_heure": f.id_heure,
        "kind": f.kind,
        "key": _key(f.key),
        "expected": _values(f.expected),
        "found": [_row(r) for r in f.found],
        "restored": f.restored,
        "why": f.why or None,
        "new": f.new,
    }


__all__ = ["DriftReport"]
