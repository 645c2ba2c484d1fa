"""Run dbt in-process on the project's `dbt_project/`, and say what failed.

`run_dbt(["build"])` is `dbt build --project-dir dbt_project --profiles-dir dbt_project`
run through dbt's own programmatic entry point (`dbtRunner`), so no shell, no PATH and
no copy of profiles.yml (it is a symlink to profiles.example.yml). The profile reads the
staging PostgreSQL from libpq's `PG*` variables: pass them in `env` (or have them in
the environment). Everything set for the call is restored afterwards.

Parallel runs (tests) should give each run its own `DBT_TARGET_PATH` and `DBT_LOG_PATH`
in `env`: dbt writes its manifest and logs there.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"

# Always set for a run: dbt must not phone home from a sync.
_FIXED_ENV = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
# Node statuses that make a result "failed" (dbt's RunStatus / TestStatus values).
_FAILED = {"error", "fail", "runtime error"}
_WARNED = {"warn"}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DbtNodeResult:
    """One node (model, test, unit test, hook, source) that did not simply pass."""

    unique_id: str
    name: str
    resource_type: str
    status: str
    message: str | None = None
    failures: int | None = None
    attached_node: str | None = None  # a data test: the model (or source) it tests

    def describe(self) -> str:
        text = f"{self.resource_type} {self.name}: {self.status}"
        return f"{text} ({self.message})" if self.message else text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DbtResult:
    """The outcome of one dbt command."""

    args: tuple[str, ...]
    success: bool
    failures: tuple[DbtNodeResult, ...] = ()
    warnings: tuple[DbtNodeResult, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)  # status -> nodes
    # every data test the command ran, whatever its status (the run's own results: the
    # summary's and Dagster's asset checks read them, nothing runs a test again)
    tests: tuple[DbtNodeResult, ...] = ()
    error: str | None = None  # dbt could not run at all (bad project, no connection…)
    elapsed_s: float = 0.0
    raw: Any = field(default=None, repr=False, compare=False)  # dbt's own result object

    @property
    def failed_nodes(self) -> list[str]:
        return [f.name for f in self.failures]

    def summary(self) -> str:
        """One line per problem, for logs and the run summary."""
        if self.error:
            return f"dbt {' '.join(self.args)} could not run: {self.error}"
        lines = [f"dbt {' '.join(self.args)}: {'ok' if self.success else 'FAILED'}"]
        lines += [f"  {f.describe()}" for f in self.failures]
        lines += [f"  {w.describe()}" for w in self.warnings]
        return "\n".join(lines)


def dbt_args(args: Sequence[str], project_dir: Path = DBT_PROJECT_DIR) -> list[str]:
    """`args` plus the project and profiles folders, unless the caller gave them."""
    full = list(args)
    if "--project-dir" not in full:
        full += ["--project-dir", str(project_dir)]
    if "--profiles-dir" not in full:
        full += ["--profiles-dir", str(project_dir)]
    return full


def node_counter(on_node: Callable[[int, int], None]) -> Callable[[Any], None]:
    """A dbtRunner callback calling `on_node(done, total)` as each node finishes (dbt's
    own `index of total` of its result lines)."""

    def callback(event: Any) -> None:
        data = getattr(event, "data", None)
        name = getattr(getattr(event, "info", None), "name", "")
        index, total = getattr(data, "index", None), getattr(data, "total", None)
        if name.endswith("Result") and isinstance(index, int) and isinstance(total, int) and total:
            on_node(index, total)

    return callback


def run_dbt(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    manifest: Any = None,
    on_node: Callable[[int, int], None] | None = None,
) -> DbtResult:
    """Run `dbt <args>` in-process on dbt_project/ with `env` set for the call only.

    Never raises for a failing dbt command: `success` is False and `failures` (or
    `error`, when dbt could not run at all) says why. `manifest` (from `parse_manifest`)
    spares dbt parsing the project again.
    """
    from dbt.cli.main import dbtRunner  # imported late: dbt is slow to import

    full_args = dbt_args(args)
    started = time.monotonic()
    with _environment({**_FIXED_ENV, **(env or {})}):
        options: dict[str, Any] = {}
        if manifest is not None:
            options["manifest"] = manifest  # parsed once per run (transform.build)
        if on_node:
            options["callbacks"] = [node_counter(on_node)]
        runner = dbtRunner(**options)
        outcome = runner.invoke(full_args)
    elapsed = time.monotonic() - started
    result = replace(
        interpret(tuple(args), outcome.success, outcome.result, outcome.exception),
        elapsed_s=elapsed,
    )
    (log.info if result.success else log.error)("%s", result.summary())
    if log.isEnabledFor(logging.DEBUG):
        log.debug("dbt's slowest nodes: %s", slowest_nodes(outcome.result))
    return result


def slowest_nodes(dbt_result: Any, count: int = 12) -> str:
    """`name 0.42s, …`: where a command's time went (the debug log's)."""
    timed = [
        (float(getattr(r, "execution_time", 0) or 0), getattr(r.node, "name", "?"))
        for r in getattr(dbt_result, "results", None) or []
    ]
    timed.sort(reverse=True)
    total = sum(t for t, _ in timed)
    named = ", ".join(f"{name} {t:.2f}s" for t, name in timed[:count])
    return f"{len(timed)} nodes, {total:.2f}s in all: {named}"


def parse_manifest(*, env: Mapping[str, str] | None = None) -> Any:
    """`dbt parse`: the project's manifest, for several commands in one run to share
    (None when dbt could not parse: each command then parses, and says why it fails)."""
    from dbt.cli.main import dbtRunner

    with _environment({**_FIXED_ENV, **(env or {})}):
        # no manifest.json: the command given this manifest writes it (0.4 s at parse)
        outcome = dbtRunner().invoke(dbt_args(["parse", "--no-write-json", "--log-level", "warn"]))
    return outcome.result if outcome.success else None


def interpret(
    args: tuple[str, ...], success: bool, dbt_result: Any, exception: BaseException | None
) -> DbtResult:
    """Turn what dbtRunner returned into a DbtResult (pure: no dbt call here)."""
    if exception is not None:
        return DbtResult(args, False, error=f"{type(exception).__name__}: {exception}")
    failures: list[DbtNodeResult] = []
    warnings: list[DbtNodeResult] = []
    tests: list[DbtNodeResult] = []
    counts: dict[str, int] = {}
    for node_result in getattr(dbt_result, "results", None) or []:
        status = str(getattr(node_result.status, "value", node_result.status)).lower()
        counts[status] = counts.get(status, 0) + 1
        item = _node_result(node_result, status)
        if status in _FAILED or status in _WARNED:
            (failures if status in _FAILED else warnings).append(item)
        if item.resource_type == "test":  # a data test (unit tests are `unit_test`)
            tests.append(item)
    return DbtResult(
        args,
        bool(success) and not failures,
        tuple(failures),
        tuple(warnings),
        counts,
        tuple(tests),
        raw=dbt_result,
    )


def _node_result(node_result: Any, status: str) -> DbtNodeResult:
    node = getattr(node_result, "node", None)
    unique_id = getattr(node, "unique_id", "") or ""
    return DbtNodeResult(
        unique_id=unique_id,
        name=getattr(node, "name", None) or unique_id,
        resource_type=str(getattr(getattr(node, "resource_type", ""), "value", "node")),
        status=status,
        message=getattr(node_result, "message", None),
        failures=getattr(node_result, "failures", None),
        attached_node=getattr(node, "attached_node", None),
    )


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set `values` in os.environ (dbt reads env_var() there) and put everything back."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
