"""`batisync sync --json`, killed at one point of the run.

    python -m devstack.reliability.crashing [sigterm/]POINT [sync options…]

POINT: `none`; `before:<stage>` / `after:<stage>` (load, transform, export, publish);
`statement:N` (right after the N-th SQL statement the export stage executes, on either
database, before its transaction commits); `node:NAME` (as dbt reports the transform's
node NAME done, e.g. `node:int_time_slots_resolved`: it and the models it reads are
committed, the models reading it not built; seen in dbt's worker process, which then
signals the sync: `crashing_worker`);
`retract:N` (once the export has committed its N-th batch of retractions). The signal
is SIGKILL unless the point starts with `sigterm/` (then the run stops as under
systemd: `interrupted`, exit 1). The hook wraps the real stages; nothing in `batisync`
knows about it. A run that never reaches its point ends normally.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from batisync.cli import main
from batisync.orchestrate import wiring
from batisync.orchestrate.stages import StageContext, StageFn, Stages


def _signal(name: str) -> Callable[[], None]:
    number = signal.SIGTERM if name == "sigterm" else signal.SIGKILL

    def send() -> None:
        sys.stdout.flush()
        os.kill(os.getpid(), number)  # SIGTERM: the run's own handler takes it from here

    return send


def _count_statements(limit: int, fire: Callable[[], None]) -> None:
    seen = {"n": 0}

    def after(*_: Any) -> None:
        seen["n"] += 1
        if seen["n"] == limit:
            fire()

    sa.event.listen(sa.engine.Engine, "after_cursor_execute", after)


def after_node(name: str, fire: Callable[[], None]) -> None:
    """Fire once dbt reports the node `name` done (its result line: a model's relation is
    committed by then). Wraps the transform's node counter (batisync/transform/dbt_runner.py),
    the one callback a sync gives dbt."""
    from batisync.transform import dbt_runner

    counter = dbt_runner.node_counter

    def node_counter(on_node: Callable[[int, int], None]) -> Callable[[Any], None]:
        count = counter(on_node)

        def callback(event: Any) -> None:
            count(event)
            node = getattr(getattr(event, "data", None), "node_info", None)
            result = getattr(getattr(event, "info", None), "name", "").endswith("Result")
            if result and getattr(node, "node_name", None) == name:
                fire()

        return callback

    dbt_runner.node_counter = node_counter


def _count_retractions(limit: int, fire: Callable[[], None]) -> None:
    # the exporter's retraction batches (batisync/export/runner.py): one call, one batch
    from batisync.export import runner

    original = runner._Pusher.retract
    seen = {"n": 0}

    def retract(self: Any, mapped: Any) -> None:
        original(self, mapped)
        seen["n"] += 1
        if seen["n"] == limit:
            fire()

    runner._Pusher.retract = retract  # type: ignore[method-assign]


def _wrap(point: str, fire: Callable[[], None], name: str, stage: StageFn | None) -> StageFn | None:
    if stage is None:
        return None
    kind, _, count = point.partition(":")

    def run(ctx: StageContext) -> Any:
        if point == f"before:{name}":
            fire()
        if name == "export" and kind == "statement":
            _count_statements(int(count), fire)
        if name == "export" and kind == "retract":
            _count_retractions(int(count), fire)
        if name == "transform" and kind == "node":
            after_node(count, fire)  # dbt in this process (the worker's fallback)
        report = stage(ctx)
        if point == f"after:{name}":
            fire()
        return report

    return run


# `node:NAME` in dbt's worker process (`crashing_worker`): "<sigkill|sigterm>:NAME"
NODE_ENV = "RELIABILITY_CRASH_AT_NODE"


def install(point: str) -> None:
    how, _, where = point.rpartition("/")
    fire = _signal(how or "sigkill")
    kind, _, name = where.partition(":")
    if kind == "node":
        from batisync.transform.worker import DbtWorker

        os.environ[NODE_ENV] = f"{how or 'sigkill'}:{name}"
        DbtWorker.module = "devstack.reliability.crashing_worker"
    original = wiring.stages_from_settings

    def stages_from_settings(settings: Any, *, force: bool = False) -> Stages:
        stages = original(settings, force=force)
        return dataclasses.replace(
            stages,
            load=_wrap(where, fire, "load", stages.load),
            transform=_wrap(where, fire, "transform", stages.transform),
            export=_wrap(where, fire, "export", stages.export),
            publish=_wrap(where, fire, "publish", stages.publish),
        )

    wiring.stages_from_settings = stages_from_settings


if __name__ == "__main__":
    install(sys.argv[1] if len(sys.argv) > 1 else "none")
    sys.exit(main(["sync", "--json", *sys.argv[2:]]))
