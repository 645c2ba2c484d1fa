"""What an export run did, in the shape the run summary reads (batisync.orchestrate.summary)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from batisync.export.plan import Action, RowPlan

COUNTED = {
    Action.INSERT: "inserted",
    Action.UPDATE: "updated",
    Action.MOVE: "moved",
    Action.UNCHANGED: "unchanged",
    Action.RETRACT: "retracted",
}

WRITES = ("inserted", "updated", "moved", "retracted")
WRITE_ACTIONS = (Action.INSERT, Action.UPDATE, Action.MOVE, Action.RETRACT)
VERBS = {"inserted": "insert", "updated": "update", "moved": "move", "retracted": "retract"}


@dataclass
class ExportReport:
    run_id: str
    dry_run: bool = False
    inserted: int = 0
    updated: int = 0
    moved: int = 0
    unchanged: int = 0
    retracted: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (id_heure, reason)
    adopted: int = 0  # map rows of gone slots dropped because another slot took their row
    batches: int = 0
    warnings: list[str] = field(default_factory=list)
    plans: list[RowPlan] = field(default_factory=list)
    # False (a sync): `plans` keeps only what `planned_writes` reads (a dry run's
    # writes), so a first run's memory does not grow with its 100k unchanged/inserted rows
    keep_plans: bool = True
    # slots dbt held back (heures_rejected), by reason: disjoint from `rejected`, since a
    # slot in heures_rejected never reaches to_push; set by the sync after the export
    rejected_by_dbt: dict[str, int] = field(default_factory=dict)
    # of those, the ones not rejected in the previous run (heures_rejected.is_new)
    rejected_new_by_dbt: dict[str, int] = field(default_factory=dict)

    def add(self, plans: Iterable[RowPlan]) -> None:
        for plan in plans:
            if self.keep_plans or (self.dry_run and plan.action in WRITE_ACTIONS):
                self.plans.append(plan)
            if plan.action is Action.REJECT:
                self.rejected.append((plan.id_heure, plan.reason or "unknown"))
            else:
                name = COUNTED[plan.action]
                setattr(self, name, getattr(self, name) + 1)
                self.adopted += len(plan.adopts)

    def rejected_reasons(self) -> dict[str, int]:
        """Rejections by kind (the text before the first colon of each reason), the
        exporter's and dbt's together."""
        reasons = Counter(reason.split(":", 1)[0] for _, reason in self.rejected)
        reasons.update(self.rejected_by_dbt)
        return dict(sorted(reasons.items()))

    def rejected_total(self) -> int:
        return len(self.rejected) + sum(self.rejected_by_dbt.values())

    def planned(self) -> dict[str, int]:
        """Rows per write action, as planned (what a dry run would have written)."""
        return {name: getattr(self, name) for name in WRITES}

    def planned_writes(self) -> list[RowPlan]:
        """The plans that write (or would write) SuiviMO, in order."""
        return [p for p in self.plans if p.action in WRITE_ACTIONS]

    def suivimo_counts(self) -> dict[str, Any]:
        """What the run summary shows: rows per action in SuiviMO, and the rejections.
        A dry run wrote nothing: its write counts are 0, the plan is under `would`."""
        written = {name: 0 if self.dry_run else n for name, n in self.planned().items()}
        counts: dict[str, Any] = {
            "inserted": written["inserted"],
            "updated": written["updated"],
            "moved": written["moved"],
            "unchanged": self.unchanged,
            "retracted": written["retracted"],
            "rejected": self.rejected_total(),
            "rejected_reasons": self.rejected_reasons(),
            "rejected_new": sum(self.rejected_new_by_dbt.values()),
            "rejected_new_reasons": dict(sorted(self.rejected_new_by_dbt.items())),
        }
        if self.dry_run:
            counts["would"] = self.planned()
        return counts

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data; the per-row rejections are in `rejected_rows()`.
        A dry run lists the rows it would write (`planned_writes`)."""
        planned = {"planned_writes": [p.to_dict() for p in self.planned_writes()]}
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            **self.suivimo_counts(),
            "rejected_by_export": len(self.rejected),
            "rejected_by_dbt": dict(self.rejected_by_dbt),
            "adopted": self.adopted,
            "batches": self.batches,
            "warnings": list(self.warnings),
            **(planned if self.dry_run else {}),
        }

    def rejected_rows(self) -> list[dict[str, str]]:
        return [{"id_heure": i, "reason": r} for i, r in self.rejected]

    def counts_text(self) -> str:
        """`inserted N, updated N, moved N, unchanged N, retracted N, rejected N`; a dry
        run says `would insert N, update N, move N, retract N; unchanged N, rejected N`.
        The export's log line and the run summary both print this."""
        if self.dry_run:
            would = ", ".join(f"{verb} {getattr(self, name)}" for name, verb in VERBS.items())
            rest = f"unchanged {self.unchanged}, rejected {self.rejected_total()}"
            return f"would {would}; {rest}"
        counts = ", ".join(
            f"{name} {getattr(self, name)}"
            for name in ("inserted", "updated", "moved", "unchanged", "retracted")
        )
        return f"{counts}, rejected {self.rejected_total()}"

    def summary_line(self) -> str:
        mode = " (dry run, nothing written)" if self.dry_run else ""
        return f"SuiviMO{mode}: {self.counts_text()}"
