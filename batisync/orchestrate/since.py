"""What the incremental models filter on: the staging generation the last complete
sync's transform read and whether this run's inputs are that sync's, written to the
one-row table `transform_since`, and the dbt project's version
(dbt_project/macros/incremental.sql reads them)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from batisync.core.errors import first_line
from batisync.core.settings import Settings
from batisync.orchestrate.nochange import LastRun

log = logging.getLogger(__name__)


def incremental_env(
    settings: Settings, inputs: Callable[[], str] | None = None
) -> Mapping[str, str]:
    """What the incremental models read (dbt_project/macros/incremental.sql): the staging
    generation the last complete sync's transform read (none yet: every slot is taken
    as changed), whether `inputs` (this run's `nochange.run_inputs`) are that sync's
    (the staging tests limited to the raw rows written since need it: a raw row is not
    rewritten when the project changes) and the dbt project's version (a new one
    rewrites every slot).

    The generation goes through the one-row table `transform_since`, written here, not
    through an environment variable: dbt's partial parse re-parses every file reading a
    variable whose value changed, and this one changes every run."""
    import psycopg

    from batisync.orchestrate import runs

    with psycopg.connect(**settings.staging.conninfo()) as conn:
        last = runs.last_complete_run(conn, settings.dbt_schema)
        write_since(
            conn,
            settings.dbt_schema,
            last.generation if last is not None else None,
            same_inputs=inputs_unchanged(last, _current(inputs)),
        )
    return incremental_vars()


def inputs_unchanged(last: LastRun | None, current: str | None) -> bool:
    """Whether this run's inputs are known to be those of the last complete sync: only
    then may a staging test read the raw rows written since (False reads them all)."""
    return last is not None and current is not None and last.inputs == current


def _current(inputs: Callable[[], str] | None) -> str | None:
    if inputs is None:
        return None
    try:
        return inputs()
    except Exception as error:  # then the staging tests read every row
        log.info("run inputs not known before the transform: %s", first_line(error))
        return None


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


def write_since(conn: Any, schema: str, since: int | None, *, same_inputs: bool = False) -> None:
    """`transform_since` holds exactly one row: the generation dbt filters on (null: none)
    and whether this run's inputs are the last complete sync's (`same_inputs`)."""
    from psycopg import sql

    table = sql.Identifier(schema, "transform_since")
    conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
    conn.execute(sql.SQL("create table if not exists {} (since_generation bigint)").format(table))
    # added after the table's first version: added to an older one in place
    added = sql.SQL("alter table {} add column if not exists same_inputs boolean")
    conn.execute(added.format(table))
    conn.execute(sql.SQL("delete from {}").format(table))
    conn.execute(
        sql.SQL("insert into {} (since_generation, same_inputs) values (%s, %s)").format(table),
        (since, same_inputs),
    )
