"""What one dossier's sync process means to Dagster (pure: no I/O).

- exit 0: the asset partition is materialized, the summary's counts as its metadata,
  each dbt data test's result as its asset check;
- exit 75 (another sync holds the dossier's lock): skipped, not failed. No
  materialization (nothing was synced, so the partition's last materialization stays
  the last sync that happened), an observation that says why, a successful run;
- anything else (1, 2, a signal, a timeout, no summary): the step fails with the cause,
  after the checks of the tests that did run. Whether the sync sent its own alert rides
  along in the failure's metadata, so the failure sensor alerts only when it did not.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from batisync_dagster.dbt_tests import DataTest
from batisync_dagster.process import EXIT_BUSY, SyncProcess

SUIVIMO_COUNTS = ("inserted", "updated", "moved", "unchanged", "retracted", "rejected")
ALERTED_KEY = "alerted_by_sync"  # in a failure's metadata: the sync posted its own alert
# a dbt test's status -> (passed, severity); other statuses (skipped) report no result
_CHECK_OF_STATUS = {
    "pass": (True, dg.AssetCheckSeverity.ERROR),
    "fail": (False, dg.AssetCheckSeverity.ERROR),
    "error": (False, dg.AssetCheckSeverity.ERROR),
    "runtime error": (False, dg.AssetCheckSeverity.ERROR),
    "warn": (False, dg.AssetCheckSeverity.WARN),
}


@dataclass(frozen=True)
class Outcome:
    kind: str  # synced | skipped | failed
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)
    alerted_by_sync: bool = False


def outcome_of(proc: SyncProcess, timeout_s: float | None = None) -> Outcome:
    summary = proc.summary
    metadata = {"dossier": proc.dossier, **(summary_metadata(summary) if summary else {})}
    if proc.exit_status == 0 and summary is not None:
        return Outcome("synced", f"dossier {proc.dossier} synced", metadata)
    if proc.exit_status == EXIT_BUSY:
        why = (summary or {}).get("error") or "another sync holds the dossier's lock"
        metadata["skipped"] = f"locked: {why}"
        return Outcome("skipped", f"dossier {proc.dossier} skipped: {why}", metadata)
    alerted = bool(((summary or {}).get("alert") or {}).get("sent"))  # posted, answered
    metadata[ALERTED_KEY] = alerted
    if proc.stderr_tail:
        metadata["last_log_lines"] = dg.MetadataValue.md(
            "```\n" + "\n".join(proc.stderr_tail[-15:]) + "\n```"
        )
    return Outcome("failed", failure_text(proc, timeout_s), metadata, alerted)


def failure_text(proc: SyncProcess, timeout_s: float | None = None) -> str:
    """The cause of a failed run, in one line."""
    who = f"batisync sync --dossier {proc.dossier}"
    summary = proc.summary or {}
    if proc.timed_out:
        limit = f" {timeout_s:g} s" if timeout_s is not None else ""
        ended = (
            f"stopped by SIGTERM: {summary.get('error')}"
            if summary
            else f"killed by {proc.killed_by or 'SIGKILL'} without a summary"
        )
        return f"{who} ran past its timeout{limit}: {ended}"
    if proc.killed_by:
        return f"{who} was killed by {proc.killed_by} before it printed its summary"
    if summary:
        stage = f" at stage {summary['failed_stage']}" if summary.get("failed_stage") else ""
        status = summary.get("status", "failed")
        return f"{who}: {status} (exit {proc.returncode}){stage}: {summary.get('error')}"
    last = proc.stderr_tail[-1] if proc.stderr_tail else "nothing on stderr"
    return f"{who} exited {proc.returncode} without a summary: {last}"


def summary_metadata(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The run's counts, rejections, skip reason and stage times as Dagster metadata
    (numbers stay numbers: Dagster plots them per partition over time)."""
    md: dict[str, Any] = {
        "batisync_run_id": summary.get("run_id"),
        "status": summary.get("status"),
        "exit_status": summary.get("exit_code"),
        "duration_s": dg.MetadataValue.float(float(summary.get("duration_s") or 0.0)),
    }
    fetched = summary.get("fetched") or {}
    if fetched:
        md["fetched_time_slots"] = int(fetched.get("time_slots", 0))
        md["fetched"] = dg.MetadataValue.json(dict(fetched))
    if changed := summary.get("staging_changed"):
        md["staging_changed"] = dg.MetadataValue.json(dict(changed))
    suivimo = summary.get("suivimo") or {}
    for name in SUIVIMO_COUNTS:
        if name in suivimo:
            md[name] = int(suivimo[name])
    if suivimo:
        md["rejected_new"] = int(suivimo.get("rejected_new", 0))
        md["rejections"] = dg.MetadataValue.md(rejections_table(suivimo))
    if drift := summary.get("drift"):
        md["drift"] = dg.MetadataValue.json(dict(drift))
    if skipped := summary.get("skipped_because"):
        md["skipped_because"] = skipped
    if durations := summary.get("stage_durations_s"):
        md["stage_durations_s"] = dg.MetadataValue.json(dict(durations))
    if summary.get("failed_stage"):
        md["failed_stage"] = summary["failed_stage"]
    if summary.get("error"):
        md["error"] = summary["error"]
    if alert := summary.get("alert"):
        md["alert"] = str(alert.get("outcome"))
    return {key: value for key, value in md.items() if value is not None}


