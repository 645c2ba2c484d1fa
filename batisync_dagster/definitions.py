"""The code location: `dagster dev -m batisync_dagster.definitions` (`make dagster`)."""

from __future__ import annotations

import os

import dagster as dg

from batisync_dagster.alerting import failure_alert
from batisync_dagster.asset import BatisyncCli, build_sync_asset
from batisync_dagster.automation import dossiers_folder, every_dossier_schedule, sync_job
from batisync_dagster.dbt_tests import data_tests
from batisync_dagster.instance import check_pg_url


def build_definitions(timeout_s: float | None = None) -> dg.Definitions:
    check_pg_url(os.environ)  # a wrong driver loses run events: the location does not load
    timeout = timeout_s or float(os.environ.get("BATISYNC_DAGSTER_TIMEOUT_S") or 3600)
    return dg.Definitions(
        assets=[build_sync_asset(data_tests())],
        jobs=[sync_job],
        schedules=[every_dossier_schedule()],
        sensors=[dossiers_folder, failure_alert],
        resources={"batisync": BatisyncCli(timeout_s=timeout)},
        # one step per run, the sync in a process of its own already: no step process
        executor=dg.in_process_executor,
    )


defs = build_definitions()
