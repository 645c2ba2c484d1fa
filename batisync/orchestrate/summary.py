"""The one run summary of CONTRACT.md and its JSON. Pure: no I/O here (the text a person
reads is `summary_text.render_text`).

Each stage hands over its typed report (`LoadReport`, `TransformReport`, `ExportReport`);
the summary reads their counts through their own methods and never holds a secret:
stage errors are passed through `redact` before they land here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from batisync.core.errors import EXIT_CODES
from batisync.export.drift_report import DriftReport
from batisync.export.report import ExportReport
from batisync.loader.report import LoadReport


class StageReport(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


@dataclass
class StageResult:
    name: str
    status: str  # ok | failed | skipped
    duration_s: float = 0.0
    report: StageReport | None = None
    error: str | None = None
    config_error: bool = False  # failed on a setting or on what Batigest must be (exit 2)
    note: str | None = None  # why a stage was skipped when no earlier stage failed

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "duration_s": round(self.duration_s, 3),
            "report": _jsonable(self.report.to_dict()) if self.report is not None else {},
            "error": self.error,
            "note": self.note,
        }


@dataclass
class RunSummary:
    run_id: str
    status: str  # success | failed | interrupted | drift | busy | config_error
    started_at: datetime
    finished_at: datetime
    stages: list[StageResult] = field(default_factory=list)
    error: str | None = None  # for failed/busy/config_error: the cause, secrets removed
    dry_run: bool = False
    command: str = "sync"
    # what the alert webhook did with this run (set after the run, when one is configured)
    alert: dict[str, Any] | None = None
    # what the transform depended on besides the loaded rows (`nochange.run_inputs`): the
    # next run skips its transform and export when these and the rows are unchanged
    inputs: str | None = None
    # a complete run: the staging generation its transform read (or, when it skipped,
    # the one its load committed: the marts are what a transform of it would build)
    generation: int | None = None

    @property
    def skipped_because(self) -> str | None:
        """Why the stages after the load were skipped (nothing changed), or None."""
        return next((s.note for s in self.stages if s.status == "skipped" and s.note), None)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    @property
    def failed_stage(self) -> str | None:
        return next((s.name for s in self.stages if s.status == "failed"), None)

    def stage(self, name: str) -> StageResult | None:
        return next((s for s in self.stages if s.name == name), None)

    @property
    def duration_s(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    def load_report(self) -> LoadReport | None:
        stage = self.stage("load")
        return stage.report if stage and isinstance(stage.report, LoadReport) else None

    def export_report(self) -> ExportReport | None:
        """The export's report, only when the export ran to its end."""
        stage = self.stage("export")
        ok = stage is not None and stage.status == "ok"
        return stage.report if ok and isinstance(stage.report, ExportReport) else None

    def drift_report(self) -> DriftReport | None:
        """The drift stage's report, when it ran to its end."""
        stage = self.stage("drift")
        ok = stage is not None and stage.status == "ok"
        return stage.report if ok and isinstance(stage.report, DriftReport) else None

    def drift(self) -> dict[str, Any]:
        """Rows of SuiviMO restored and reported by the drift stage (empty: it did not run)."""
        report = self.drift_report()
        return report.counts() if report else {}

    def fetched(self) -> dict[str, int]:
        load = self.load_report()
        return load.fetched() if load else {}

    def staging_changed(self) -> dict[str, int]:
        load = self.load_report()
        return load.changed() if load else {}

    def suivimo(self) -> dict[str, Any]:
        export = self.export_report()
        return export.suivimo_counts() if export else {}

    def planned_writes(self) -> list[dict[str, Any]]:
        """A dry run's rows it would have written (key, old → new, values)."""
        export = self.export_report()
        if not self.dry_run or export is None:
            return []
        return [p.to_dict() for p in export.planned_writes()]

    def to_dict(self) -> dict[str, Any]:
        planned = {"planned_writes": self.planned_writes()} if self.dry_run else {}
        alert = {"alert": self.alert} if self.alert is not None else {}
        return {
            "run_id": self.run_id,
            "command": self.command,
            "status": self.status,
            "exit_code": self.exit_code,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "duration_s": round(self.duration_s, 3),
            "dry_run": self.dry_run,
            "failed_stage": self.failed_stage,
            "error": self.error,
            "fetched": self.fetched(),
            "staging_changed": self.staging_changed(),
            "suivimo": self.suivimo(),
            "drift": self.drift(),
            "skipped_because": self.skipped_because,
            "stage_durations_s": {s.name: round(s.duration_s, 3) for s in self.stages},
            "stages": [s.to_dict() for s in self.stages],
            **planned,
            **alert,
        }


def render_json(summary: RunSummary) -> str:
    return json.dumps(summary.to_dict(), indent=2, sort_keys=False, default=str)


def _jsonable(value: Any) -> Any:
    """Round-trip through json so a report with datetimes or tuples is plain data."""
    return json.loads(json.dumps(value, default=str))


__all__ = [
    "RunSummary",
    "StageReport",
    "StageResult",
    "render_json",
]
