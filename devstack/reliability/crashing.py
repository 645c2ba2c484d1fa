"""`batisync sync --json`, killed by SIGKILL at one point of the run.

    python -m devstack.reliability.crashing POINT

POINT: `none`, `before:<stage>` / `after:<stage>` (load, transform, export, publish), or
`statement:N` (right after the N-th SQL statement the export stage executes, on either
database, before its transaction commits). The hook wraps the real stages; nothing in
`batisync` knows about it. A run whose export has fewer than N statements ends normally.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import sqlalchemy as sa

from batisync.cli import main
from batisync.orchestrate import sync as sync_module
from batisync.orchestrate.stages import StageContext, StageFn, Stages


def _kill() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _count_statements(limit: int) -> None:
    seen = {"n": 0}

    def after(*_: Any) -> None:
        seen["n"] += 1
        if seen["n"] >= limit:
            _kill()

    sa.event.listen(sa.engine.Engine, "after_cursor_execute", after)


def _wrap(point: str, name: str, stage: StageFn | None) -> StageFn | None:
    if stage is None:
        return None

    def run(ctx: StageContext) -> Any:
        if point == f"before:{name}":
            _kill()
        if name == "export" and point.startswith("statement:"):
            _count_statements(int(point.partition(":")[2]))
        report = stage(ctx)
        if point == f"after:{name}":
            _kill()
        return report

    return run


def install(point: str) -> None:
    original = sync_module.stages_from_settings

    def stages_from_settings(settings: Any, *, force: bool = False) -> Stages:
        stages = original(settings, force=force)
        return Stages(
            load=_wrap(point, "load", stages.load),
            transform=_wrap(point, "transform", stages.transform),
            export=_wrap(point, "export", stages.export),
            publish=_wrap(point, "publish", stages.publish),
        )

    sync_module.stages_from_settings = stages_from_settings


if __name__ == "__main__":
    install(sys.argv[1] if len(sys.argv) > 1 else "none")
    sys.exit(main(["sync", "--json", *sys.argv[2:]]))
