"""One sync run: lock → loader → dbt build → exporter (→ publish), with its history.

`run_sync` takes the stages as callables (`Stages`), so the order, the stop-at-first-
failure rule, the lock, the history and the summary are tested without the real
stages; `stages_from_settings` (at the end) builds the real ones.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
import sqlalchemy as sa

from batisync import runs
from batisync.lock import LockBusy, sync_lock
from batisync.logs import ProgressDisplay, StageTask, redact
from batisync.settings import ConfigError, PgSettings, Settings
from batisync.summary import RunSummary, StageResult

log = logging.getLogger("batisync.run")


@dataclass(frozen=True)
class StageContext:
    run_id: str
    task: StageTask  # progress of this stage
    dry_run: bool = False


StageFn = Callable[[StageContext], Mapping[str, Any]]


class StageFailed(RuntimeError):
    """A stage that ran to its end but failed (a dbt test, say); carries its report."""

    def __init__(self, message: str, report: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.report = dict(report or {})


@dataclass(frozen=True)
class Stages:
    load: StageFn
    transform: StageFn
    export: StageFn
    # after a successful export: refresh what reports the push (the batigest_heures mart)
    publish: StageFn | None = None

    def ordered(self) -> list[tuple[str, StageFn]]:
        named = [("load", self.load), ("transform", self.transform), ("export", self.export)]
        return named + ([("publish", self.publish)] if self.publish else [])


def new_run_id(started: datetime) -> str:
    return f"{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def staging_conninfo(staging: PgSettings) -> dict[str, Any]:
    """psycopg keywords for the staging database (the password stays in memory)."""
    return {
        "host": staging.host,
        "port": staging.port,
        "user": staging.user,
        "password": staging.password.reveal() if staging.password else None,
        "dbname": staging.database,
        "connect_timeout": 10,
    }


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value, so the log filter masks it wherever it shows up."""
    values = [settings.client_secret, settings.password, settings.staging.password]
    found = [v.reveal() for v in values if v]
    if settings.batigest_url:
        url = settings.batigest_url.reveal()
        found.append(url)
        password = sa.make_url(url).password
        if password:
            found.append(str(password))
    return found


def required_for_sync(settings: Settings) -> tuple[str, ...]:
    return (*settings.batisimply_required(), "PGHOST", "PGDATABASE", "BATIGEST_URL")


def config_errors(settings: Settings, names: tuple[str, ...]) -> list[ConfigError]:
    """Every missing setting among `names`, so one run reports them all."""
    errors = []
    for name in names:
        try:
            settings.require(name)
        except ConfigError as error:
            errors.append(error)
    return errors


def execute_stages(
    stages: Stages, run_id: str, display: ProgressDisplay, *, dry_run: bool = False
) -> list[StageResult]:
    """Run the stages in order; after a failure the rest are `skipped`."""
    results: list[StageResult] = []
    failed = False
    for name, stage in stages.ordered():
        if failed:
            results.append(StageResult(name, "skipped"))
            continue
        log.info("stage %s: started", name)
        began = time.monotonic()
        try:
            with display.stage(name) as task:
                report = stage(StageContext(run_id=run_id, task=task, dry_run=dry_run))
            result = StageResult(name, "ok", time.monotonic() - began, dict(report or {}))
            log.info("stage %s: done in %.1f s", name, result.duration_s)
        except StageFailed as error:
            result = StageResult(
                name, "failed", time.monotonic() - began, error.report, redact(str(error))
            )
        except (Exception, KeyboardInterrupt) as error:
            log.debug("stage %s raised", name, exc_info=True)
            cause = "interrupted" if isinstance(error, KeyboardInterrupt) else _describe(error)
            result = StageResult(name, "failed", time.monotonic() - began, {}, cause)
        if result.status == "failed":
            log.error("stage %s failed: %s", name, result.error)
            failed = True
        results.append(result)
    return results


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return redact(f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": "))


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
                log.warning("could not record the run in sync_runs: %s", _describe(error))
            return summary
    except LockBusy as busy:
        log.warning("%s; nothing was done", busy)
        return RunSummary(run_id, "busy", started, now(), error=str(busy), dry_run=dry_run)
    except psycopg.Error as error:  # staging unreachable: the lock could not be taken
        cause = f"staging PostgreSQL: {_describe(error)}"
        log.error("%s", cause)
        stage = StageResult("connect", "failed", (now() - started).total_seconds(), {}, cause)
        return RunSummary(run_id, "failed", started, now(), [stage], cause, dry_run)


# -- the real stages ---------------------------------------------------------------------
# Imports stay inside the functions: `python -m batisync doctor` and a run refused by the
# lock or by the configuration never pay for dlt and dbt.

# what the exporter reads, with everything upstream and its tests
TRANSFORM_SELECT = ("+to_push", "+heures_gone", "+heures_rejected")
# rebuilt after the export from the map it just wrote: to_push then holds what the next
# export will write (nothing, after a clean run) and batigest_heures.sync shows the push
PUBLISH_SELECT = ("to_push", "heures_gone", "batigest_heures")


