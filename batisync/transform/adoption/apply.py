"""Adopt an existing `batigest_heures` in place, before any dbt command writes it: read
the catalog, plan (`plan.py`), and either run the whole plan in one transaction (then
check that every view came back as it was, and record it), or, when the sync must not
run it itself, stop with the script for a DBA and change nothing.

Run under the sync lock (the caller holds it): the sync's transform stage, `batisync
dbt` for commands that write, `debug-heures` before its dbt build."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg

from batisync.core.errors import ConfigError, StageError, first_line, is_connection_loss
from batisync.transform.adoption.catalog import read_table
from batisync.transform.adoption.columns import column_changes, quote_ident
from batisync.transform.adoption.plan import AdoptionPlan, plan_adoption

log = logging.getLogger(__name__)

TABLE = "batigest_heures"
RECORD_TABLE = "batisync_migrations"
MIGRATION = "adopt_batigest_heures"
RAW_SLOTS = "raw_batisimply.time_slots"  # the loader's (dbt source batisimply.time_slots)
LOCK_TIMEOUT = "30s"  # ALTER TABLE waits for every reader and writer of the table
SAMPLE = 10  # ids named in the log


class AdoptionRefused(ConfigError):
    """The old table cannot be adopted by the sync itself: exit 2, nothing changed."""

    instruction = None  # what to do is in the message: the DBA's script

    def __init__(self, plan: AdoptionPlan, reasons: tuple[str, ...]) -> None:
        super().__init__(
            TABLE,
            f"cannot be adopted by the sync itself: {'; '.join(reasons)}. Nothing was "
            "changed. A DBA can run this script (as the table's owner, or a superuser, in "
            "one psql session), then run the sync again:\n" + plan.script(),
            label=f"staging table {plan.table}",
        )
        self.plan = plan
        self.reasons = reasons


@dataclass(frozen=True)
class NotLoaded:
    """Rows of the old table that batisync never loads (no raw slot has their id)."""

    rows: int
    listed: int  # of them VALIDATED and not sync: the seed's query keeps listing them
    sample: tuple[str, ...]


@dataclass(frozen=True)
class Adoption:
    plan: AdoptionPlan
    not_loaded: NotLoaded | None  # None: nothing loaded yet to compare with


def adopt_batigest_heures(
    conninfo: Mapping[str, Any],
    schema: str,
    *,
    run_id: str | None = None,
    lock_timeout: str = LOCK_TIMEOUT,
) -> Adoption | None:
    """Make `schema.batigest_heures` writable by the dbt model, in place; None when there
    is no such table or nothing to change (every run after the first)."""
    with psycopg.connect(**conninfo) as conn:
        facts = read_table(conn, schema, TABLE)
        if facts is None:
            return None
        plan = plan_adoption(facts)
        if not plan.needed:
            return None
        if plan.refusals:
            raise AdoptionRefused(plan, plan.refusals)
        conn.execute("select set_config('lock_timeout', %s, true)", (lock_timeout,))
        try:
            for statement in plan.statements:
                conn.execute(statement)  # type: ignore[arg-type]
        except psycopg.errors.LockNotAvailable as error:
            raise StageError(
                f"{plan.table} is in use by another session (is the old connector still "
                f"running?): {first_line(error, with_type=False)}; nothing was changed"
            ) from error
        except psycopg.Error as error:
            if is_connection_loss(error):
                raise
            refused = f"PostgreSQL refused it ({first_line(error, with_type=False)})"
            raise AdoptionRefused(plan, (refused,)) from error
        if differences := _differences(conn, schema, plan):
            raise AdoptionRefused(plan, differences)
        not_loaded = _not_loaded(conn, plan.table)
        _record(conn, schema, plan, not_loaded, run_id)
    adoption = Adoption(plan, not_loaded)
    _log(adoption, schema)
    return adoption


def _differences(conn: psycopg.Connection[Any], schema: str, plan: AdoptionPlan) -> tuple[str, ...]:
    """What is not as it should be after the script (checked before the commit)."""
    after = read_table(conn, schema, TABLE)
    assert after is not None
    found = [f"{c.describe()} still needed" for c in column_changes(after.columns)]
    now = {d.name: d.signature() for d in after.dependents}
    found += [
        f"{d.word} {d.name} would not be the same after it is created again"
        for d in plan.recreated
        if now.get(d.name) != d.signature()
    ]
    return tuple(found)


def _not_loaded(conn: psycopg.Connection[Any], table: str) -> NotLoaded | None:
    exists = conn.execute("select to_regclass(%s) is not null", (RAW_SLOTS,)).fetchone()
    if not exists or not exists[0]:
        return None
    listed = "status_management = 'VALIDATED' and not sync"
    row = conn.execute(
        f"select count(*), count(*) filter (where {listed}), "  # type: ignore[arg-type]
        f"(array_agg(id_heure order by id_heure) filter (where {listed}))[1:{SAMPLE}] "
        f"from {table} as b where not exists "
        f"(select from {RAW_SLOTS} as t where t.id = b.id_heure)"
    ).fetchone()
    assert row is not None
    return NotLoaded(row[0], row[1], tuple(row[2] or ()))


def _record(
    conn: psycopg.Connection[Any],
    schema: str,
    plan: AdoptionPlan,
    not_loaded: NotLoaded | None,
    run_id: str | None,
) -> None:
    table = f"{quote_ident(schema)}.{RECORD_TABLE}"
    conn.execute(
        f"create table if not exists {table} (name varchar not null, "  # type: ignore[arg-type]
        "applied_at timestamptz not null default now(), run_id varchar, detail jsonb not null)"
    )
    detail = {
        "table": plan.table,
        "changes": [change.describe() for change in plan.changes],
        "recreated": [d.name for d in plan.recreated],
        "not_loaded": not_loaded.rows if not_loaded else None,
        "not_loaded_listed": not_loaded.listed if not_loaded else None,
        "not_loaded_sample": list(not_loaded.sample) if not_loaded else [],
        "script": plan.script(),
    }
    conn.execute(
        f"insert into {table} (name, run_id, detail) values (%s, %s, %s)",  # type: ignore[arg-type]
        (MIGRATION, run_id, json.dumps(detail)),
    )


def _log(adoption: Adoption, schema: str) -> None:
    plan, rows = adoption.plan, adoption.not_loaded
    log.warning(
        "%s: adopted the old connector's batigest_heures in place (recorded in %s.%s): %s",
        plan.table, schema, RECORD_TABLE, plan.describe(),
    )  # fmt: skip
    if rows and rows.rows:
        more = " …" if rows.listed > len(rows.sample) else ""
        log.warning(
            "%s: %d row(s) of the old connector are slots batisync never loads (outside the "
            "window, or deleted upstream before the switch): kept as they are; %d of them "
            "VALIDATED and not sync, which the seed's query keeps listing: %s%s",
            plan.table, rows.rows, rows.listed, ", ".join(rows.sample) or "none", more,
        )  # fmt: skip


__all__ = [
    "MIGRATION",
    "RECORD_TABLE",
    "Adoption",
    "AdoptionRefused",
    "NotLoaded",
    "adopt_batigest_heures",
]
