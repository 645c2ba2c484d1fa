"""When dossiers sync: a schedule that asks for every dossier, and the sensor that keeps
the dossier partitions in step with the folder.

The schedule's default is the README's cron line (every 30 minutes, 6:00-20:00, Monday
to Saturday, Europe/Paris); `BATISYNC_DAGSTER_CRON` and `BATISYNC_DAGSTER_TIMEZONE`
change it. How many run at once is the instance's business (dagster.yaml): one per
dossier, and a global limit.
"""

from __future__ import annotations

import os

import dagster as dg

from batisync_dagster.asset import POOL, SYNC_ASSET, SYNC_JOB
from batisync_dagster.dossiers import DOSSIERS, partition_changes, scan
from batisync_dagster.instance import ensure_pool_limit

DEFAULT_CRON = "*/30 6-20 * * 1-6"
DEFAULT_TIMEZONE = "Europe/Paris"

sync_job = dg.define_asset_job(
    SYNC_JOB,
    selection=dg.AssetSelection.assets(SYNC_ASSET),
    partitions_def=DOSSIERS,
    description="One dossier's sync (its dbt tests' results as the asset's checks).",
)


@dg.sensor(
    name="batisync_dossiers_folder",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds a partition for each dossier folder that appears in DOSSIERS_DIR, "
    "deletes the partition of a folder that is gone (its run history stays).",
)
def dossiers_folder(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    # the sensor makes the partitions, so it runs before any run can be queued
    if ensure_pool_limit(context.instance, POOL):
        context.log.info("pool %s: the instance's default limit", POOL)
    folder = scan()
    if folder.invalid:
        context.log.warning("not dossiers (invalid names): %s", ", ".join(folder.invalid))
    changes = partition_changes(
        context.instance.get_dynamic_partitions(DOSSIERS.name), folder.names
    )
    if not changes.add and not changes.delete:
        return dg.SkipReason(f"the {len(folder.names)} dossier partition(s) match the folder")
    context.log.info("dossiers added: %s; removed: %s", changes.add, changes.delete)
    return dg.SensorResult(dynamic_partitions_requests=changes.requests())


def every_dossier_schedule(
    cron: str | None = None, timezone: str | None = None
) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="batisync_every_dossier",
        job=sync_job,
        cron_schedule=cron or os.environ.get("BATISYNC_DAGSTER_CRON") or DEFAULT_CRON,
        execution_timezone=timezone
        or os.environ.get("BATISYNC_DAGSTER_TIMEZONE")
        or DEFAULT_TIMEZONE,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="A sync of every dossier; the run queue runs them a few at a time.",
    )
    def batisync_every_dossier(
        context: dg.ScheduleEvaluationContext,
    ) -> list[dg.RunRequest] | dg.SkipReason:
        ensure_pool_limit(context.instance, POOL)  # before this tick's runs are queued
        names = context.instance.get_dynamic_partitions(DOSSIERS.name)
        if not names:
            return dg.SkipReason("no dossier partition yet (DOSSIERS_DIR is empty)")
        tick = (
            context.scheduled_execution_time.isoformat() if context.scheduled_execution_time else ""
        )
        return [dg.RunRequest(run_key=f"{name}@{tick}", partition_key=name) for name in names]

    return batisync_every_dossier


__all__ = ["DEFAULT_CRON", "dossiers_folder", "every_dossier_schedule", "sync_job"]