def dbt_env(settings: Settings) -> dict[str, str]:
    """The variables `dbt_project/profiles.yml` and `dbt_project.yml` read."""
    return {
        **settings.staging.env(),
        "DBT_SCHEMA": settings.dbt_schema,
        "HEURES_TIMEZONE": settings.timezone,
        "HEURES_WINDOW_DAYS": str(settings.window_days),
        "BATIGEST_SCHEMA": settings.batigest_schema,
    }


def run_dbt_command(args: list[str], *, env: Mapping[str, str]) -> int:
    """`python -m batisync dbt ARGS`: dbt with its own output, 0 or 1."""
    from batisync.dbt import run_dbt

    return 0 if run_dbt(list(args), env=dict(env)).success else 1


def dbt_report(result: Any) -> dict[str, Any]:
    """What the summary keeps of a `batisync.dbt.DbtResult`."""
    counts = dict(result.counts)
    return {
        "command": "dbt " + " ".join(result.args),
        "passed": counts.get("pass", 0) + counts.get("success", 0),
        "counts": counts,
        "failures": [f.describe() for f in result.failures],
        "warnings": [w.describe() for w in result.warnings],
        "error": result.error,
    }


def dbt_failure(result: Any) -> str:
    """The cause of a failed dbt command, in one line: the failing nodes first."""
    if result.error:
        return f"dbt {result.args[0]} could not run: {result.error}"
    named = "; ".join(f.describe() for f in result.failures[:5])
    more = f" (and {len(result.failures) - 5} more)" if len(result.failures) > 5 else ""
    return f"dbt {result.args[0]} failed: {named or 'see the dbt log'}{more}"


def dbt_stage(args: list[str], env: Mapping[str, str]) -> StageFn:
    def stage(ctx: StageContext) -> Mapping[str, Any]:
        from batisync.dbt import run_dbt

        ctx.task.update(detail=" ".join(args))
        # dbt prints to stdout: keep stdout for the summary (`--json` must parse) and let
        # dbt's warnings and errors go where our own log lines go
        level = "info" if logging.getLogger().isEnabledFor(logging.DEBUG) else "warn"
        with contextlib.redirect_stdout(sys.stderr):
            result = run_dbt([*args, "--log-level", level], env=dict(env))
        report = {**dbt_report(result), "command": "dbt " + " ".join(args)}
        if not result.success:
            raise StageFailed(dbt_failure(result), report)
        return report

    return stage


def load_stage(settings: Settings) -> StageFn:
    def stage(ctx: StageContext) -> Mapping[str, Any]:
        from loader.config import load_with_settings
        from loader.window import sliding_window, utc_today

        report = load_with_settings(
            settings,
            sliding_window(settings.window_days, utc_today()),
            progress=lambda fetched, detail: ctx.task.update(completed=fetched, detail=detail),
        )
        return report.to_dict()

    return stage


def export_stage(settings: Settings, *, force: bool = False) -> StageFn:
    def stage(ctx: StageContext) -> Mapping[str, Any]:
        from export.config import engines_from_settings, export_with_settings

        with engines_from_settings(settings) as (staging, batigest):
            report = export_with_settings(
                settings, staging, batigest, force=force, dry_run=ctx.dry_run, run_id=ctx.run_id
            )
        return with_dbt_rejections(report.to_dict(), rejected_by_reason(settings))

    return stage


def rejected_by_reason(settings: Settings) -> dict[str, int]:
    """The slots dbt keeps out of `to_push` (the heures_rejected mart), by reason."""
    with (
        psycopg.connect(**staging_conninfo(settings.staging)) as conn,
        conn.cursor() as cursor,
    ):
        found = cursor.execute(
            "select to_regclass(%s)", (f'"{settings.dbt_schema}".heures_rejected',)
        ).fetchone()
        if not found or found[0] is None:
            return {}
        cursor.execute(f"select reason, count(*) from {found[0]} group by reason")
        return {str(reason): int(n) for reason, n in cursor.fetchall()}


def with_dbt_rejections(export: Mapping[str, Any], by_dbt: Mapping[str, int]) -> dict[str, Any]:
    """The export report, its `rejected` counting the slots dbt held back as well.

    They are disjoint: a slot in heures_rejected never reaches to_push. The per-row list
    is dropped (heures_rejected holds them, with their detail).
    """
    data = {k: v for k, v in export.items() if k != "rejected_rows"}
    reasons = dict(data.get("rejected_reasons") or {})
    for reason, count in by_dbt.items():
        reasons[reason] = reasons.get(reason, 0) + count
    data["rejected_by_export"] = data.get("rejected", 0)
    data["rejected_by_dbt"] = dict(by_dbt)
    data["rejected"] = data["rejected_by_export"] + sum(by_dbt.values())
    data["rejected_reasons"] = dict(sorted(reasons.items()))
    return data


def stages_from_settings(settings: Settings, *, force: bool = False) -> Stages:
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
        conninfo=staging_conninfo(settings.staging),
        history_schema=settings.dbt_schema,
        display=display,
        dry_run=dry_run,
    )


__all__ = [
    "PUBLISH_SELECT",
    "TRANSFORM_SELECT",
    "StageContext",
    "StageFailed",
    "StageFn",
    "Stages",
    "config_errors",
    "dbt_env",
    "execute_stages",
    "new_run_id",
    "required_for_sync",
    "run_sync",
    "secrets_of",
    "stages_from_settings",
    "staging_conninfo",
    "sync_from_settings",
]
