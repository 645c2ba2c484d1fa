"""One sync run: lock → loader → dbt build → exporter (→ publish), with its history.

`run_sync` takes the stages as callables (`Stages`), so the order, the stop-at-first-
failure rule, the lock, the history and the summary are tested without the real
stages; `stages_from_settings` (at the end) builds the real ones.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import psycopg

from batisync.core.errors import ConnectionLost, first_line, is_connection_loss
from batisync.core.ids import new_run_id
from batisync.core.logs import ProgressDisplay, redact
from batisync.core.settings import Settings
from batisync.orchestrate import runs
from batisync.orchestrate.lock import LockBusy, sync_lock
from batisync.orchestrate.stages import (
    StageContext,
    StageFailed,
    StageFn,
    Stages,
    execute_stages,
)
from batisync.orchestrate.summary import RunSummary, StageReport, StageResult

log = logging.getLogger("batisync.sync")


def run_sync(
    stages: Stages,
    *,
    conninfo: Mapping[str, Any],
    history_schema: str = "public",
    display: ProgressDisplay | None = None,
    dry_run: bool = False,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> RunSummary:
    """Hold the lock, record the run, execute the stages; never raises for a stage failure.

    Returns a summary whose status is `success`, `failed` or `busy` (lock held elsewhere).
    """
    display = display or ProgressDisplay(None, log)
    started = now()
    run_id = new_run_id(started)
    try:
        with sync_lock(conninfo) as conn:
            runs.ensure_table(conn, history_schema)
            if abandoned := runs.mark_abandoned(conn, history_schema):
                log.warning("%d earlier run(s) had ended without finishing", abandoned)
            runs.start_run(
                conn,
                history_schema,
                run_id=run_id,
                started_at=started,
                host=socket.gethostname(),
                pid=os.getpid(),
                dry_run=dry_run,
            )
            log.info("run %s started", run_id)
            results = execute_stages(stages, run_id, display, dry_run=dry_run)
            failed = next((r for r in results if r.status == "failed"), None)
            summary = RunSummary(
                run_id=run_id,
                status="failed" if failed else "success",
                started_at=started,
                finished_at=now(),
                stages=results,
                error=failed.error if failed else None,
                dry_run=dry_run,
            )
            try:
                runs.finish_run(conn, history_schema, summary)
            except psycopg.Error as error:  # the run itself is done; only its record is lost
                log.warning("could not record the run in sync_runs: %s", first_line(error))
            return summary
    except LockBusy as busy:
        log.warning("%s; nothing was done", busy)
        return RunSummary(run_id, "busy", started, now(), error=str(busy), dry_run=dry_run)
    except psycopg.Error as error:  # staging unreachable: the lock could not be taken
        cause = redact(f"staging PostgreSQL: {first_line(error)}")
        log.error("%s", cause)
        stage = StageResult("connect", "failed", (now() - started).total_seconds(), {}, cause)
        return RunSummary(run_id, "failed", started, now(), [stage], cause, dry_run)


# -- the real stages ---------------------------------------------------------------------
# Imports stay inside the functions: `batisync doctor` and a run refused by the lock or by
# the configuration never pay for dlt and dbt.


def dbt_stage(args: list[str], env: Mapping[str, str]) -> StageFn:
    def stage(ctx: StageContext) -> StageReport:
        from batisync.transform.build import build

        return build(args, env, progress=lambda detail: ctx.task.update(detail=detail))

    return stage


def load_stage(settings: Settings) -> StageFn:
    def stage(ctx: StageContext) -> StageReport:
        from batisync.extract.config import load_with_settings
        from batisync.extract.window import sliding_window, utc_today

        report = load_with_settings(
            settings,
            sliding_window(settings.window_days, utc_today()),
            progress=lambda fetched, detail: ctx.task.update(completed=fetched, detail=detail),
        )
        return report

    return stage


def export_stage(settings: Settings, *, force: bool = False) -> StageFn:
    def stage(ctx: StageContext) -> StageReport:
        from batisync.export.config import engines_from_settings, export_with_settings
        from batisync.export.staging_io import rejected_by_reason

        with engines_from_settings(settings) as (staging, batigest):
            try:
                report = export_with_settings(
                    settings,
                    staging,
                    batigest,
                    force=force,
                    dry_run=ctx.dry_run,
                    run_id=ctx.run_id,
                )
                with staging.connect() as conn:
                    report.rejected_by_dbt = rejected_by_reason(conn, settings.dbt_schema)
            except Exception as error:
                if is_connection_loss(error):
                    raise ConnectionLost(_unreachable(staging, batigest), error) from error
                raise
        return report

    return stage


def _unreachable(*engines: Any) -> str:
    """Which of (staging, Batigest) does not answer now; both named when both answer."""
    down = []
    for name, engine in zip(("the staging PostgreSQL", "Batigest"), engines, strict=True):
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("select 1")
        except Exception:
            down.append(name)
    return " and ".join(down) if down else "the staging PostgreSQL or Batigest"


def stages_from_settings(settings: Settings, *, force: bool = False) -> Stages:
    from batisync.transform.build import PUBLISH_SELECT, TRANSFORM_SELECT, dbt_env

    env = dbt_env(settings)
    return Stages(
        load=load_stage(settings),
        transform=dbt_stage(["build", "--select", *TRANSFORM_SELECT], env),
        export=export_stage(settings, force=force),
        publish=dbt_stage(["build", "--select", *PUBLISH_SELECT], env),
    )


def sync_from_settings(
    settings: Settings, *, display: ProgressDisplay | None = None, dry_run: bool = False
) -> RunSummary:
    """What `make sync` (and the demo) run: the real stages on the configured systems."""
    return run_sync(
        stages_from_settings(settings),
        conninfo=settings.staging.conninfo(),
        history_schema=settings.dbt_schema,
        display=display,
        dry_run=dry_run,
    )


__all__ = [
    "StageContext",
    "StageFailed",
    "StageFn",
    "Stages",
    "dbt_stage",
    "run_sync",
    "stages_from_settings",
    "sync_from_settings",
]
