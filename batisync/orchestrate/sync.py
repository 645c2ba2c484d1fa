"""One sync run: lock → loader → dbt build → exporter (→ publish → drift), with its history.

`run_sync` takes the stages as callables (`Stages`), so the order, the stop-at-first-
failure rule, the lock, the history and the summary are tested without the real
stages; `wiring.stages_from_settings` builds the real ones (`sync_from_settings`).
"""

from __future__ import annotations

import functools
import logging
import os
import socket
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import psycopg

from batisync.core.errors import ConfigError, first_line
from batisync.core.ids import new_run_id
from batisync.core.logs import ProgressDisplay, redact, warnings_once
from batisync.core.settings import Settings
from batisync.orchestrate import runs, wiring
from batisync.orchestrate.alerts import alert_hook
from batisync.orchestrate.interrupt import Stop, interruptible
from batisync.orchestrate.lock import LockBusy, sync_lock
from batisync.orchestrate.stages import Stages, execute_stages
from batisync.orchestrate.summary import RunSummary, StageResult

log = logging.getLogger(__name__)


def run_sync(
    stages: Stages,
    *,
    conninfo: Mapping[str, Any],
    history_schema: str = "public",
    display: ProgressDisplay | None = None,
    dry_run: bool = False,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    on_finish: Callable[[RunSummary], None] | None = None,
    prepare: Callable[[], None] | None = None,
) -> RunSummary:
    """Hold the lock, record the run, execute the stages; never raises for a stage failure.

    Returns a summary whose status is `success`, `failed`, `interrupted` (SIGTERM or
    SIGINT: the stage under way fails, the rest are skipped) or `busy` (lock held
    elsewhere). `on_finish(summary)` (the alert) runs before the run is recorded. Each
    warning is logged once per run, however many stages meet it. `prepare()` runs before
    the lock is taken (a dossier's database created and claimed): its ConfigError makes a
    `config_error` summary, its connection failure a failed one.
    """
    display = display or ProgressDisplay(None, log)
    started = now()
    run_id = new_run_id(started)
    with interruptible() as stop, warnings_once():
        try:
            if prepare is not None:
                prepare()
            return _locked_run(
                stages,
                conninfo,
                history_schema,
                display,
                dry_run,
                now,
                on_finish,
                stop,
                started,
                run_id,
            )
        except LockBusy as busy:
            log.warning("%s; nothing was done", busy)
            return RunSummary(run_id, "busy", started, now(), error=str(busy), dry_run=dry_run)
        except ConfigError as error:  # from `prepare`: a stage's is the stage's own failure
            cause = redact(str(error))
            log.error("%s", cause)
            return RunSummary(run_id, "config_error", started, now(), error=cause, dry_run=dry_run)
        except psycopg.Error as error:  # staging unreachable: the lock could not be taken
            cause = redact(f"staging PostgreSQL: {first_line(error)}")
            log.error("%s", cause)
            stage = StageResult("connect", "failed", (now() - started).total_seconds(), None, cause)
            return RunSummary(run_id, "failed", started, now(), [stage], cause, dry_run)
        except KeyboardInterrupt:  # before or after the stages: nothing half-done to report
            cause = f"interrupted by {stop.signal or 'SIGINT'} before the stages ran"
            return RunSummary(run_id, "interrupted", started, now(), error=cause, dry_run=dry_run)


def _locked_run(
    stages: Stages,
    conninfo: Mapping[str, Any],
    history_schema: str,
    display: ProgressDisplay,
    dry_run: bool,
    now: Callable[[], datetime],
    on_finish: Callable[[RunSummary], None] | None,
    stop: Stop,
    started: datetime,
    run_id: str,
) -> RunSummary:
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
        try:
            results = execute_stages(stages, run_id, display, dry_run=dry_run)
        finally:
            if stages.close is not None:
                stages.close()
        failed = next((r for r in results if r.status == "failed"), None)
        status = (
            "interrupted"
            if stop.requested
            else "config_error"
            if failed and failed.config_error
            else "failed"
            if failed
            else "success"
        )
        error = failed.error if failed else None
        if stop.requested:
            where = f" during stage {failed.name}" if failed else ""
            error = f"interrupted by {stop.signal}{where}"
        summary = RunSummary(
            run_id=run_id,
            status=status,
            started_at=started,
            finished_at=now(),
            stages=results,
            error=error,
            dry_run=dry_run,
        )
        if status == "success" and not dry_run and stages.inputs is not None:
            try:  # the next run compares its own with these
                summary.inputs = stages.inputs()
            except Exception as error:  # then the next run simply runs everything
                log.info("run inputs not recorded: %s", first_line(error))
            # complete: its marts are those of the generation its load committed
            load = summary.load_report()
            summary.generation = load.generation.after if load and load.generation else None
        if on_finish is not None:
            on_finish(summary)
        try:
            runs.finish_run(conn, history_schema, summary)
        except psycopg.Error as error:  # the run itself is done; only its record is lost
            log.warning("could not record the run in sync_runs: %s", first_line(error))
        return summary


def sync_from_settings(
    settings: Settings,
    *,
    display: ProgressDisplay | None = None,
    dry_run: bool = False,
    full_refresh: bool = False,
) -> RunSummary:
    """What `make sync` (and the demo) run: the real stages on the configured systems,
    and the alert when ALERT_WEBHOOK_URL is set. A dossier's database is created and
    claimed first (`dossier_db.prepare`). `full_refresh`: the transform rebuilds its
    incremental models from raw (`batisync sync --full-refresh`)."""
    prepare = None
    if settings.dossier is not None:
        from batisync.orchestrate.dossier_db import prepare as prepare_dossier

        prepare = functools.partial(prepare_dossier, settings)
    hook = None
    if settings.alert_webhook_url:
        hook = alert_hook(settings.alert_webhook_url.reveal(), settings.alert_rejected_threshold)
    # the keyword only when asked: tests wrap stages_from_settings with its older signature
    more = {"full_refresh": True} if full_refresh else {}
    return run_sync(
        wiring.stages_from_settings(settings, **more),
        conninfo=settings.staging.conninfo(),
        history_schema=settings.dbt_schema,
        display=display,
        dry_run=dry_run,
        on_finish=hook,
        prepare=prepare,
    )


__all__ = ["run_sync", "sync_from_settings"]
