"""The orchestration with injected stages: order, stop at first failure, lock, history."""

from __future__ import annotations

import io
import json
import logging
from dataclasses import replace
from typing import Any

import psycopg
import pytest

from batisync.core.errors import StageError
from batisync.core.logs import setup_logging
from batisync.orchestrate.lock import LockBusy, sync_lock
from batisync.orchestrate.stages import StageContext, Stages
from batisync.orchestrate.sync import run_sync
from batisync.transform.build import TransformReport
from tests.orchestrate.helpers import (
    EXPORT_REPORT,
    LOAD_REPORT,
    TRANSFORM_REPORT,
    Recorder,
)


def _history(conninfo: dict[str, Any]) -> list[dict[str, Any]]:
    with psycopg.connect(**conninfo) as conn:
        cursor = conn.execute("select * from public.sync_runs order by started_at")
        columns = [c.name for c in cursor.description or []]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def test_success_runs_the_stages_in_order_and_records_the_counts(conninfo: dict) -> None:
    recorder = Recorder(load=LOAD_REPORT, transform=TRANSFORM_REPORT, export=EXPORT_REPORT)
    summary = run_sync(recorder.stages(publish=True), conninfo=conninfo)

    assert recorder.calls == ["load", "transform", "export", "publish"]
    assert {ctx.run_id for ctx in recorder.contexts} == {summary.run_id}
    assert (summary.status, summary.exit_code) == ("success", 0)
    [row] = _history(conninfo)
    assert row["run_id"] == summary.run_id
    assert row["status"] == "success" and row["exit_code"] == 0
    assert row["finished_at"] >= row["started_at"]
    assert (row["rows_fetched"], row["rows_changed_staging"]) == (132, 12)
    assert (row["inserted"], row["updated"], row["moved"], row["unchanged"]) == (7, 2, 1, 90)
    assert row["rejected"] == 5
    stages = {s["name"]: s for s in row["summary"]["stages"]}
    assert stages["load"]["report"] == json.loads(json.dumps(LOAD_REPORT.to_dict()))
    assert row["summary"]["suivimo"]["rejected_reasons"] == {
        "no_project_code": 3,
        "unknown_salarie": 2,
    }


def test_a_failing_transform_blocks_the_export(conninfo: dict) -> None:
    failure = StageError(
        "dbt build failed: unique_stg_time_slots_id",
        TransformReport("dbt build", failures=("test unique_stg_time_slots_id: fail",)),
    )
    recorder = Recorder(load=LOAD_REPORT, transform=failure, export=EXPORT_REPORT)
    summary = run_sync(recorder.stages(publish=True), conninfo=conninfo)

    assert recorder.calls == ["load", "transform"]
    assert (summary.status, summary.exit_code, summary.failed_stage) == ("failed", 1, "transform")
    assert [s.status for s in summary.stages] == ["ok", "failed", "skipped", "skipped"]
    [row] = _history(conninfo)
    assert row["status"] == "failed" and row["failed_stage"] == "transform"
    assert "unique_stg_time_slots_id" in row["error"]
    assert row["inserted"] is None  # no export ran, so no SuiviMO counts are claimed


def test_an_exception_is_reported_without_its_secret(conninfo: dict) -> None:
    boom = RuntimeError("cannot reach mssql+pyodbc://sa:Sup3rS3cret@sql.internal/BTG")
    recorder = Recorder(load=boom)
    summary = run_sync(recorder.stages(), conninfo=conninfo)

    assert recorder.calls == ["load"]
    assert summary.failed_stage == "load"
    assert "sql.internal" in summary.error and "RuntimeError" in summary.error
    assert "Sup3rS3cret" not in json.dumps(summary.to_dict())
    assert "Sup3rS3cret" not in json.dumps(_history(conninfo), default=str)


