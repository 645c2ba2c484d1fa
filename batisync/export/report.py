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
    # slots dbt held back (heures_rejected), by reason: disjoint from `rejected`, since a
    # slot in heures_rejected never reaches to_push; set by the sync after the export
    rejected_by_dbt: dict[str, int] = field(default_factory=dict)

    def add(self, plans: Iterable[RowPlan]) -> None:
        for plan in plans:
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

    def suivimo_counts(self) -> dict[str, Any]:
        """What the run summary shows: rows per action in SuiviMO, and the rejections."""
        return {
            "inserted": self.inserted,
            "updated": self.updated,
            "moved": self.moved,
            "unchanged": self.unchanged,
            "retracted": self.retracted,
            "rejected": self.rejected_total(),
            "rejected_reasons": self.rejected_reasons(),
        }

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data; the per-row rejections are in `rejected_rows()`."""
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            **self.suivimo_counts(),
            "rejected_by_export": len(self.rejected),
            "rejected_by_dbt": dict(self.rejected_by_dbt),
            "adopted": self.adopted,
            "batches": self.batches,
            "warnings": list(self.warnings),
        }

    def rejected_rows(self) -> list[dict[str, str]]:
        return [{"id_heure": i, "reason": r} for i, r in self.rejected]

    def counts_text(self) -> str:
        """`inserted N, updated N, moved N, unchanged N, retracted N, rejected N`."""
        counts = ", ".join(
            f"{name} {getattr(self, name)}"
            for name in ("inserted", "updated", "moved", "unchanged", "retracted")
        )
        return f"{counts}, rejected {self.rejected_total()}"

    def summary_line(self) -> str:
        mode = " (dry run, nothing written)" if self.dry_run else ""
        return f"SuiviMO{mode}: {self.counts_text()}"
