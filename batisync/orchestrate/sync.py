"""One sync run: lock → loader → dbt build → exporter (→ publish), with its history.

`run_sync` takes the stages as callables (`Stages`), so the order, the stop-at-first-
failure rule, the lock, the history and the summary are tested without the real
stages; `stages_from_settings` (at the end) builds the real ones.
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

from batisync.core.connections import relation_exists
from batisync.core.errors import ConnectionLost, first_line, is_connection_loss
from batisync.core.ids import new_run_id
from batisync.core.logs import ProgressDisplay, redact
from batisync.core.settings import Settings
from batisync.export.inspection import Adaptation
from batisync.export.options import ExportOptions
from batisync.orchestrate import nochange, runs
from batisync.orchestrate.alerts import alert_hook
from batisync.orchestrate.interrupt import Stop, interruptible
from batisync.orchestrate.lock import LockBusy, sync_lock
from batisync.orchestrate.stages import (
    StageContext,
    StageFailed,
    StageFn,
    Stages,
    execute_stages,
)
from batisync.orchestrate.summary import RunSummary, StageReport, StageResult

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
) -> RunSummary:
    """Hold the lock, record the run, execute the stages; never raises for a stage failure.

    Returns a summary whose status is `success`, `failed`, `interrupted` (SIGTERM or
    SIGINT: the stage under way fails, the rest are skipped) or `busy` (lock held
    elsewhere). `on_finish(summary)` (the alert) runs before the run is recorded.
    """
    display = display or ProgressDisplay(None, log)
    started = now()
    run_id = new_run_id(started)
    with interruptible() as stop:
        try:
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
        results = execute_stages(stages, run_id, display, dry_run=dry_run)
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


# -- the real stages ---------------------------------------------------------------------
# Imports stay inside the functions: `batisync doctor` and a run refused by the lock or by
# the configuration never pay for dlt and dbt.


def dbt_stage(
    args: list[str],
    env: Mapping[str, str],
    more_env: Callable[[], Mapping[str, str]] | None = None,
    manifests: Any = None,
    before: Callable[[StageContext], None] | None = None,
) -> StageFn:
    """A dbt command as a stage; `more_env` adds what is known only at run time (the
    Batigest inspection); stages given one `ManifestCache` share one parse; `before` runs
    first (the adoption of the old connector's table)."""

    def stage(ctx: StageContext) -> StageReport:
        from batisync.transform.build import build

        if before is not None:
            before(ctx)
        full = {**env, **(more_env() if more_env else {})}
        return build(
            args,
            full,
            progress=lambda detail: ctx.task.update(detail=detail),
            on_node=lambda done, total: ctx.task.update(completed=done, total=total),
            manifests=manifests,
        )

    return stage


def batigest_adaptation(settings: Settings) -> Adaptation:
    """The Batigest inspection (raises BatigestUnfit, exit 2, before anything is written):
    how the run adapts to SuiviMO; the sync caches it, once per run."""
    from batisync.core.connections import make_batigest_engine
    from batisync.export.config import checked_batigest

    assert settings.batigest_url is not None
    engine = make_batigest_engine(settings.batigest_url.reveal())
    try:
        return checked_batigest(settings, engine).adapt
    finally:
        engine.dispose()


def batigest_env(settings: Settings, adapt: Adaptation | None = None) -> Mapping[str, str]:
    """What dbt needs from the Batigest inspection: the key columns' lengths, for
    `code_too_long` (`adapt`: an inspection already made in this run)."""
    adapt = adapt or batigest_adaptation(settings)
    lengths = {
        "BATIGEST_CODE_CHANTIER_LENGTH": adapt.code_chantier_max_length,
        "BATIGEST_CODE_SALARIE_LENGTH": adapt.code_salarie_max_length,
    }
    return {name: str(n) for name, n in lengths.items() if n}


def load_stage(settings: Settings) -> StageFn:
    def stage(ctx: StageContext) -> StageReport:
        from batisync.loader.config import load_with_settings
        from batisync.loader.window import sliding_window, utc_today

        return load_with_settings(
            settings,
            sliding_window(settings.window_days, utc_today()),
            progress=lambda fetched, detail: ctx.task.update(completed=fetched, detail=detail),
            written_by=f"sync {ctx.run_id}" + (" (dry run)" if ctx.dry_run else ""),
        )

    return stage


def export_stage(
    settings: Settings, options: Callable[[], ExportOptions], *, force: bool = False
) -> StageFn:
    def stage(ctx: StageContext) -> StageReport:
        from batisync.export.config import engines_from_settings
        from batisync.export.rejections import remember_rejections
        from batisync.export.runner import run_export

        with engines_from_settings(settings) as (staging, batigest):
            try:
                report = run_export(
                    staging,
                    batigest,
                    options(),  # the run's inspection, made before the transform
                    force=force,
                    dry_run=ctx.dry_run,
                    run_id=ctx.run_id,
                    with_dbt_rejections=True,
                    progress=lambda done, total: ctx.task.update(
                        completed=done, total=total, detail="rows"
                    ),
                )
                if not ctx.dry_run:  # the next run tells its new rejections from these
                    with staging.begin() as conn:
                        remember_rejections(conn, settings.dbt_schema, datetime.now(UTC))
            except Exception as error:
                if is_connection_loss(error):
                    raise ConnectionLost(_unreachable(staging, batigest), error) from error
                raise
        return report

    return stage


def drift_stage(settings: Settings, options: Callable[[], ExportOptions]) -> StageFn:
    """After publish, and after a load that changed nothing too: SuiviMO compared with the
    map, what was deleted or edited by hand restored or reported (`export/heal.py`)."""

    def stage(ctx: StageContext) -> StageReport:
        from batisync.export.config import engines_from_settings
        from batisync.export.heal import check_drift

        run_options = options()  # the run's inspection, made before the transform
        with engines_from_settings(settings) as (staging, batigest):
            try:
                return check_drift(
                    staging, batigest, run_options, dry_run=ctx.dry_run, run_id=ctx.run_id
                )
            except Exception as error:
                if is_connection_loss(error):
                    raise ConnectionLost(_unreachable(staging, batigest), error) from error
                raise

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
    from batisync.transform.build import (
        PUBLISH_ARGS,
        TRANSFORM_ARGS,
        ManifestCache,
        adopt_old_table,
        dbt_env,
    )

    env = dbt_env(settings)
    # one inspection per run, before the transform: its lengths feed both dbt commands,
    # and the export and drift stages adapt to it (their options, built once)
    adaptation = functools.cache(lambda: batigest_adaptation(settings))
    inspected = functools.cache(lambda: batigest_env(settings, adaptation()))
    options = functools.cache(lambda: ExportOptions.from_settings(settings, adaptation()))
    manifests = ManifestCache()  # transform parses the project, publish reuses it
    inputs = functools.cache(lambda: inputs_of(settings, env, inspected()))
    return Stages(
        load=load_stage(settings),
        # the old connector's batigest_heures is adopted before any dbt command (a refusal
        # stops the run before the export: exit 2, nothing written to SuiviMO)
        transform=dbt_stage(
            list(TRANSFORM_ARGS),
            env,
            inspected,
            manifests,
            before=lambda ctx: adopt_old_table(settings, ctx.run_id),
        ),
        export=export_stage(settings, options, force=force),
        publish=dbt_stage(list(PUBLISH_ARGS), env, inspected, manifests),
        drift=drift_stage(settings, options),
        skip_after_load=lambda report, dry_run: nothing_to_do(settings, report, inputs, dry_run),
        inputs=inputs,
    )


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
    try:
        reason = _nothing_to_do(settings, report, inputs)
    except Exception as error:
        log.info("no-change check skipped, running every stage: %s", first_line(error))
        return None
    if reason and not dry_run:  # the same rejections, reported once more: none is new
        from batisync.core.connections import make_staging_engine
        from batisync.export.rejections import mark_reported

        engine = make_staging_engine(settings.staging.sqlalchemy_url())
        try:
            with engine.begin() as conn:
                mark_reported(conn, settings.dbt_schema, datetime.now(UTC))
        finally:
            engine.dispose()
    return reason


def _nothing_to_do(
    settings: Settings, report: StageReport | None, inputs: Callable[[], str]
) -> str | None:
    from batisync.loader.report import LoadReport

    with psycopg.connect(**settings.staging.conninfo()) as conn:
        last = runs.last_complete_run(conn, settings.dbt_schema)
        later = runs.later_run(conn, settings.dbt_schema, last) if last else None
        pending = _pending(conn, settings)
    load = report if isinstance(report, LoadReport) else None
    decision = nochange.decide(load, inputs(), last, later, pending)
    if not decision.skip:
        log.info("transform and export run: %s", decision.reason)
    return decision.reason if decision.skip else None


def _pending(conn: psycopg.Connection[Any], settings: Settings) -> nochange.Pending:
    """What the marts left to do: rows to push; under HEURES_ON_GONE=delete, rows to
    retract now."""

    def count(table: str, where: str = "") -> int:
        name = f'"{settings.dbt_schema}".{table}'
        if not relation_exists(conn, name):
            return 1  # no marts yet: the transform must build them
        row = conn.execute(f"select count(*) from {name} {where}").fetchone()  # type: ignore[arg-type]
        return row[0] if row else 0

    deleting = settings.on_gone == "delete"
    return nochange.Pending(
        count("to_push"), count("heures_gone", "where is_retractable") if deleting else 0
    )


def sync_from_settings(
    settings: Settings, *, display: ProgressDisplay | None = None, dry_run: bool = False
) -> RunSummary:
    """What `make sync` (and the demo) run: the real stages on the configured systems,
    and the alert when ALERT_WEBHOOK_URL is set."""
    hook = None
    if settings.alert_webhook_url:
        hook = alert_hook(settings.alert_webhook_url.reveal(), settings.alert_rejected_threshold)
    return run_sync(
        stages_from_settings(settings),
        conninfo=settings.staging.conninfo(),
        history_schema=settings.dbt_schema,
        display=display,
        dry_run=dry_run,
        on_finish=hook,
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