def test_a_held_lock_means_busy_and_nothing_runs(conninfo: dict) -> None:
    recorder = Recorder()
    with sync_lock(conninfo, name="batisync sync@other-host pid 4242"):
        summary = run_sync(recorder.stages(), conninfo=conninfo)
    assert recorder.calls == []
    assert (summary.status, summary.exit_code) == ("busy", 75)
    assert "batisync sync@other-host pid 4242" in summary.error
    # released: the next run goes through
    assert run_sync(recorder.stages(), conninfo=conninfo).status == "success"


def test_the_lock_is_exclusive_and_released_on_exit(conninfo: dict) -> None:
    with sync_lock(conninfo, name="first holder"):
        with pytest.raises(LockBusy) as busy, sync_lock(conninfo):
            pass
        assert busy.value.holder is not None
        assert busy.value.holder.application_name == "first holder"
        assert busy.value.holder.client_addr == "127.0.0.1"
    with sync_lock(conninfo) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


def test_a_run_left_running_is_marked_abandoned(conninfo: dict) -> None:
    run_sync(Recorder().stages(), conninfo=conninfo)  # creates the table
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        conn.execute(
            "insert into public.sync_runs (run_id, started_at, status) "
            "values ('killed-run', now() - interval '1 hour', 'running')"
        )
    run_sync(Recorder().stages(), conninfo=conninfo)
    status = {row["run_id"]: row["status"] for row in _history(conninfo)}
    assert status["killed-run"] == "abandoned"
    assert list(status.values()).count("success") == 2


def test_unreachable_staging_is_a_failure_naming_it(conninfo: dict) -> None:
    recorder = Recorder()
    bad = {**conninfo, "dbname": "no_such_database_here"}
    summary = run_sync(recorder.stages(), conninfo=bad)
    assert recorder.calls == []
    assert (summary.status, summary.failed_stage) == ("failed", "connect")
    assert "staging PostgreSQL" in summary.error and "no_such_database_here" in summary.error


def test_each_warning_is_logged_once_per_run(conninfo: dict) -> None:
    """Two stages meeting the same thing (the Batigest inspection, say) say it once a run;
    the next run says it again; other warnings and lower levels are untouched."""
    stream = io.StringIO()
    setup_logging(stream=stream, interactive=False)
    inspection = logging.getLogger("batisync.export.config")

    def warn(ctx: StageContext) -> None:
        inspection.warning("Batigest SuiviMO index: no index on (CodeChantier, CodeSalarie)")
        inspection.warning("stage %s warns on its own", ctx.task.name)
        inspection.info("an info line every time")

    stages = Stages(load=warn, transform=warn, export=warn)
    for _ in range(2):
        assert run_sync(stages, conninfo=conninfo).status == "success"
    lines = stream.getvalue().splitlines()
    assert sum("SuiviMO index" in line for line in lines) == 2  # once in each run
    for stage in ("load", "transform", "export"):
        assert sum(f"stage {stage} warns" in line for line in lines) == 2
    assert sum("an info line every time" in line for line in lines) == 6
    inspection.warning("Batigest SuiviMO index: no index on (CodeChantier, CodeSalarie)")
    assert stream.getvalue().count("SuiviMO index") == 3  # outside a run: not filtered


@pytest.mark.parametrize("transform", [TRANSFORM_REPORT, RuntimeError("dbt gone")])
def test_what_the_stages_started_is_closed_before_the_lock_is_released(
    conninfo: dict, transform: Any
) -> None:
    """`Stages.close` (dbt's worker stopped) runs after the stages, failed or not, while
    the run still holds its lock: nothing it started outlives the lock."""
    recorder = Recorder(load=LOAD_REPORT, transform=transform, export=EXPORT_REPORT)
    held: list[bool] = []

    def close() -> None:
        recorder.calls.append("close")
        try:
            with sync_lock(conninfo):
                held.append(False)
        except LockBusy:
            held.append(True)

    summary = run_sync(replace(recorder.stages(publish=True), close=close), conninfo=conninfo)

    assert recorder.calls[-1] == "close" and recorder.calls.count("close") == 1
    assert held == [True]
    assert summary.status == ("success" if transform is TRANSFORM_REPORT else "failed")
