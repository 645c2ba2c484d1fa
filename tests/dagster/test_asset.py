"""The dossier-partitioned asset, materialized in-process (`dagster.materialize` on an
ephemeral instance): each partition runs the real `batisync sync --dossier NAME --json`
on its own fake API, staging database and Batigest stand-in."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

dg = pytest.importorskip("dagster", reason="the dagster extra is not installed: make setup")

from batisync.orchestrate.lock import sync_lock  # noqa: E402
from batisync_dagster.asset import SKIPPED_TAG, SYNC_ASSET, BatisyncCli, build_sync_asset  # noqa: E402
from batisync_dagster.dossiers import DOSSIERS  # noqa: E402
from devstack.dagster_demo import WINDOW_DAYS, DemoDossier  # noqa: E402
from devstack.verify import healthy_slots, suivimo_rows, verdict  # noqa: E402
from tests.orchestrate.helpers import conninfo_of  # noqa: E402

pytestmark = pytest.mark.slow


def materialize(
    asset: dg.AssetsDefinition,
    instance: dg.DagsterInstance,
    dossier: str,
    cli: BatisyncCli | None = None,
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [asset],
        instance=instance,
        partition_key=dossier,
        resources={"batisync": cli or BatisyncCli(timeout_s=600)},
        raise_on_error=False,
    )


def metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    (event,) = result.get_asset_materialization_events()
    return {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}


def instance_with(dossiers: Sequence[DemoDossier]) -> dg.DagsterInstance:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(DOSSIERS.name, [d.name for d in dossiers])
    return instance


def converged(dossier: DemoDossier) -> None:
    """Every healthy slot of the dossier's own dataset in its own SuiviMO once, nothing else."""
    today = datetime.now(UTC).date()
    expected = healthy_slots(dossier.dataset, today, WINDOW_DAYS)
    found = verdict(expected, dossier.batigest_url)
    assert found.converged, found
    assert len(suivimo_rows(dossier.batigest_url)) == len(expected) > 0


def test_two_dossiers_converge_with_their_counts_and_checks(
    fleet: list[DemoDossier], data_test_list: list
) -> None:
    alpha, beta = fleet
    asset = build_sync_asset(data_test_list)
    instance = instance_with([alpha, beta])

    for dossier in (alpha, beta):
        result = materialize(asset, instance, dossier.name)
        assert result.success
        counts = metadata(result)
        rows = suivimo_rows(dossier.batigest_url)
        assert (counts["dossier"], counts["status"], counts["exit_status"]) == (
            dossier.name, "success", 0,
        )  # fmt: skip
        assert counts["inserted"] == len(rows) > 0
        assert counts["fetched_time_slots"] == len(dossier.dataset.slots)
        assert counts["rejected"] > 0  # the dataset's employee without a Salarie
        assert "| unknown_salarie |" in counts["rejections"]
        converged(dossier)
        checks = result.get_asset_check_evaluations()
        assert len(checks) == len(data_test_list)  # every dbt data test, as run by the sync
        assert all(c.passed and c.partition == dossier.name for c in checks)
        assert {c.asset_key for c in checks} == {SYNC_ASSET}

    # a slot moves in alpha's BatiSimply: alpha's partition moves its row, beta is untouched
    beta_rows = sorted(suivimo_rows(beta.batigest_url))
    slot = next(s for s in alpha.dataset.validated_slots() if _pushable(alpha, s))
    alpha.dataset.move_slot(slot["id"], 60)
    again = materialize(asset, instance, alpha.name)
    assert again.success and metadata(again)["moved"] == 1
    converged(alpha)
    assert sorted(suivimo_rows(beta.batigest_url)) == beta_rows
    history = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=SYNC_ASSET, asset_partitions=[alpha.name]), limit=10
    )
    assert len(history.records) == 2


def test_a_locked_dossier_is_skipped_not_failed(
    fleet: list[DemoDossier], data_test_list: list
) -> None:
    dossier = fleet[0]
    asset = build_sync_asset(data_test_list)
    instance = instance_with([dossier])
    first = materialize(asset, instance, dossier.name)  # its database created and claimed
    assert first.success

    with sync_lock(conninfo_of(dossier.staging_url)):  # another sync of it, elsewhere
        result = materialize(asset, instance, dossier.name)

    assert result.success  # not a failure: nothing was done, the next run catches up
    assert result.get_asset_materialization_events() == []
    assert result.get_asset_check_evaluations() == []
    (observed,) = [e for e in result.all_events if e.event_type_value == "ASSET_OBSERVATION"]
    seen = observed.asset_observation_data.asset_observation
    assert seen.partition == dossier.name
    assert seen.metadata["exit_status"].value == 75
    assert "another sync holds the lock" in seen.metadata["skipped"].value
    run = instance.get_run_by_id(result.run_id)
    assert run is not None and run.tags[SKIPPED_TAG] == "locked"
    # the partition's last materialization is still the sync that happened
    records = instance.fetch_materializations(SYNC_ASSET, limit=10).records
    assert [r.run_id for r in records] == [first.run_id]


def _pushable(dossier: DemoDossier, slot: dict[str, Any]) -> bool:
    today = datetime.now(UTC).date()
    return str(slot["id"]) in healthy_slots(dossier.dataset, today, WINDOW_DAYS)
