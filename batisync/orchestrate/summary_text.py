"""The run summary as a person (or cron's mail) reads it: a headline, one line per stage,
the SuiviMO counts and rejections, the drift stage's findings. Pure: no I/O here.
"""

from __future__ import annotations

from batisync.export.drift_report import DriftReport
from batisync.export.report import ExportReport
from batisync.loader.report import LoadReport
from batisync.orchestrate.summary import RunSummary, StageResult
from batisync.transform.build import TransformReport

WORDS = {
    "success": "OK",
    "failed": "FAILED",
    "interrupted": "INTERRUPTED",
    "drift": "DRIFT FOUND",
    "busy": "BUSY",
    "config_error": "CONFIG ERROR",
}


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


__all__ = ["render_text"]
