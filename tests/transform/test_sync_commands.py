"""The dbt commands of a production sync: no unit tests, publish without re-testing, one
parse per run, and the expensive intermediate models built as tables."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from batisync.transform import build as build_module
from batisync.transform.build import PUBLISH_ARGS, TRANSFORM_ARGS, ManifestCache, build
from batisync.transform.dbt_runner import DbtResult, parse_manifest, run_dbt
from batisync.transform.worker import DbtWorker
from devstack.pg import EmbeddedPostgres
from tests.transform.helpers import make_staging

pytestmark = pytest.mark.slow


def _types(result: DbtResult) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node_result in result.raw.results:
        kind = node_result.node.resource_type.value
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def test_transform_tests_the_data_not_the_units_and_publish_only_rebuilds(
    pg: EmbeddedPostgres, tmp_path: Path
) -> None:
    staging = make_staging(pg, "dbt_sync_commands", tmp_path)
    manifest = parse_manifest(env=staging.env)
    assert manifest is not None

    transform = run_dbt(list(TRANSFORM_ARGS), env=staging.env, manifest=manifest)
    publish = run_dbt(list(PUBLISH_ARGS), env=staging.env, manifest=manifest)

    assert transform.success, transform.summary()
    assert publish.success, publish.summary()
    done = _types(transform)
    assert done.get("unit_test", 0) == 0 and done["test"] > 0 and done["model"] > 0
    assert set(_types(publish)) - {"operation"} == {"model"}  # rebuilt, not tested again
    kinds = staging.rows(
        "select table_schema || '.' || table_name as name, table_type from "
        "information_schema.tables where table_name in "
        "('int_time_slots_resolved', 'int_time_slots_pushable', 'stg_batisimply__time_slots')"
    )
    assert {r["name"].split(".")[1]: r["table_type"] for r in kinds} == {
        "int_time_slots_resolved": "BASE TABLE",
        "int_time_slots_pushable": "BASE TABLE",
        "stg_batisimply__time_slots": "VIEW",
    }


def test_the_commands_of_one_run_share_one_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    parses: list[dict[str, str]] = []
    given: list[Any] = []
    manifest = object()

    def fake_parse(*, env: dict[str, str]) -> object:
        parses.append(env)
        return manifest

    def fake_run(
        args: list[str], *, env: dict[str, str], manifest: Any = None, on_node: Any = None
    ) -> DbtResult:
        given.append(manifest)
        return DbtResult(tuple(args), True)

    monkeypatch.setattr(build_module, "parse_manifest", fake_parse)
    monkeypatch.setattr(build_module, "run_dbt", fake_run)
    cache = ManifestCache()
    build(list(TRANSFORM_ARGS), {"PGDATABASE": "x"}, manifests=cache)
    build(list(PUBLISH_ARGS), {"PGDATABASE": "x"}, manifests=cache)
    build(["build"], {"PGDATABASE": "x"})  # no cache: dbt parses by itself

    assert len(parses) == 1
    assert given == [manifest, manifest, None]


def test_a_worker_runs_the_runs_commands_and_the_sync_runs_them_when_it_cannot(
    pg: EmbeddedPostgres, tmp_path: Path
) -> None:
    """dbt's worker (`transform.worker.DbtWorker`, a process started during the load):
    it parses with the build's environment and runs the commands it is given, their
    node progress and results sent back; a worker gone leaves the command to this
    process, and `stop` leaves no process behind."""
    staging = make_staging(pg, "dbt_worker", tmp_path)
    worker = DbtWorker()
    worker.start(staging.env)
    worker.start({"PGDATABASE": "never"})  # once per run
    nodes: list[tuple[int, int]] = []
    try:
        reports = [
            build(list(args), staging.env, worker=worker, on_node=lambda *n: nodes.append(n))
            for args in (TRANSFORM_ARGS, PUBLISH_ARGS)
        ]
        assert reports[0].passed > 0 and not reports[0].failures
        assert {t.name for t in reports[0].tests}  # each data test's own result came back
        assert nodes and all(done <= total for done, total in nodes)
        assert staging.rows("select count(*) as n from public.to_push") == [{"n": 0}]

        process = worker._process
        assert process is not None and process.poll() is None
        process.kill()  # gone: the next command runs here, and says so
        process.wait()
        report = build(list(PUBLISH_ARGS), staging.env, worker=worker)
        assert report.passed > 0
        assert worker._conn is None
    finally:
        worker.stop()
    assert process.returncode is not None


def test_a_worker_runs_a_command_of_another_environment_with_its_own_parse(
    pg: EmbeddedPostgres, tmp_path: Path
) -> None:
    """The worker's parse serves only the environment it was given (here one dbt cannot
    even parse with): a command with another one parses by itself, and succeeds."""
    staging = make_staging(pg, "dbt_worker_env", tmp_path)
    worker = DbtWorker()
    worker.start(
        {**staging.env, "DBT_PROJECT_VERSION_BROKEN": "1", "DBT_TARGET_PATH": "/dev/null/x"}
    )
    try:
        result = worker.run(["run", "--select", "+to_push"], staging.env)
        assert result is not None and result.success, result and result.summary()
        assert result.raw is None  # dbt's own objects stay in the worker
    finally:
        worker.stop()
    assert worker._process is not None and worker._process.poll() is not None  # ended


def test_the_worker_imports_dbt_while_the_sync_computes_its_environment(
    pg: EmbeddedPostgres, tmp_path: Path
) -> None:
    """`prepare` starts the worker before it computes the build's environment (the
    Batigest inspection: ~0.5 s of a changed run), so dbt's import (most of the worker's
    preparation, which needs no environment) goes on meanwhile; the parse then uses it."""
    staging = make_staging(pg, "dbt_worker_early", tmp_path)
    worker = DbtWorker()
    running_when_asked: list[bool] = []

    def environment() -> dict[str, str]:
        process = worker._process
        running_when_asked.append(process is not None and process.poll() is None)
        return staging.env

    worker.prepare(environment)
    worker.prepare(environment)  # once per run
    try:
        assert running_when_asked == [True]
        assert worker.env == staging.env
        result = worker.run(["run", "--select", "+to_push"], staging.env)
        assert result is not None and result.success, result and result.summary()
    finally:
        worker.stop()


def test_a_worker_whose_environment_fails_is_stopped_at_once() -> None:
    """The environment cannot be computed (Batigest unreachable for its inspection): the
    worker started for it is ended there, not left importing dbt, and the commands run
    in the sync's process (which then says why they fail)."""
    worker = DbtWorker()

    def environment() -> dict[str, str]:
        raise ConnectionError("Batigest unreachable")

    worker.prepare(environment)
    process = worker._process
    assert process is not None and process.poll() is not None  # ended
    assert worker.run(["parse"], {}) is None
    worker.prepare(lambda: {})  # started once per run: not again
    assert worker._process is process


