"""`batisync sync --json`, stopped by a signal in the middle of its transform: its load
has committed, dbt has rebuilt some models and not the marts.

    python -m tests.orchestrate.stopped_sync SIGTERM|SIGKILL NODES [sync options]

The signal is sent to the process itself when dbt reports its NODES-th node done. The
hook wraps the real transform stage and keeps every other part of the real stages (the
no-change check and the inputs included), unlike `devstack/reliability/crashing.py`
whose stages never skip; nothing in `batisync` knows about it.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
from typing import Any

from batisync.cli import main
from batisync.orchestrate import wiring
from batisync.orchestrate.stages import StageContext, StageFn, Stages


class _SignallingTask:
    """The stage's progress, which sends `signum` once `after` dbt nodes are done."""

    def __init__(self, task: Any, signum: signal.Signals, after: int) -> None:
        self._task, self._signum, self._after = task, signum, after
        self._sent = False

    def update(
        self, completed: int | None = None, total: int | None = None, detail: str | None = None
    ) -> None:
        self._task.update(completed=completed, total=total, detail=detail)
        if completed is not None and completed >= self._after and not self._sent:
            self._sent = True
            sys.stdout.flush()
            os.kill(os.getpid(), self._signum)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._task, name)


def _stopping(stage: StageFn, signum: signal.Signals, after: int) -> StageFn:
    def run(ctx: StageContext) -> Any:
        task = _SignallingTask(ctx.task, signum, after)
        return stage(dataclasses.replace(ctx, task=task))  # type: ignore[arg-type]

    return run


def install(signum: signal.Signals, after: int) -> None:
    original = wiring.stages_from_settings

    def stages_from_settings(settings: Any, *, force: bool = False) -> Stages:
        stages = original(settings, force=force)
        return dataclasses.replace(stages, transform=_stopping(stages.transform, signum, after))

    wiring.stages_from_settings = stages_from_settings


if __name__ == "__main__":
    install(signal.Signals[sys.argv[1]], int(sys.argv[2]))
    sys.exit(main(["sync", "--json", *sys.argv[3:]]))
