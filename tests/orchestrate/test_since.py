"""What the transform stage writes in `transform_since` (orchestrate/since.py): the last
complete sync's generation and whether this run's inputs are that sync's. The staging
tests limited to the raw rows written since (dbt_project/macros/changed_rows.sql) read
every row unless it says they are: a new dbt project, a setting, another day."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import psycopg
import pytest
import sqlalchemy as sa

from batisync.core.settings import Settings
from batisync.orchestrate import runs
from batisync.orchestrate.nochange import LastRun
from batisync.orchestrate.since import incremental_env, inputs_unchanged, write_since


def test_only_the_same_inputs_as_a_recorded_complete_sync_are_unchanged() -> None:
    last = LastRun("r1", inputs="abc", generation=7)
    assert inputs_unchanged(last, "abc")
    assert not inputs_unchanged(last, "abd")  # the project, a setting or the day moved
    assert not inputs_unchanged(None, "abc")  # no complete sync yet
    assert not inputs_unchanged(last, None)  # this run's inputs could not be told


@pytest.fixture
def conninfo(staging_url: str) -> dict[str, Any]:
    url = sa.make_url(staging_url)
    return {"host": url.host, "port": url.port, "user": url.username, "dbname": url.database}


def since_row(conninfo: dict[str, Any]) -> tuple[Any, ...]:
    with psycopg.connect(**conninfo) as conn:
        rows = conn.execute("select since_generation, same_inputs from transform_since").fetchall()
    assert len(rows) == 1
    return rows[0]


def test_the_transform_writes_whether_its_inputs_are_the_last_complete_syncs(
    conninfo: dict[str, Any],
) -> None:
    settings = cast(
        Settings,
        SimpleNamespace(staging=SimpleNamespace(conninfo=lambda: conninfo), dbt_schema="public"),
    )

    def broken() -> str:
        raise RuntimeError("Batigest did not answer")

    def env(inputs: Callable[[], str] | None) -> tuple[Any, ...]:
        assert incremental_env(settings, inputs)["BATISYNC_SINCE_FROM_TABLE"] == "1"
        return since_row(conninfo)

    assert env(lambda: "abc") == (None, False)  # no sync recorded yet
    with psycopg.connect(**conninfo) as conn:
        runs.ensure_table(conn, "public")
        conn.execute(
            "insert into sync_runs (run_id, started_at, status, inputs, generation) "
            "values ('r1', %s, 'success', 'abc', 7)",
            (datetime.now(UTC),),
        )
    assert env(lambda: "abc") == (7, True)
    assert env(lambda: "abd") == (7, False)
    assert env(broken) == (7, False)
    assert env(None) == (7, False)


def test_a_table_written_by_an_older_sync_gains_the_column(conninfo: dict[str, Any]) -> None:
    with psycopg.connect(**conninfo) as conn:
        conn.execute("create table transform_since (since_generation bigint)")
        conn.execute("insert into transform_since values (3)")
        write_since(conn, "public", 5, same_inputs=True)
    assert since_row(conninfo) == (5, True)
