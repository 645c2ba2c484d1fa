"""What the code location asks of its Dagster instance (batisync_dagster/instance.py): a
storage URL naming psycopg2, refused otherwise without showing the password; the syncs'
pool given the instance's default limit by the sensor and the schedule, before any run
of it is queued (on an ephemeral instance)."""

from __future__ import annotations

import pytest

dg = pytest.importorskip("dagster", reason="the dagster extra is not installed: make setup")

from batisync_dagster.definitions import build_definitions  # noqa: E402
from batisync_dagster.instance import (  # noqa: E402
    InstanceSettingError,
    check_pg_url,
    pg_url_problem,
)

SECRET = "s3cr3t-pw"


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
