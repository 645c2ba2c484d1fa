"""Issue 12: the staging PostgreSQL drops the run's connection mid-stage (what a restart
does: "terminating connection due to administrator command"): the run ends with one
clear line naming the system, exit 1, and the next run completes."""

from __future__ import annotations

import psycopg
import sqlalchemy as sa

from batisync.orchestrate.stages import StageContext
from batisync.orchestrate.sync import run_sync
from batisync.orchestrate.wiring import _unreachable
from tests.orchestrate.helpers import (
    EXPORT_REPORT,
    LOAD_REPORT,
    TRANSFORM_REPORT,
    Recorder,
)


def test_a_connection_killed_mid_stage_is_one_clear_line(conninfo: dict) -> None:
    def load(_: StageContext) -> None:
        with psycopg.connect(**conninfo) as victim, psycopg.connect(**conninfo) as admin:
            pid = victim.info.backend_pid
            admin.execute("select pg_terminate_backend(%s)", (pid,))
            victim.execute("select 1")  # the server has gone away under us

    recorder = Recorder(transform=TRANSFORM_REPORT, export=EXPORT_REPORT)
    stages = recorder.stages()
    failed = run_sync(type(stages)(load, stages.transform, stages.export), conninfo=conninfo)
    assert (failed.exit_code, failed.failed_stage) == (1, "load")
    assert failed.error is not None and "\n" not in failed.error
    assert failed.error.startswith("connection to the staging PostgreSQL lost (")
    assert "the run stopped cleanly, the next run resumes" in failed.error

    again = run_sync(Recorder(load=LOAD_REPORT).stages(), conninfo=conninfo)
    assert again.exit_code == 0


def test_the_export_names_the_database_that_does_not_answer(staging_url: str) -> None:
    staging = sa.create_engine(staging_url)
    batigest = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:9/none")
    try:
        assert _unreachable(staging, batigest) == "Batigest"
        assert _unreachable(staging, staging) == "the staging PostgreSQL or Batigest"
    finally:
        staging.dispose()
        batigest.dispose()
