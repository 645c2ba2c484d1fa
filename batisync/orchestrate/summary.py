"""The one run summary of CONTRACT.md, as text and as JSON. Pure: no I/O here.

A summary is built from what each stage reported (plain dicts, the stages' own
`to_dict()`), so it never depends on a stage's classes and never holds a secret:
stage errors are passed through `redact` before they land here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from batisync.core.errors import EXIT_CODES

SUIVIMO_COUNTS = ("inserted", "updated", "moved", "unchanged", "retracted", "rejected")


@dataclass
class StageResult:
    name: str
    status: str  # ok | failed | skipped
    duration_s: float = 0.0
    report: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "duration_s": round(self.duration_s, 3),
            "report": _jsonable(self.report),
            "error": self.error,
        }


@dataclass
class RunSummary:
    run_id: str
    status: str  # success | failed | busy | config_error
    started_at: datetime
    finished_at: datetime
    stages: list[StageResult] = field(default_factory=list)
    error: str | None = None  # for failed/busy/config_error: the cause, secrets removed
    dry_run: bool = False

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

    def to_dict(self) -> dict[str, Any]:
        load = self.stage("load")
        export = self.stage("export")
        return {
            "run_id": self.run_id,
            "status": self.status,
            "exit_code": self.exit_code,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "duration_s": round(self.duration_s, 3),
            "dry_run": self.dry_run,
            "failed_stage": self.failed_stage,
            "error": self.error,
            "fetched": load_fetched(load.report) if load else {},
            "staging_changed": staging_changed(load.report) if load else {},
            "suivimo": suivimo_counts(export.report) if export else {},
            "stage_durations_s": {s.name: round(s.duration_s, 3) for s in self.stages},
            "stages": [s.to_dict() for s in self.stages],
        }


# -- reading the stage reports -----------------------------------------------------


def _resources(report: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Per-resource counts of a loader report: `{"resources": {name: {...}}}` or flat."""
    resources = report.get("resources", report)
    if not isinstance(resources, Mapping):
        return {}
    return {name: counts for name, counts in resources.items() if isinstance(counts, Mapping)}


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def load_fetched(report: Mapping[str, Any]) -> dict[str, int]:
    """Rows fetched per resource, plus `total`."""
    fetched = {name: _int(c.get("fetched")) for name, c in _resources(report).items()}
    return {**fetched, "total": sum(fetched.values())}


def staging_changed(report: Mapping[str, Any]) -> dict[str, int]:
    """Rows that changed in staging: new + changed + deleted, and quarantined apart."""
    totals = dict.fromkeys(("new", "changed", "deleted", "quarantined"), 0)
    for counts in _resources(report).values():
        for key in totals:
            totals[key] += _int(counts.get(key))
    totals["total"] = totals["new"] + totals["changed"] + totals["deleted"]
    return totals


def suivimo_counts(report: Mapping[str, Any]) -> dict[str, Any]:
    """inserted/updated/moved/unchanged/retracted/rejected, and the rejected reasons."""
    counts: dict[str, Any] = {}
    for key in SUIVIMO_COUNTS:
        value = report.get(key)
        # `rejected` may come as {reason: n} or as a count with `rejected_reasons` apart
        counts[key] = (
            sum(_int(v) for v in value.values()) if isinstance(value, Mapping) else (_int(value))
        )
    reasons = report.get("rejected_reasons")
    if reasons is None and isinstance(report.get("rejected"), Mapping):
        reasons = report["rejected"]
    counts["rejected_reasons"] = (
        {str(k): _int(v) for k, v in reasons.items()} if isinstance(reasons, Mapping) else {}
    )
    return counts


# -- rendering -------------------------------------------------------------------------


def _seconds(value: float) -> str:
    if value < 60:
        return f"{value:.1f} s"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes} min {seconds:02d} s"


def _pairs(counts: Mapping[str, int], keys: tuple[str, ...] | None = None) -> str:
    keys = keys or tuple(k for k in counts if k != "total")
    return ", ".join(f"{k} {counts.get(k, 0)}" for k in keys)


def _stage_line(stage: StageResult) -> str:
    report = stage.report
    if stage.status == "skipped":
        return "not run (an earlier stage failed)"
    if stage.status == "failed":
        return f"FAILED: {stage.error}"
    if stage.name == "load":
        fetched, changed = load_fetched(report), staging_changed(report)
        return (
            f"fetched {fetched['total']} ({_pairs(fetched)}); changed in staging "
            f"{changed['total']} ({_pairs(changed, ('new', 'changed', 'deleted'))}); "
            f"quarantined {changed['quarantined']}"
        )
    if "command" in report:  # a dbt stage
        warned = len(report.get("warnings") or [])
        return f"{report['command']}: {report.get('passed', '?')} nodes passed" + (
            f", {warned} warning(s)" if warned else ""
        )
    if stage.name == "export":
        counts = suivimo_counts(report)
        return "SuiviMO " + ", ".join(f"{k} {counts[k]}" for k in SUIVIMO_COUNTS)
    return "done"


def render_text(summary: RunSummary) -> str:
    """The human summary: a headline, one line per stage, the SuiviMO counts."""
    word = {"success": "OK", "failed": "FAILED", "busy": "BUSY", "config_error": "CONFIG ERROR"}
    head = (
        f"batisync sync {summary.run_id}: {word[summary.status]} "
        f"(exit {summary.exit_code}) in {_seconds(summary.duration_s)}"
        + (" [dry run]" if summary.dry_run else "")
    )
    lines = [head]
    if summary.status in {"busy", "config_error"}:
        lines.append(f"  {summary.error}")
        lines.append("  nothing was done")
        return "\n".join(lines)
    for stage in summary.stages:
        lines.append(f"  {stage.name:<9} {_seconds(stage.duration_s):>10}  {_stage_line(stage)}")
    export = summary.stage("export")
    if export and export.status == "ok":
        counts = suivimo_counts(export.report)
        lines.append("SuiviMO: " + ", ".join(f"{k} {counts[k]}" for k in SUIVIMO_COUNTS))
        if counts["rejected_reasons"]:
            reasons = ", ".join(
                f"{reason} {n}" for reason, n in sorted(counts["rejected_reasons"].items())
            )
            lines.append(f"  rejected (not pushed, retried next run): {reasons}")
    if summary.status == "failed":
        lines.append(f"failed at stage {summary.failed_stage}: {summary.error}")
        lines.append("  what was committed is consistent; the next run picks up from there")
    return "\n".join(lines)


def render_json(summary: RunSummary) -> str:
    return json.dumps(summary.to_dict(), indent=2, sort_keys=False, default=str)


def _jsonable(value: Any) -> Any:
    """Round-trip through json so a report with datetimes or tuples is plain data."""
    return json.loads(json.dumps(value, default=str))


__all__ = [
    "EXIT_CODES",
    "RunSummary",
    "StageResult",
    "load_fetched",
    "render_json",
    "render_text",
    "staging_changed",
    "suivimo_counts",
]
