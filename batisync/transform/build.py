"""The transform stage: which dbt nodes a sync builds, with which variables, and what it
keeps of the result.

`dbt_project/profiles.yml` reads the staging PostgreSQL from libpq's `PG*` variables and
`dbt_project.yml` reads the sync's settings from the environment: `dbt_env` is that set.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from batisync.core.connections import staging_options
from batisync.core.errors import StageError
from batisync.core.settings import Settings
from batisync.transform.dbt_runner import DbtNodeResult, DbtResult, parse_manifest, run_dbt
from batisync.transform.worker import DbtWorker

log = logging.getLogger(__name__)

# what the exporter and the drift stage read, with everything upstream and its tests
TRANSFORM_SELECT = ("+to_push", "+heures_gone", "+heures_rejected", "+heures_synced")
# rebuilt after the export from the map it just wrote: to_push then holds what the next
# export will write (nothing, after a clean run), heures_gone what it left, and
# batigest_heures.sync shows the push; heures_synced, a view on to_push, is created
# again (rebuilding to_push drops the views on it). int_time_slots_pushable is not: the
# export writes map rows only of to_push's slots (pushable, without a key collision) and
# drops only those of heures_gone's (not pushable, and left out of the keys held), and
# pushable reads neither, so it is what a rebuild would give (docs/INCREMENTAL.md)
PUBLISH_SELECT = (
    "to_push",
    "heures_gone",
    "batigest_heures",
    "heures_synced",
)
# A sync's two dbt commands. The unit tests are CI's (`make test`), not every run's, and
# so are the data tests tagged `implied` (they follow from tests the build runs: see
# heures_synced's); the data tests run in transform, and publish only rebuilds what
# transform tested.
TRANSFORM_SELECTION = (
    "--select",
    *TRANSFORM_SELECT,
    "--exclude-resource-type",
    "unit_test",
    "--exclude",
    "tag:implied",
)
TRANSFORM_ARGS = ("build", *TRANSFORM_SELECTION)
PUBLISH_ARGS = ("run", "--select", *PUBLISH_SELECT)


def dbt_env(settings: Settings) -> dict[str, str]:
    """The variables `dbt_project/profiles.yml` and `dbt_project.yml` read."""
    return {
        **settings.staging.env(),
        "DBT_SCHEMA": settings.dbt_schema,
        "HEURES_TIMEZONE": settings.timezone,
        "HEURES_WINDOW_DAYS": str(settings.window_days),
        "BATIGEST_SCHEMA": settings.batigest_schema,
        "HEURES_MAX_MINUTES": str(settings.max_minutes),
        # no JIT in dbt's sessions either (100k slots, EXPLAIN ANALYZE: heures_rejected
        # 2.9 s with JIT, 1.0 s without); libpq reads PGOPTIONS
        "PGOPTIONS": staging_options(),
    }


@dataclass(frozen=True)
class TransformReport:
    """What the run summary keeps of a dbt command."""

    command: str
    passed: int = 0
    counts: Mapping[str, int] = field(default_factory=dict)  # node status -> nodes
    failures: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    error: str | None = None
    # each data test's own result (name, status, failing rows, model): what a scheduler
    # shows as checks of the run (Dagster's asset checks), without running them again
    tests: tuple[DbtNodeResult, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "passed": self.passed,
            "counts": dict(self.counts),
            "failures": list(self.failures),
            "warnings": list(self.warnings),
            "error": self.error,
            "tests": [test.to_dict() for test in self.tests],
        }


def dbt_report(result: DbtResult, command: str | None = None) -> TransformReport:
    counts = dict(result.counts)
    return TransformReport(
        command=command or "dbt " + " ".join(result.args),
        passed=counts.get("pass", 0) + counts.get("success", 0),
        counts=counts,
        failures=tuple(f.describe() for f in result.failures),
        warnings=tuple(w.describe() for w in result.warnings),
        error=result.error,
        tests=result.tests,
    )


def dbt_failure(result: DbtResult) -> str:
    """The cause of a failed dbt command, in one line: the failing nodes first."""
    if result.error:
        return f"dbt {result.args[0]} could not run: {result.error}"
    named = "; ".join(f.describe() for f in result.failures[:5])
    more = f" (and {len(result.failures) - 5} more)" if len(result.failures) > 5 else ""
    return f"dbt {result.args[0]} failed: {named or 'see the dbt log'}{more}"


class ManifestCache:
    """One parse of the project for the dbt commands a run makes in this process (the
    worker's failing): parsed at first use, with the first command's environment, and
    reused by the next."""

    def __init__(self) -> None:
        self.manifest: Any = None
        self.parsed = False

    def get(self, env: Mapping[str, str]) -> Any:
        if not self.parsed:
            self.parsed = True
            self.manifest = parse_manifest(env=dict(env))
        return self.manifest


def build(
    args: Sequence[str],
    env: Mapping[str, str],
    *,
    progress: Callable[[str], None] | None = None,
    manifests: ManifestCache | None = None,
    on_node: Callable[[int, int], None] | None = None,
    worker: DbtWorker | None = None,
) -> TransformReport:
    """Run one dbt command as a sync stage; raises StageError (with the report) on failure.
    A started `worker` runs it; else commands given the same `manifests` share one parse
    here; `on_node(done, total)` follows dbt's nodes (the progress bar on a terminal)."""
    if progress:
        progress(" ".join(args))
    # dbt prints to stdout: keep stdout for the summary (`--json` must parse) and let
    # dbt's warnings and errors go where our own log lines go; colour codes only on a
    # terminal (cron's log file gets plain lines)
    level = "info" if logging.getLogger().isEnabledFor(logging.DEBUG) else "warn"
    colours = {"DBT_USE_COLORS": "True" if sys.stderr.isatty() else "False"}
    # no manifest.json nor run_results.json (0.1-0.4 s a command at 100k): the run's
    # results are in its summary and `sync_runs`; `batisync dbt` writes them
    full_args = [*args, "--log-level", level, "--no-write-json"]
    result = worker.run(full_args, env, on_node, colours) if worker is not None else None
    if result is None:
        with contextlib.redirect_stdout(sys.stderr):
            manifest = manifests.get(env) if manifests is not None else None
            result = run_dbt(full_args, env={**colours, **env}, manifest=manifest, on_node=on_node)
    report = dbt_report(result, "dbt " + " ".join(args))
    if not result.success:
        raise StageError(dbt_failure(result), report)
    return report


def run_dbt_command(args: list[str], *, env: Mapping[str, str]) -> int:
    """`batisync dbt ARGS`: dbt with its own output, 0 or 1."""
    return 0 if run_dbt(list(args), env=dict(env)).success else 1


# dbt commands that may write batigest_heures: the old connector's table is adopted first
WRITING_COMMANDS = frozenset({"run", "build", "seed", "snapshot", "retry", "run-operation"})


def adopt_old_table(settings: Settings, run_id: str | None = None) -> None:
    """Adopt the old connector's batigest_heures in place before dbt writes it (raises
    AdoptionRefused, a ConfigError, when a DBA must do it). Call it under the sync lock."""
    from batisync.transform.adoption import adopt_batigest_heures

    adopt_batigest_heures(settings.staging.conninfo(), settings.dbt_schema, run_id=run_id)


__all__ = [
    "PUBLISH_ARGS",
    "PUBLISH_SELECT",
    "TRANSFORM_ARGS",
    "TRANSFORM_SELECT",
    "TRANSFORM_SELECTION",
    "WRITING_COMMANDS",
    "ManifestCache",
    "TransformReport",
    "adopt_old_table",
    "build",
    "dbt_env",
    "dbt_failure",
    "dbt_report",
    "run_dbt_command",
]
