"""Failures Dagster sees that the sync could not report, through the sync's own webhook.

The sync alerts by itself (`ALERT_WEBHOOK_URL`, batisync.orchestrate.alerts): a failed or
interrupted run, new rejections, drift. A run can also fail where the sync never gets to
say it: its process killed, a timeout that ends in SIGKILL, a run worker gone, a dossier
misconfigured (the sync does not alert on exit 2). The `batisync_failure_alert` sensor
posts those, once per failed Dagster run (the sensor's cursor), and stays silent when the
step's failure says the sync already sent its alert (`alerted_by_sync`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import dagster as dg

from batisync.core.errors import ConfigError
from batisync.core.settings.dossiers import Dossier, dossier_settings, dossiers_dir
from batisync.core.settings.files import read_dotenv
from batisync.orchestrate.alerts import post_alert
from batisync_dagster.asset import SYNC_ASSET, SYNC_JOB
from batisync_dagster.results import ALERTED_KEY

WEBHOOK_VARIABLE = "ALERT_WEBHOOK_URL"
PARTITION_TAG = "dagster/partition"


def step_failures(events: Iterable[dg.DagsterEvent]) -> list[tuple[str, dict[str, Any]]]:
    """(description, metadata values) of each step failure a `dagster.Failure` raised."""
    found = []
    for event in events:
        data = event.step_failure_data
        user = data.user_failure_data if data is not None else None
        if user is None:  # an exception other than Failure: its error is the description
            error = data.error.message.strip() if data is not None and data.error else ""
            found.append((error, {}))
            continue
        values = {key: getattr(value, "value", value) for key, value in user.metadata.items()}
        found.append((user.description or "", values))
    return found


def needs_alert(failures: list[tuple[str, dict[str, Any]]]) -> bool:
    """Dagster alerts unless the sync itself already did (pure)."""
    return not any(metadata.get(ALERTED_KEY) for _, metadata in failures)


def alert_payload(
    run_id: str, dossier: str | None, failures: list[tuple[str, dict[str, Any]]], run_error: str
) -> dict[str, Any]:
    """The webhook's body: the sync summary's keys that apply (a failed run, its cause)
    plus where it came from, and `alert_reasons` as the sync's own alerts have them."""
    description = next((text for text, _ in failures if text), run_error or "the run failed")
    metadata = next((md for _, md in failures if md), {})
    return {
        "run_id": metadata.get("batisync_run_id"),
        "command": "sync",
        "dossier": dossier,
        "status": "failed",
        "exit_code": metadata.get("exit_status"),
        "failed_stage": metadata.get("failed_stage"),
        "error": description,
        "source": "dagster",
        "dagster_run_id": run_id,
        "alert_reasons": [f"run failed: {description}"],
    }


def webhook_url(dossier: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The dossier's own `ALERT_WEBHOOK_URL`, as its sync reads it; for a dossier whose
    settings do not load (exit 2): the environment's, then its `.env`, then the shared one."""
    env = os.environ if environ is None else environ
    folder = dossiers_dir(env)
    if dossier:
        try:
            settings = dossier_settings(Dossier(dossier, folder / dossier), env)
        except ConfigError:
            settings = None
        if settings is not None:
            url = settings.alert_webhook_url
            return url.reveal() if url else None
    candidates = [env.get(WEBHOOK_VARIABLE)]
    if dossier:
        candidates.append(read_dotenv(folder / dossier / ".env").get(WEBHOOK_VARIABLE))
    candidates.append(read_dotenv(folder / ".env").get(WEBHOOK_VARIABLE))
    return next((url.strip() for url in candidates if url and url.strip()), None)


def is_sync_run(run: dg.DagsterRun) -> bool:
    """A run of the sync job (the schedule's, scripts'), or one that materializes the
    asset from the UI (Dagster's implicit asset job: the selection says it)."""
    return run.job_name == SYNC_JOB or SYNC_ASSET in (run.asset_selection or ())


@dg.run_failure_sensor(
    name="batisync_failure_alert",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=10,
    description="Posts to ALERT_WEBHOOK_URL the failed syncs the sync itself could not "
    "report (killed, timed out, misconfigured), once per failed run.",
)
def failure_alert(context: dg.RunFailureSensorContext) -> None:
    run = context.dagster_run
    if not is_sync_run(run):
        return
    failures = step_failures(context.get_step_failure_events())
    if not needs_alert(failures):
        context.log.info("run %s: the sync sent its own alert", run.run_id)
        return
    dossier = run.tags.get(PARTITION_TAG)
    url = webhook_url(dossier)
    if not url:
        context.log.info("run %s failed; no ALERT_WEBHOOK_URL for %s", run.run_id, dossier)
        return
    run_error = context.failure_event.message or ""
    outcome = post_alert(url, alert_payload(run.run_id, dossier, failures, run_error))
    context.log.info("run %s of dossier %s failed: alert %s", run.run_id, dossier, outcome)


__all__ = [
    "alert_payload",
    "failure_alert",
    "is_sync_run",
    "needs_alert",
    "step_failures",
    "webhook_url",
]
