"""The stage runner: stages in order, each timed, the rest skipped after a failure.

A stage is a callable taking a `StageContext` and returning its report; the runner knows
nothing of what a stage does, so the order and the stop-at-first-failure rule are tested
with recording stages (`tests/orchestrate`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from batisync.core.errors import (
    ConfigError,
    StageError,
    connection_lost_line,
    first_line,
    is_connection_loss,
    lost_system,
)
from batisync.core.logs import ProgressDisplay, StageTask, redact
from batisync.orchestrate.summary import StageReport, StageResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StageContext:
    run_id: str
    task: StageTask  # progress of this stage
    dry_run: bool = False


StageFn = Callable[[StageContext], StageReport | None]


@dataclass(frozen=True)
class Stages:
    load: StageFn
    transform: StageFn
    export: StageFn
    # after a successful export: refresh what reports the push (the batigest_heures mart)
    publish: StageFn | None = None
    # after a successful load (its report, dry run or not): why the rest can be skipped
    # (nothing changed), or None
    skip_after_load: Callable[[StageReport | None, bool], str | None] | None = None
    # the fingerprint of what the transform depends on, recorded by a complete run
    inputs: Callable[[], str] | None = None
    # last, even when the stages after the load were skipped (nothing changed): SuiviMO
    # compared with the map, what a person deleted or edited restored or reported
    drift: StageFn | None = None
    # after the stages, before the run is recorded and its lock released: what they
    # started and left running is ended (dbt's worker process)
    close: Callable[[], None] | None = None

    def ordered(self) -> list[tuple[str, StageFn]]:
        named = [("load", self.load), ("transform", self.transform), ("export", self.export)]
        named += [("publish", self.publish)] if self.publish else []
        return named + ([("drift", self.drift)] if self.drift else [])


# stages that run after a no-change skip (never after a failure)
RUN_AFTER_SKIP = ("drift",)


# the system a stage talks to when a lost connection does not say which (the export
# stage and the Salarie read name theirs with `ConnectionLost`)
_STAGE_SYSTEM = {
    "load": "the staging PostgreSQL",
    "transform": "the staging PostgreSQL",
    "publish": "the staging PostgreSQL",
    "export": "the staging PostgreSQL or Batigest",
    "drift": "the staging PostgreSQL or Batigest",
}


def _lost_line(stage: str, error: Exception) -> str | None:
    """One clear line when a stage failed because a system went away, else None."""
    if not is_connection_loss(error):
        return None
    system = lost_system(error, _STAGE_SYSTEM.get(stage, "a database"))
    return connection_lost_line(system, error)


def execute_stages(
    stages: Stages, run_id: str, display: ProgressDisplay, *, dry_run: bool = False
) -> list[StageResult]:
    """Run the stages in order; after a failure the rest are `skipped`."""
    results: list[StageResult] = []
    failed = False
    skip: str | None = None
    for name, stage in stages.ordered():
        if failed or (skip and name not in RUN_AFTER_SKIP):
            results.append(StageResult(name, "skipped", note=None if failed else skip))
            continue
        log.info("stage %s: started", name)
        began = time.monotonic()
        try:
            with display.stage(name) as task:
                report = stage(StageContext(run_id=run_id, task=task, dry_run=dry_run))
            result = StageResult(name, "ok", time.monotonic() - began, report)
            log.info("stage %s: done in %.1f s", name, result.duration_s)
        except ConfigError as error:  # found by the stage itself (e.g. Batigest inspection)
            result = StageResult(
                name, "failed", time.monotonic() - began, None, redact(str(error)), True
            )
        except StageError as error:
            cause = _lost_line(name, error) or str(error)
            result = StageResult(
                name, "failed", time.monotonic() - began, error.report, redact(cause)
            )
        except (Exception, KeyboardInterrupt) as error:
            log.debug("stage %s raised", name, exc_info=True)
            if isinstance(error, KeyboardInterrupt):
                cause = f"interrupted by {error}" if str(error) else "interrupted"
            else:
                cause = _lost_line(name, error) or first_line(error)
            result = StageResult(name, "failed", time.monotonic() - began, None, redact(cause))
        if result.status == "failed":
            log.error("stage %s failed: %s", name, result.error)
            failed = True
        results.append(result)
        ready = name == "load" and result.status == "ok" and stages.skip_after_load
        if ready and (skip := stages.skip_after_load(result.report, dry_run)):  # type: ignore[misc]
            log.info("transform and export skipped: %s", skip)
    return results


__all__ = [
    "StageContext",
    "StageFn",
    "Stages",
    "execute_stages",
]
