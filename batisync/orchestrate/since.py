"""What the incremental models filter on: the staging generation the last complete
sync's transform read, written to the one-row table `transform_since`, and the dbt
project's version (dbt_project/macros/incremental.sql reads both)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from batisync.core.settings import Settings


def incremental_env(settings: Settings) -> Mapping[str, str]:
    """What the incremental models read (dbt_project/macros/incremental.sql): the staging
    generation the last complete sync's transform read (none yet: every slot is taken
    as changed) and the dbt project's version (a new one rewrites every slot).

    The generation goes through the one-row table `transform_since`, written here, not
    through an environment variable: dbt's partial parse re-parses every file reading a
    variable whose value changed, and this one changes every run."""
    import psycopg

    from batisync.orchestrate import runs

    with psycopg.connect(**settings.staging.conninfo()) as conn:
        last = runs.last_complete_run(conn, settings.dbt_schema)
        write_since(conn, settings.dbt_schema, last.generation if last is not None else None)
    return incremental_vars()


def incremental_vars() -> Mapping[str, str]:
    """The variables of `incremental_env`, written nowhere: what dbt's parse made ahead
    (while the load runs) is given, so that a run stopped before its transform (an
    adoption refused) has changed nothing in staging."""
    from batisync.orchestrate.nochange import project_version
    from batisync.transform.dbt_runner import DBT_PROJECT_DIR

    return {
        "BATISYNC_SINCE_FROM_TABLE": "1",
        "BATISYNC_PROJECT_VERSION": project_version(DBT_PROJECT_DIR),
    }


def write_since(conn: Any, schema: str, since: int | None) -> None:
    """`transform_since` holds exactly one row: the generation dbt filters on (null: none)."""
    from psycopg import sql

    table = sql.Identifier(schema, "transform_since")
    conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
    conn.execute(sql.SQL("create table if not exists {} (since_generation bigint)").format(table))
    conn.execute(sql.SQL("delete from {}").format(table))
    conn.execute(sql.SQL("insert into {} values (%s)").format(table), (since,))
