"""Run history: one `sync_runs` row per run in the staging database.

Written only while the sync lock is held, so a row still `running` at the start of
a run belongs to a process that died: it is marked `abandoned`. `command` tells a sync
from the other commands recorded here (`reconcile`, `debug-heures --apply`).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from batisync.core.connections import relation_exists
from batisync.orchestrate.nochange import LastRun, LaterRun
from batisync.orchestrate.summary import RunSummary

TABLE = "sync_runs"

_DDL = """
create table if not exists {table} (
    run_id               varchar primary key,
    started_at           timestamptz not null,
    finished_at          timestamptz,
    -- running | success | failed | interrupted | drift (reconcile) | abandoned
    status               varchar not null,
    exit_code            integer,
    host                 varchar,
    pid                  integer,
    dry_run              boolean not null default false,
    failed_stage         varchar,
    error                text,
    rows_fetched         integer,
    rows_changed_staging integer,
    inserted             integer,
    updated              integer,
    moved                integer,
    unchanged            integer,
    retracted            integer,
    rejected             integer,
    load_s               numeric(12, 3),
    transform_s          numeric(12, 3),
    export_s             numeric(12, 3),
    summary              jsonb,  -- the whole run summary, as `--json` prints it
    command              varchar not null default 'sync',
    rejected_new         integer,
    inputs               varchar,  -- what the transform depended on (nochange.run_inputs)
    -- a complete sync: the staging generation its transform read (loader/generation.py)
    generation           bigint,
    drift_restored       integer,  -- SuiviMO rows the drift stage restored
    drift_reported       integer,  -- drift found and left as it is (moved_by_hand, …)
    drift_new            integer   -- findings the previous run had not reported
)
"""
# columns added after the first version of the table: added to an older one in place
_ADDED = {
    "command": "varchar not null default 'sync'",
    "rejected_new": "integer",
    "inputs": "varchar",
    "generation": "bigint",
    "drift_restored": "integer",
    "drift_reported": "integer",
    "drift_new": "integer",
}


def _table(schema: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(TABLE))


def ensure_table(conn: psycopg.Connection[Any], schema: str) -> None:
    conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
    conn.execute(sql.SQL(_DDL).format(table=_table(schema)))
    for name, kind in _ADDED.items():
        conn.execute(
            sql.SQL("alter table {} add column if not exists {} " + kind).format(
                _table(schema), sql.Identifier(name)
            )
        )


def mark_abandoned(conn: psycopg.Connection[Any], schema: str) -> int:
    """Close rows left `running` by a process that died; returns how many."""
    cursor = conn.execute(
        sql.SQL(
            "update {} set status = 'abandoned', finished_at = now(), "
            "error = coalesce(error, 'the run ended without finishing (killed or crashed)') "
            "where status = 'running'"
        ).format(_table(schema))
    )
    return cursor.rowcount


def start_run(
    conn: psycopg.Connection[Any],
    schema: str,
    *,
    run_id: str,
    started_at: datetime,
    host: str,
    pid: int,
    dry_run: bool = False,
    command: str = "sync",
) -> None:
    conn.execute(
        sql.SQL(
            "insert into {} (run_id, started_at, status, host, pid, dry_run, command) "
            "values (%s, %s, 'running', %s, %s, %s, %s)"
        ).format(_table(schema)),
        (run_id, started_at, host, pid, dry_run, command),
    )


def finish_run(conn: psycopg.Connection[Any], schema: str, summary: RunSummary) -> None:
    data = summary.to_dict()
    fetched, changed, counts = data["fetched"], data["staging_changed"], data["suivimo"]
    durations = data["stage_durations_s"]
    conn.execute(
        sql.SQL(
            "update {} set finished_at = %s, status = %s, exit_code = %s, failed_stage = %s, "
            "error = %s, rows_fetched = %s, rows_changed_staging = %s, inserted = %s, "
            "updated = %s, moved = %s, unchanged = %s, retracted = %s, rejected = %s, "
            "load_s = %s, transform_s = %s, export_s = %s, summary = %s::jsonb, "
            "rejected_new = %s, inputs = %s, generation = %s, drift_restored = %s, "
            "drift_reported = %s, drift_new = %s where run_id = %s"
        ).format(_table(schema)),
        (
            summary.finished_at,
            summary.status,
            summary.exit_code,
            summary.failed_stage,
            summary.error,
            fetched.get("total"),
            changed.get("total"),
            *(counts.get(k) for k in ("inserted", "updated", "moved", "unchanged")),
            counts.get("retracted"),
            counts.get("rejected"),
            durations.get("load"),
            durations.get("transform"),
            durations.get("export"),
            json.dumps(data, default=str),
            counts.get("rejected_new"),
            summary.inputs,
            summary.generation,
            *(data["drift"].get(k) for k in ("restored", "reported", "new")),
            summary.run_id,
        ),
    )


def last_complete_run(conn: psycopg.Connection[Any], schema: str) -> LastRun | None:
    """The latest real sync that ended well and recorded its inputs."""
    if not relation_exists(conn, f'"{schema}"."{TABLE}"'):
        return None
    row = conn.execute(
        sql.SQL(
            "select run_id, inputs, generation from {} where command = 'sync' "
            "and status = 'success' and not dry_run and inputs is not null "
            "order by started_at desc limit 1"
        ).format(_table(schema))
    ).fetchone()
    return LastRun(row[0], row[1], row[2]) if row else None


def later_run(conn: psycopg.Connection[Any], schema: str, last: LastRun) -> LaterRun | None:
    """The newest row, of any command and status, started after the run `last`. A row
    still `running` is the caller's own: under the lock, every other one was marked
    `abandoned` when the caller started."""
    row = conn.execute(
        sql.SQL(
            "select run_id, command, status, dry_run from {t} where run_id <> %(last)s "
            "and status <> 'running' "
            "and started_at >= (select started_at from {t} where run_id = %(last)s) "
            "order by started_at desc limit 1"
        ).format(t=_table(schema)),
        {"last": last.run_id},
    ).fetchone()
    return LaterRun(*row) if row else None


HISTORY_COLUMNS = (
    "run_id",
    "command",
    "started_at",
    "finished_at",
    "status",
    "exit_code",
    "dry_run",
    "host",
    "pid",
    "failed_stage",
    "error",
    "rows_fetched",
    "rows_changed_staging",
    "inserted",
    "updated",
    "moved",
    "unchanged",
    "retracted",
    "rejected",
    "rejected_new",
    "drift_restored",
    "drift_reported",
    "drift_new",
    "summary",
)


def recent_runs(
    conn: psycopg.Connection[Any], schema: str, limit: int = 5, *, command: str | None = None
) -> list[dict[str, Any]]:
    """The latest runs, newest first (`doctor`, `batisync runs`); empty without the table.
    Only reads: a table from before `command` existed shows its runs as syncs."""
    if not relation_exists(conn, f'"{schema}"."{TABLE}"'):
        return []
    present = {
        row[0]
        for row in conn.execute(
            "select column_name from information_schema.columns "
            "where table_schema = %s and table_name = %s",
            (schema, TABLE),
        ).fetchall()
    }
    defaults = {"command": sql.Literal("sync")}
    selected = sql.SQL(", ").join(
        sql.Identifier(c)
        if c in present
        else sql.SQL("{} as {}").format(defaults.get(c, sql.NULL), sql.Identifier(c))
        for c in HISTORY_COLUMNS
    )
    where = sql.SQL("")
    if command:
        if "command" not in present and command != "sync":
            return []
        where = sql.SQL("where command = {} ").format(sql.Literal(command))
        if "command" not in present:
            where = sql.SQL("")
    cursor = conn.execute(
        sql.SQL("select {} from {} {}order by started_at desc limit %s").format(
            selected, _table(schema), where
        ),
        (limit,),
    )
    columns = [c.name for c in cursor.description or []]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


__all__ = [
    "HISTORY_COLUMNS",
    "TABLE",
    "ensure_table",
    "finish_run",
    "last_complete_run",
    "later_run",
    "mark_abandoned",
    "recent_runs",
    "start_run",
]
