"""The real stages of a sync, wired from `Settings`: load, transform (dbt build), export,
publish (dbt run), drift, and the no-change check between the load and the rest.

`run_sync` (`orchestrate/sync.py`) runs whatever `Stages` it is given; this module builds
the ones `make sync` runs. The Batigest inspection is made once per run, before the
transform, and shared by the dbt commands (the key columns' lengths), the run's inputs
and the drift stage.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from batisync.core.errors import ConnectionLost, is_connection_loss
from batisync.core.settings import Settings
from batisync.export.inspection import Adaptation
from batisync.export.options import ExportOptions
from batisync.orchestrate.nochange_check import inputs_of, nothing_to_do, transform_certain
from batisync.orchestrate.since import incremental_env, incremental_vars, write_since
from batisync.orchestrate.stages import StageContext, StageFn, Stages
from batisync.orchestrate.summary import StageReport

log = logging.getLogger(__name__)

# Imports stay inside the functions: `batisync doctor` and a run refused by the lock or by
# the configuration never pay for dlt and dbt.


def dbt_stage(
    args: list[str],
    env: Mapping[str, str],
    more_env: Callable[[], Mapping[str, str]] | None = None,
    manifests: Any = None,
    before: Callable[[StageContext], None] | None = None,
    worker: Any = None,
) -> StageFn:
    """A dbt command as a stage; `more_env` adds what is known only at run time (the
    Batigest inspection); stages given one `ManifestCache` share one parse, one
    `DbtWorker` runs them when started; `before` runs first (the adoption of the old
    connector's table)."""

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
            worker=worker,
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


def load_stage(
    settings: Settings,
    prepare: Callable[[], None] = lambda: None,
    certain: Callable[[], bool] = lambda: False,
) -> StageFn:
    """`prepare()` (dbt's worker started) as soon as the transform is known to run: before
    the load when `certain()` says so, else at the load's first record to write (the fetch
    goes on beside it); never on a run that writes nothing (it may skip, and must not
    start dbt). The stage does not wait for it (docs/INCREMENTAL.md)."""

    def stage(ctx: StageContext) -> StageReport:
        from batisync.loader.config import load_with_settings
        from batisync.loader.window import sliding_window, utc_today

        if certain():
            prepare()
        return load_with_settings(
            settings,
            sliding_window(settings.window_days, utc_today()),
            progress=lambda fetched, detail: ctx.task.update(completed=fetched, detail=detail),
            written_by=f"sync {ctx.run_id}" + (" (dry run)" if ctx.dry_run else ""),
            on_writing=prepare,
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
                hint = _first_run_hint(settings, staging, batigest)
                report = run_export(
                    staging,
                    batigest,
                    options(),  # the run's inspection, made before the transform
                    force=force,
                    dry_run=ctx.dry_run,
                    run_id=ctx.run_id,
                    with_dbt_rejections=True,
                    keep_plans=False,  # the summary reads counts and a dry run's writes
                    progress=lambda done, total: ctx.task.update(
                        completed=done, total=total, detail="rows"
                    ),
                )
                report.warnings.extend([hint] if hint else [])
                if not ctx.dry_run:  # the next run tells its new rejections from these
                    with staging.begin() as conn:
                        remember_rejections(conn, settings.dbt_schema, datetime.now(UTC))
            except Exception as error:
                if is_connection_loss(error):
                    raise ConnectionLost(_unreachable(staging, batigest), error) from error
                raise
        return report

    return stage


def _first_run_hint(settings: Settings, staging: Any, batigest: Any) -> str | None:
    """A dossier's first export into a SuiviMO that holds rows of the window already:
    how to bring the old connector's map in (logged, and in the export's warnings)."""
    if settings.dossier is None:  # the single configuration is the old staging database
        return None
    from batisync.export.first_run import import_hint, unmapped_rows

    local_now = datetime.now(ZoneInfo(settings.timezone)).replace(tzinfo=None)
    since = datetime.combine(local_now.date() - timedelta(days=settings.window_days), time())
    rows = unmapped_rows(staging, batigest, settings.dbt_schema, settings.batigest_schema, since)
    if not rows:
        return None
    hint = import_hint(settings.dossier, rows, since)
    log.warning("%s", hint)
    return hint


def drift_stage(
    settings: Settings, options: Callable[[], ExportOptions], *, full: bool = False
) -> StageFn:
    """After publish, and after a load that changed nothing too: SuiviMO compared with the
    map, what was deleted or edited by hand restored or reported (`export/heal.py`);
    `full` (`sync --full-refresh`): every employee compared, none skipped on its digests."""

    def stage(ctx: StageContext) -> StageReport:
        from batisync.export.config import engines_from_settings
        from batisync.export.heal import check_drift

        run_options = options()  # the run's inspection, made before the transform
        with engines_from_settings(settings) as (staging, batigest):
            try:
                return check_drift(
                    staging,
                    batigest,
                    run_options,
                    dry_run=ctx.dry_run,
                    run_id=ctx.run_id,
                    full=full,
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


def stages_from_settings(
    settings: Settings, *, force: bool = False, full_refresh: bool = False
) -> Stages:
    """`full_refresh`: the transform rebuilds every incremental model but batigest_heures
    (`full_refresh: false`: the views people built on it survive), and never skips."""
    from batisync.transform.build import (
        PUBLISH_ARGS,
        TRANSFORM_ARGS,
        ManifestCache,
        adopt_old_table,
        dbt_env,
    )
    from batisync.transform.worker import DbtWorker

    env = dbt_env(settings)
    # one inspection per run, before the transform: its lengths feed both dbt commands,
    # and the export and drift stages adapt to it (their options, built once)
    adaptation = functools.cache(lambda: batigest_adaptation(settings))
    inspected = functools.cache(lambda: batigest_env(settings, adaptation()))
    options = functools.cache(lambda: ExportOptions.from_settings(settings, adaptation()))
    manifests = ManifestCache()  # in this process: transform parses, publish reuses it
    worker = DbtWorker()  # dbt in a process of its own, started during the load
    inputs = functools.cache(lambda: inputs_of(settings, env, inspected()))
    # read once per run, under its lock: every incremental model filters on the same value
    incremental = functools.cache(lambda: incremental_env(settings, inputs))
    transform_args = [*TRANSFORM_ARGS, *(["--full-refresh"] if full_refresh else [])]
    more_env = lambda: {**inspected(), **incremental()}  # noqa: E731
    return Stages(
        load=load_stage(
            settings,
            # the same variables, transform_since not written yet (the transform writes it)
            lambda: worker.prepare(lambda: {**env, **inspected(), **incremental_vars()}),
            (lambda: True) if full_refresh else functools.partial(transform_certain, settings),
        ),
        # the old connector's batigest_heures is adopted before any dbt command (a refusal
        # stops the run before the export: exit 2, nothing written to SuiviMO)
        transform=dbt_stage(
            transform_args,
            env,
            more_env,
            manifests,
            before=lambda ctx: adopt_old_table(settings, ctx.run_id),
            worker=worker,
        ),
        export=export_stage(settings, options, force=force),
        # the same variables: batigest_heures reads the since too (incremental in its
        # inputs), and the parse is shared only under one environment
        publish=dbt_stage(list(PUBLISH_ARGS), env, more_env, manifests, worker=worker),
        drift=drift_stage(settings, options, full=full_refresh),
        skip_after_load=None
        if full_refresh
        else lambda report, dry_run: nothing_to_do(settings, report, inputs, dry_run),
        inputs=inputs,
        close=worker.stop,
    )


__all__ = [
    "batigest_env",
    "dbt_stage",
    "drift_stage",
    "export_stage",
    "incremental_env",
    "incremental_vars",
    "load_stage",
    "stages_from_settings",
    "write_since",
]
