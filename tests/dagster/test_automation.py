"""The schedule and the folder sensor, evaluated on an ephemeral Dagster instance: the
schedule asks for one run per dossier partition, the sensor keeps the partitions in step
with `DOSSIERS_DIR`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

dg = pytest.importorskip("dagster", reason="the dagster extra is not installed: make setup")

from batisync_dagster.automation import dossiers_folder, every_dossier_schedule  # noqa: E402
from batisync_dagster.dossiers import DOSSIERS  # noqa: E402


def test_the_schedule_asks_for_every_dossier_once_per_tick() -> None:
    schedule = every_dossier_schedule(cron="0 6 * * *", timezone="Europe/Paris")
    with dg.instance_for_test() as instance:
        tick = datetime(2026, 5, 4, 4, 0, tzinfo=UTC)
        empty = schedule(dg.build_schedule_context(instance, scheduled_execution_time=tick))
        assert isinstance(empty, dg.SkipReason)
        instance.add_dynamic_partitions(DOSSIERS.name, ["acme", "btp"])
        requests = schedule(dg.build_schedule_context(instance, scheduled_execution_time=tick))
    assert [r.partition_key for r in requests] == ["acme", "btp"]
    assert len({r.run_key for r in requests}) == 2  # a tick never asks twice for one dossier
    assert schedule.cron_schedule == "0 6 * * *"


def test_the_sensor_follows_the_dossiers_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOSSIERS_DIR", str(tmp_path))
    (tmp_path / "acme").mkdir()
    (tmp_path / "btp").mkdir()
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(DOSSIERS.name, ["gone"])
        result = dossiers_folder(dg.build_sensor_context(instance))
        requests = result.dynamic_partitions_requests
        added = [
            r.partition_keys for r in requests if isinstance(r, dg.AddDynamicPartitionsRequest)
        ]
        removed = [
            r.partition_keys for r in requests if isinstance(r, dg.DeleteDynamicPartitionsRequest)
        ]
        assert added == [["acme", "btp"]] and removed == [["gone"]]
        instance.add_dynamic_partitions(DOSSIERS.name, ["acme", "btp"])
        instance.delete_dynamic_partition(DOSSIERS.name, "gone")
        assert isinstance(dossiers_folder(dg.build_sensor_context(instance)), dg.SkipReason)
