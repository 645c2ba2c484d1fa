"""The one run summary of CONTRACT.md, as text and as JSON. Pure: no I/O here.

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
from batisync.transform.build import TransformReport

SUIVIMO_COUNTS = ("inserted", "updated", "moved", "unchanged", "retracted", "rejected")
WORDS = {
    "success": "OK",
    "failed": "FAILED",
    "interrupted": "INTERRUPTED",
    "drift": "DRIFT FOUND",
    "busy": "BUSY",
    "config_error": "CONFIG ERROR",
}


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


# -- rendering -------------------------------------------------------------------------


def _seconds(value: float) -> str:
    if value < 60:
        return f"{value:.1f} s"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes} min {seconds:02d} s"


def _pairs(counts: dict[str, int], keys: tuple[str, ...] | None = None) -> str:
    keys = keys or tuple(k for k in counts if k != "total")
    return ", ".join(f"{k} {counts.get(k, 0)}" for k in keys)


def _stage_line(stage: StageResult) -> str:
    report = stage.report
    if stage.status == "skipped":
        return f"skipped: {stage.note}" if stage.note else "not run (an earlier stage failed)"
    if stage.status == "failed":  # a long cause (a DBA's script) is printed once, below
        first, *more = (stage.error or "").splitlines() or [""]
        return f"FAILED: {first}" + (" (in full below)" if more else "")
    if isinstance(report, LoadReport):
        fetched, changed = report.fetched(), report.changed()
        confirmed = changed.get("confirmed", 0)
        return (
            f"fetched {fetched['total']} ({_pairs(fetched)}); changed in staging "
            f"{changed['total']} ({_pairs(changed, ('new', 'changed', 'deleted'))}); "
            f"quarantined {changed['quarantined']}"
            + (f"; deletions confirmed {confirmed}" if confirmed else "")
        )
    if isinstance(report, TransformReport):
        warned = len(report.warnings)
        return f"{report.command}: {report.passed} nodes passed" + (
            f", {warned} warning(s)" if warned else ""
        )
    if isinstance(report, ExportReport):
        return "SuiviMO " + report.counts_text()
    if hasattr(report, "summary_line"):
        return str(report.summary_line())
    return "done"


def render_text(summary: RunSummary) -> str:
    """The human summary: a headline, one line per stage, the SuiviMO counts."""
    head = (
        f"batisync {summary.command} {summary.run_id}: {WORDS[summary.status]} "
        f"(exit {summary.exit_code}) in {_seconds(summary.duration_s)}"
        + (" [dry run]" if summary.dry_run else "")
    )
    lines = [head]
    if summary.status in {"busy", "config_error"} and not summary.stages:
        lines.append(f"  {summary.error}")
        lines.append("  nothing was done")
        return "\n".join(lines)
    for stage in summary.stages:
        lines.append(f"  {stage.name:<9} {_seconds(stage.duration_s):>10}  {_stage_line(stage)}")
    if (export := summary.export_report()) is not None:
        lines += _export_lines(export)
    if (drift := summary.drift_report()) is not None:
        lines += _drift_lines(drift)
    if summary.status in {"failed", "interrupted"}:
        lines.append(f"{summary.status} at stage {summary.failed_stage}: {summary.error}")
        lines.append("  what was committed is consistent; the next run picks up from there")
    elif summary.status == "config_error":
        lines.append(f"stopped at stage {summary.failed_stage}: {summary.error}")
        lines.append("  nothing was written to Batigest; fix this, then run again")
    if summary.alert is not None:
        lines.append(f"alert: {summary.alert.get('outcome')}")
    return "\n".join(lines)


def _reasons(counts: dict[str, int]) -> str:
    return ", ".join(f"{reason} {n}" for reason, n in sorted(counts.items()))


def _export_lines(export: ExportReport) -> list[str]:
    """The SuiviMO line (the export's own, word for word), the rejections new and old,
    and for a dry run every row it would have written."""
    counts = export.suivimo_counts()
    mode = " (dry run, nothing written)" if export.dry_run else ""
    lines = [f"SuiviMO{mode}: {export.counts_text()}"]
    if counts["rejected_reasons"]:
        lines.append(
            f"  rejected (not pushed, retried next run): {_reasons(counts['rejected_reasons'])}"
        )
        new = counts["rejected_new"]
        old = counts["rejected"] - new
        detail = f" ({_reasons(counts['rejected_new_reasons'])})" if new else ""
        lines.append(
            f"  new since the last run: {new}{detail}; already reported: {old}"
            + ("; list: batisync rejected" if new else "")
        )
    if export.dry_run:
        planned = export.planned_writes()
        lines.append(f"  would write {len(planned)} row(s):" if planned else "  nothing to write")
        lines += [f"    {plan.describe()}" for plan in planned]
    return lines


def _drift_lines(drift: DriftReport) -> list[str]:
    """The drift stage's line, then one per kind found (restored or reported)."""
    return [drift.summary_line(), *(f"  {line}" for line in drift.kind_lines())]


def render_json(summary: RunSummary) -> str:
    return json.dumps(summary.to_dict(), indent=2, sort_keys=False, default=str)


def _jsonable(value: Any) -> Any:
    """Round-trip through json so a report with datetimes or tuples is plain data."""
    return json.loads(json.dumps(value, default=str))


__all__ = [
    "EXIT_CODES",
    "RunSummary",
    "StageReport",
    "StageResult",
    "render_json",
    "render_text",
]
