"""The one asset: each dossier's hours in its Batigest SuiviMO, partitioned by dossier.

Its body is the whole sync under the dossier's one lock (load, dbt build, export,
publish, drift), in a process of its own: `batisync sync --dossier NAME --json`. Not
stages split across ops: the lock, the stop-at-first-failure rule, the no-change skip and
the run history are the sync's, and stay true whoever starts it (Dagster, cron, a person).
"""

import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import dagster as dg

from batisync_dagster.dbt_tests import DataTest
from batisync_dagster.dossiers import DOSSIERS
from batisync_dagster.process import SyncProcess, run_sync_process, sync_command
from batisync_dagster.results import (
    check_results,
    check_specs,
    outcome_of,
    transform_tests,
)

SYNC_ASSET = dg.AssetKey(["batisync", "suivimo"])
POOL = "batisync"  # every dossier's sync: the instance's pool limit caps them together
SKIPPED_TAG = "batisync/skipped"  # on a run whose dossier was locked
SYNC_JOB = "batisync_sync_job"  # the schedule's job (automation.py)


class BatisyncCli(dg.ConfigurableResource):  # type: ignore[type-arg]
    """How a run starts a dossier's sync: this interpreter's `batisync`, with a timeout
    (SIGTERM, the sync's clean stop; SIGKILL `grace_s` later)."""

    timeout_s: float = 3600.0
    grace_s: float = 60.0
    python: str = sys.executable

    def run(self, dossier: str) -> SyncProcess:
        return run_sync_process(
            dossier,
            timeout_s=self.timeout_s,
            grace_s=self.grace_s,
            env=os.environ,
            command=sync_command(dossier, self.python),
        )


def build_sync_asset(tests: Sequence[DataTest]) -> dg.AssetsDefinition:
    """The asset, with one partitioned asset check per dbt data test of the sync."""
    declared = {test.name for test in tests}

    @dg.multi_asset(
        name="batisync_sync",
        specs=[
            dg.AssetSpec(
                SYNC_ASSET,
                skippable=True,  # a locked dossier is skipped: no materialization
                description="Each dossier's BatiSimply hours in its Batigest SuiviMO: one "
                "`batisync sync --dossier NAME` (load, dbt build, export, publish, drift) "
                "under the dossier's lock.",
                group_name="batisync",
                kinds={"dbt", "postgres", "python"},
            )
        ],
        partitions_def=DOSSIERS,
        check_specs=check_specs(tests, SYNC_ASSET, DOSSIERS),
        can_subset=True,  # a check whose dbt test did not run this time reports nothing
        pool=POOL,
    )
    def batisync_sync(context: dg.AssetExecutionContext, batisync: BatisyncCli) -> Iterator[Any]:
        dossier = context.partition_key
        if SYNC_ASSET not in context.selected_asset_keys:
            raise dg.Failure(
                "the checks report the dbt tests of a sync's own build: materialize the "
                f"dossier {dossier} (the tests are never run alone)"
            )
        context.log.info("sync of dossier %s: %s", dossier, " ".join(sync_command(dossier)))
        proc = batisync.run(dossier)
        outcome = outcome_of(proc, batisync.timeout_s)
        selected = {key.name for key in context.selected_asset_check_keys}
        results, undeclared = check_results(
            transform_tests(proc.summary), SYNC_ASSET, declared, selected
        )
        metadata = dict(outcome.metadata)
        if undeclared:  # the dbt project changed since this code location was loaded
            metadata["dbt_tests_without_a_check"] = dg.MetadataValue.json(undeclared)
        if outcome.kind == "synced":
            yield dg.MaterializeResult(asset_key=SYNC_ASSET, metadata=metadata)
            yield from results
            return
        if outcome.kind == "skipped":
            context.log.warning(outcome.description)
            context.instance.add_run_tags(context.run_id, {SKIPPED_TAG: "locked"})
            yield dg.AssetObservation(asset_key=SYNC_ASSET, partition=dossier, metadata=metadata)
            return
        yield from results  # the tests that ran before the failure (a failing one, often)
        raise dg.Failure(description=outcome.description, metadata=metadata)

    return batisync_sync


__all__ = ["POOL", "SKIPPED_TAG", "SYNC_ASSET", "SYNC_JOB", "BatisyncCli", "build_sync_asset"]
