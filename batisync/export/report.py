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
        """Rejections by kind: the text before the first colon of each reason."""
        return dict(Counter(reason.split(":", 1)[0] for _, reason in self.rejected))

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "inserted": self.inserted,
            "updated": self.updated,
            "moved": self.moved,
            "unchanged": self.unchanged,
            "retracted": self.retracted,
            "rejected": len(self.rejected),
            "rejected_reasons": self.rejected_reasons(),
            "rejected_rows": [{"id_heure": i, "reason": r} for i, r in self.rejected],
            "adopted": self.adopted,
            "batches": self.batches,
            "warnings": list(self.warnings),
        }

    def counts_text(self) -> str:
        """`inserted N, updated N, moved N, unchanged N, retracted N, rejected N`."""
        counts = ", ".join(
            f"{name} {getattr(self, name)}"
            for name in ("inserted", "updated", "moved", "unchanged", "retracted")
        )
        return f"{counts}, rejected {len(self.rejected)}"

    def summary_line(self) -> str:
        mode = " (dry run, nothing written)" if self.dry_run else ""
        return f"SuiviMO{mode}: {self.counts_text()}"