def rejections_table(suivimo: Mapping[str, Any]) -> str:
    """The slots not pushed, by reason, with how many are new since the last run."""
    reasons = suivimo.get("rejected_reasons") or {}
    if not reasons:
        return "No slot rejected."
    new = suivimo.get("rejected_new_reasons") or {}
    rows = [f"| {reason} | {count} | {new.get(reason, 0)} |" for reason, count in reasons.items()]
    return "\n".join(["| reason | slots | new since the last run |", "|---|---:|---:|", *rows])


def transform_tests(summary: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """Each data test's result of the run's `dbt build` (empty: the transform did not run,
    e.g. nothing changed since the last sync)."""
    stage = next((s for s in (summary or {}).get("stages", []) if s["name"] == "transform"), None)
    return list(((stage or {}).get("report") or {}).get("tests") or [])


def check_results(
    tests: Iterable[Mapping[str, Any]],
    asset_key: dg.AssetKey,
    declared: Collection[str],
    selected: Collection[str] | None = None,
) -> tuple[list[dg.AssetCheckResult], list[str]]:
    """One asset check result per data test the run ran (skipped tests: none), and the
    names of those no check is declared for (the dbt project changed since Dagster loaded
    it). `selected`: only those checks (a subset of the asset's checks was asked for)."""
    results, undeclared = [], []
    for test in tests:
        name, status = test["name"], str(test["status"]).lower()
        if status not in _CHECK_OF_STATUS:
            continue
        if name not in declared:
            undeclared.append(name)
            continue
        if selected is not None and name not in selected:
            continue
        passed, severity = _CHECK_OF_STATUS[status]
        metadata = {
            "dbt_status": status,
            "failing_rows": int(test.get("failures") or 0),
            "dbt_unique_id": test.get("unique_id") or name,
        }
        if test.get("message"):
            metadata["message"] = str(test["message"])
        results.append(
            dg.AssetCheckResult(
                asset_key=asset_key,
                check_name=name,
                passed=passed,
                severity=severity,
                metadata=metadata,
            )
        )
    return results, undeclared


def check_specs(
    tests: Iterable[DataTest],
    asset_key: dg.AssetKey,
    partitions_def: dg.PartitionsDefinition,
) -> list[dg.AssetCheckSpec]:
    """One check per dbt data test, partitioned like the asset (a result per dossier).
    Partitioned checks are a Dagster preview (1.13; docs/DAGSTER.md): its warning, once
    per check in every Dagster process's log, is silenced here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return [_check_spec(test, asset_key, partitions_def) for test in tests]


def _check_spec(
    test: DataTest, asset_key: dg.AssetKey, partitions_def: dg.PartitionsDefinition
) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        name=test.name,
        asset=asset_key,
        partitions_def=partitions_def,
        description=f"dbt data test on {test.model or 'the project'}, run by the sync's "
        "own dbt build (its result, never run again)",
        metadata={"dbt_unique_id": test.unique_id},
    )


__all__ = [
    "ALERTED_KEY",
    "Outcome",
    "check_results",
    "check_specs",
    "failure_text",
    "outcome_of",
    "rejections_table",
    "summary_metadata",
    "transform_tests",
]