def _parent_of_a_worker(
    tmp_path: Path, module: str, env: dict[str, str]
) -> tuple[subprocess.Popen[str], int]:
    """A process (the sync) that starts a worker running `module`, and the worker's pid."""
    script = tmp_path / "parent.py"
    script.write_text(
        "import time\n"
        "from batisync.transform.worker import DbtWorker\n"
        f"DbtWorker.module = {module!r}\n"
        "worker = DbtWorker()\n"
        f"worker.start({env!r})\n"
        "print(worker._process.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
        env={**os.environ, "READY_FILE": str(tmp_path / "ready")},
    )
    assert parent.stdout is not None
    return parent, int(parent.stdout.readline())


def _within(seconds: float, done: Callable[[], bool]) -> bool:
    """Whether `done()` holds within `seconds` (asked every 50 ms)."""
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        time.sleep(0.05)
    return done()


def test_the_worker_leaves_with_the_sync(tmp_path: Path) -> None:
    """A sync killed (SIGKILL: no `stop`) leaves no dbt worker running: the worker
    watches its parent and exits with it."""
    parent, child = _parent_of_a_worker(
        tmp_path, "batisync.transform.worker", {"PGDATABASE": "nowhere"}
    )
    parent.kill()
    parent.wait()
    assert _within(30, lambda: not _alive(child))


def test_the_worker_dies_with_the_sync_even_busy(tmp_path: Path) -> None:
    """Killed with its sync at once, even in the middle of a command (its pid watch an
    hour long): no dbt command goes on writing once the sync, and its lock, are gone."""
    parent, child = _parent_of_a_worker(tmp_path, "tests.transform.slow_watch_worker", {})
    assert _within(60, (tmp_path / "ready").exists) and _alive(child)
    parent.kill()
    parent.wait()
    gone = _within(30, lambda: not _alive(child))  # without the signal: an hour
    if not gone:
        os.kill(child, 9)
    assert gone


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not reaped: its parent is gone, init reaps it) counts as gone
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        return state != "Z"
    return True
