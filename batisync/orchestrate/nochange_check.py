"""The no-change check of a sync, on the real systems: what `nochange.decide` reads (the
run history, what the marts left to do, this run's inputs) and what a skip records.

`nochange` decides (pure); this module reads and applies. Whatever cannot be told runs
every stage: a skip is only ever an optimisation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import psycopg
import sqlalchemy as sa

from batisync.core.connections import make_staging_engine
from batisync.core.errors import first_line
from batisync.core.settings import Settings
from batisync.orchestrate import nochange, runs
from batisync.orchestrate.summary import StageReport

log = logging.getLogger(__name__)


def inputs_of(settings: Settings, env: Mapping[str, str], batigest: Mapping[str, str]) -> str:
    """The fingerprint of what this run's transform and export depend on, loaded rows aside."""
    from batisync.loader.window import sliding_window, utc_today
    from batisync.transform.dbt_runner import DBT_PROJECT_DIR

    read = {k: v for k, v in env.items() if not k.startswith("PG")}  # no password in it
    read |= {
        "HEURES_ON_GONE": settings.on_gone,
        "HEURES_RETRACT_MAX_SHARE": str(settings.retract_max_share),
        "EXPORT_BATCH_SIZE": str(settings.batch_size),
        # what the summary must count for the alert: a new threshold recounts
        "ALERT_REJECTED_THRESHOLD": str(settings.alert_rejected_threshold),
    }
    window = sliding_window(settings.window_days, utc_today())
    return nochange.run_inputs(
        nochange.project_version(DBT_PROJECT_DIR), read, window.start.date(), batigest
    )


def nothing_to_do(
    settings: Settings, report: StageReport | None, inputs: Callable[[], str], dry_run: bool
) -> str | None:
    """Why transform and export can be skipped after this load, or None (`nochange`).
    Whatever cannot be told (Batigest unreachable or unfit, say) runs everything: the
    transform stage then reports it as it always does."""
    from batisync.export.rejections import mark_reported

    engine = make_staging_engine(settings.staging.sqlalchemy_url())
    try:
        try:
            reason = _nothing_to_do(settings, engine, report, inputs)
        except Exception as error:
            log.info("no-change check skipped, running every stage: %s", first_line(error))
            return None
        if reason and not dry_run:  # the same rejections, reported once more: none is new
            with engine.begin() as conn:
                mark_reported(conn, settings.dbt_schema, datetime.now(UTC))
        return reason
    finally:
        engine.dispose()


def _nothing_to_do(
    settings: Settings, staging: sa.Engine, report: StageReport | None, inputs: Callable[[], str]
) -> str | None:
    from batisync.loader.report import LoadReport

    with psycopg.connect(**settings.staging.conninfo()) as conn:
        last, later = _last_runs(conn, settings.dbt_schema)
    with staging.connect() as conn:
        work = pending(conn, settings.dbt_schema, settings.on_gone)
    load = report if isinstance(report, LoadReport) else None
    decision = nochange.decide(load, inputs(), last, later, work)
    if not decision.skip:
        log.info("transform and export run: %s", decision.reason)
    return decision.reason if decision.skip else None


def _last_runs(
    conn: psycopg.Connection[Any], schema: str
) -> tuple[nochange.LastRun | None, nochange.LaterRun | None]:
    """The last complete run, and a run of any status newer than it (None: none)."""
    last = runs.last_complete_run(conn, schema)
    return last, runs.later_run(conn, schema, last) if last else None


def transform_certain(settings: Settings) -> bool:
    """Before the load: True when this run's transform will run whatever its load finds
    (`nochange.transform_certain`); False when that cannot be told."""
    from psycopg import sql

    from batisync.core.connections import relation_exists
    from batisync.loader.generation import GENERATION_TABLE

    try:
        with psycopg.connect(**settings.staging.conninfo()) as conn:
            last, later = _last_runs(conn, settings.dbt_schema)
            now = None
            if relation_exists(conn, GENERATION_TABLE):
                query = sql.SQL("select generation from {}").format(
                    sql.Identifier(*GENERATION_TABLE.split("."))
                )
                row = conn.execute(query).fetchone()
                now = row[0] if row else None
    except Exception as error:
        log.info("could not tell whether the transform will run: %s", first_line(error))
        return False
    return nochange.transform_certain(last, later, now)


def pending(conn: sa.Connection, schema: str, on_gone: str) -> nochange.Pending:
    """What the marts left to do: rows to push; under HEURES_ON_GONE=delete, rows to
    retract now. A mart not built yet is work: the transform must build it."""
    from batisync.export.staging_io import count_retractable, count_to_push

    to_push = count_to_push(conn, schema)
    retractable = count_retractable(conn, schema) if on_gone == "delete" else 0
    return nochange.Pending(
        1 if to_push is None else to_push, 1 if retractable is None else retractable
    )


__all__ = ["inputs_of", "nothing_to_do", "pending", "transform_certain"]
