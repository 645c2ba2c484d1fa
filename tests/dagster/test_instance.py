"""What the code location asks of its Dagster instance (batisync_dagster/instance.py): a
storage URL naming psycopg2, refused otherwise without showing the password; the syncs'
pool given the instance's default limit by the sensor and the schedule, before any run
of it is queued (on an ephemeral instance)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

dg = pytest.importorskip("dagster", reason="the dagster extra is not installed: make setup")

from batisync_dagster.asset import POOL  # noqa: E402
from batisync_dagster.automation import dossiers_folder, every_dossier_schedule  # noqa: E402
from batisync_dagster.definitions import build_definitions  # noqa: E402
from batisync_dagster.instance import (  # noqa: E402
    InstanceSettingError,
    check_pg_url,
    pg_url_problem,
)

SECRET = "s3cr3t-pw"
POOLS = {"concurrency": {"pools": {"granularity": "run", "default_limit": 2}}}


def test_the_storage_url_must_name_psycopg2() -> None:
    assert pg_url_problem(f"postgresql+psycopg2://dagster:{SECRET}@pg:5432/dagster") is None
    assert pg_url_problem(f"POSTGRESQL+PSYCOPG2://dagster:{SECRET}@pg/dagster") is None
    for url in (
        f"postgresql://dagster:{SECRET}@pg:5432/dagster",  # SQLAlchemy 2.1: psycopg 3
        f"postgresql+psycopg://dagster:{SECRET}@pg:5432/dagster",
        f"postgres://dagster:{SECRET}@pg/dagster",
        f"host=pg user=dagster password={SECRET} dbname=dagster",  # a libpq DSN
        "",
    ):
        problem = pg_url_problem(url)
        assert problem, url
        assert "DAGSTER_PG_URL" in problem and "postgresql+psycopg2://" in problem
        assert SECRET not in problem


def test_the_code_location_refuses_another_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    check_pg_url({})  # unset: not the shipped dagster.yaml (an ephemeral instance)
    monkeypatch.setenv("DAGSTER_PG_URL", f"postgresql+psycopg://dagster:{SECRET}@pg/dagster")
    with pytest.raises(InstanceSettingError, match="'postgresql\\+psycopg'") as refused:
        build_definitions()
    assert SECRET not in str(refused.value)


def test_the_sensor_gives_the_pool_its_default_limit_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOSSIERS_DIR", str(tmp_path))
    with dg.instance_for_test(overrides=POOLS) as instance:
        storage = instance.event_log_storage
        assert POOL not in storage.get_concurrency_keys()  # what the run queue's first pass sees
        dossiers_folder(dg.build_sensor_context(instance))
        assert {(p.name, p.limit, p.from_default) for p in storage.get_pool_limits()} == {
            (POOL, 2, True)  # from the default: a later default_limit still applies
        }
        storage.set_concurrency_slots(POOL, 6)  # `dagster instance concurrency set`
        dossiers_folder(dg.build_sensor_context(instance))
        assert storage.get_concurrency_info(POOL).slot_count == 6


def test_the_schedule_gives_the_pool_its_default_limit_before_its_runs() -> None:
    schedule = every_dossier_schedule(cron="0 6 * * *", timezone="Europe/Paris")
    tick = datetime(2026, 5, 4, 4, 0, tzinfo=UTC)
    with dg.instance_for_test(overrides=POOLS) as instance:
        instance.add_dynamic_partitions("batisync_dossiers", ["acme"])
        schedule(dg.build_schedule_context(instance, scheduled_execution_time=tick))
        assert instance.event_log_storage.get_concurrency_info(POOL).slot_count == 2
    with dg.instance_for_test() as instance:  # no default limit: nothing is set
        schedule(dg.build_schedule_context(instance, scheduled_execution_time=tick))
        assert POOL not in instance.event_log_storage.get_concurrency_keys()
