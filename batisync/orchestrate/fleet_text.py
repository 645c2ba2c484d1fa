"""The one table `batisync sync --all` prints: a line per dossier (status, rows written to
SuiviMO, rejected, whether the run skipped its transform and export because nothing
changed, duration), then why each dossier that did not succeed did not. Pure."""

from __future__ import annotations

from typing import Any

from batisync.orchestrate.fleet import DossierRun, FleetResult
from batisync.orchestrate.summary_text import WORDS

WRITES = ("inserted", "updated", "moved", "retracted")
HEADERS = ("dossier", "status", "written", "rejected", "skipped", "duration")
EXIT_WORDS = {0: "OK", 1: "FAILED", 2: "CONFIG ERROR", 75: "LOCKED"}


def _written(summary: dict[str, Any] | None) -> str:
    counts = (summary or {}).get("suivimo") or {}
    if not counts:  # the export did not run: nothing written when nothing had changed
        return "0" if (summary or {}).get("skipped_because") else "-"
    return str(sum(int(counts.get(k) or 0) for k in WRITES))


def _rejected(summary: dict[str, Any] | None) -> str:
    counts = (summary or {}).get("suivimo") or {}
    return str(counts.get("rejected", 0)) if counts else "-"


def _skipped(summary: dict[str, Any] | None) -> str:
    return "yes" if (summary or {}).get("skipped_because") else "-"


def row(run: DossierRun) -> tuple[str, ...]:
    duration = f"{run.duration_s:.1f} s" if run.started and run.duration_s else "-"
    return (
        run.dossier,
        run.status,
        _written(run.summary),
        _rejected(run.summary),
        _skipped(run.summary),
        duration,
    )


def _why(run: DossierRun) -> str | None:
    if run.status == "success":
        return None
    summary = run.summary or {}
    where = f" at stage {summary['failed_stage']}" if summary.get("failed_stage") else ""
    return f"{run.dossier}: {run.status}{where}: {run.error or 'see its log lines above'}"


def render_fleet(result: FleetResult) -> str:
    runs = result.runs
    head = (
        f"batisync sync --all: {len(runs)} dossier(s), {result.jobs} at a time: "
        f"{EXIT_WORDS.get(result.exit_status, WORDS['failed'])} (exit {result.exit_status}) "
        f"in {result.duration_s:.1f} s"
    )
    if result.interrupted_by:
        head += f" [interrupted by {result.interrupted_by}]"
    rows = [HEADERS, *(row(run) for run in runs)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADERS))]
    lines = [head]
    for each in rows:
        cells = [
            cell.ljust(width) if i < 2 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(each, widths, strict=True))
        ]
        lines.append("  " + "  ".join(cells).rstrip())
    lines += [f"  {why}" for run in runs if (why := _why(run))]
    return "\n".join(lines)


__all__ = ["render_fleet", "row"]
