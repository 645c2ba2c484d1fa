"""The summary (text and JSON) and the logging: counts shown, secrets never."""

from __future__ import annotations

import io
import json
import logging
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from batisync.core.logs import ProgressDisplay, RedactingFilter, Redactor, setup_logging
from batisync.export.drift import DriftFinding
from batisync.export.drift_report import DriftReport
from batisync.export.model import Values
from batisync.export.report import ExportReport
from batisync.orchestrate.alerts import alert_reasons
from batisync.orchestrate.summary import RunSummary, StageResult, render_json
from batisync.orchestrate.summary_text import render_text
from batisync.transform.build import TransformReport
from tests.orchestrate.helpers import EXPORT_REPORT, LOAD_REPORT

T0 = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)
TRANSFORM_REPORT = TransformReport(
    "dbt build --select +to_push", passed=40, warnings=("test unique_codebs: warn",)
)


def _summary(**changes: object) -> RunSummary:
    values: dict = {
        "run_id": "20260504T060000Z-abc123",
        "status": "success",
        "started_at": T0,
        "finished_at": T0 + timedelta(seconds=75),
        "stages": [
            StageResult("load", "ok", 12.5, LOAD_REPORT),
            StageResult("transform", "ok", 50.0, TRANSFORM_REPORT),
            StageResult("export", "ok", 2.25, EXPORT_REPORT),
        ],
    }
    values.update(changes)
    return RunSummary(**values)


def test_text_summary_has_every_count_of_the_contract() -> None:
    text = render_text(_summary())
    assert "OK (exit 0) in 1 min 15 s" in text
    assert "fetched 132 (time_slots 120, projects 12)" in text
    assert "changed in staging 12 (new 7, changed 4, deleted 1)" in text
    assert "quarantined 2" in text
    assert "SuiviMO: inserted 7, updated 2, moved 1, unchanged 90, retracted 0, rejected 5" in text
    assert "no_project_code 3, unknown_salarie 2" in text
    assert "dbt build --select +to_push: 40 nodes passed, 1 warning(s)" in text
    for duration in ("12.5 s", "50.0 s", "2.2 s"):
        assert duration in text


def test_json_summary_is_the_same_data() -> None:
    data = json.loads(render_json(_summary()))
    assert data["status"] == "success" and data["exit_code"] == 0
    assert data["fetched"]["total"] == 132
    assert data["staging_changed"]["total"] == 12
    assert data["suivimo"]["moved"] == 1
    assert data["suivimo"]["rejected_reasons"] == {"no_project_code": 3, "unknown_salarie": 2}
    assert data["stage_durations_s"] == {"load": 12.5, "transform": 50.0, "export": 2.25}
    assert data["duration_s"] == 75


def test_rejected_given_as_reasons_is_counted() -> None:
    report = ExportReport("r", inserted=7)
    report.rejected = [("1", "key_collision"), ("2", "key_collision"), ("3", "no_project_code")]
    stages = [StageResult("export", "ok", 1.0, report)]
    data = _summary(stages=stages).to_dict()
    assert data["suivimo"]["rejected"] == 3
    assert data["suivimo"]["rejected_reasons"] == {"key_collision": 2, "no_project_code": 1}


def test_failed_summary_names_the_stage_and_cause() -> None:
    stages = [
        StageResult("load", "ok", 1.0, LOAD_REPORT),
        StageResult("transform", "failed", 3.0, None, "dbt test failed: unique_to_push_id_heure"),
        StageResult("export", "skipped"),
    ]
    summary = _summary(status="failed", stages=stages, error=stages[1].error)
    text = render_text(summary)
    assert "FAILED (exit 1)" in text
    assert "failed at stage transform: dbt test failed: unique_to_push_id_heure" in text
    assert "export" in text and "not run" in text
    assert "SuiviMO:" not in text  # no counts claimed for an export that did not run
    assert summary.to_dict()["failed_stage"] == "transform"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("postgresql+psycopg://etl:pgpw-123@db/staging", "pgpw-123"),
        ("DRIVER={ODBC};SERVER=x;UID=sa;PWD=Tr0ub4dor;", "Tr0ub4dor"),
        ("Authorization: Bearer eyJhbGciOi.payload.sig", "eyJhbGciOi"),
        ("form client_secret=s3cr3t-value&x=1", "s3cr3t-value"),
        ("the configured value known-secret-42 leaked", "known-secret-42"),
    ],
)
def test_redactor_masks_secrets(text: str, secret: str) -> None:
    redactor = Redactor(["known-secret-42"])
    masked = redactor(text)
    assert secret not in masked
    assert "***" in masked


def test_log_lines_are_timestamped_and_redacted_off_a_terminal() -> None:
    stream = io.StringIO()
    setup_logging(stream=stream, secrets=["hunter2-pw"], interactive=False)
    logger = logging.getLogger("batisync.test")
    logger.info("connecting with %s", "hunter2-pw")
    try:
        raise ValueError("login failed for mssql+pyodbc://sa:hunter3@host/db")
    except ValueError:
        logger.exception("boom")
    out = stream.getvalue()
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO ", out, re.M)
    assert "hunter2-pw" not in out and "hunter3" not in out
    assert "ValueError" in out  # the traceback is kept, only the secret goes


def test_progress_off_a_terminal_is_plain_log_lines() -> None:
    stream = io.StringIO()
    setup = setup_logging(stream=stream, interactive=False)
    display = ProgressDisplay(setup, logging.getLogger("batisync.test"))
    with display.stage("load") as task:
        task.update(completed=5, total=10)
        task.advance(5)
    assert task.completed == 10
    assert "\x1b[" not in stream.getvalue()  # no terminal control codes in cron logs


def test_progress_on_a_terminal_draws_a_bar() -> None:
    stream = io.StringIO()
    setup = setup_logging(stream=stream, interactive=True)
    assert setup.console is not None
    display = ProgressDisplay(setup, logging.getLogger("batisync.test"))
    with display.stage("load") as task:
        task.update(completed=3, total=4, detail="chunk 3/4")
    assert "3/4" in stream.getvalue()


def test_redacting_filter_keeps_other_messages_intact() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "fetched %d rows", (42,), None)
    RedactingFilter(Redactor()).filter(record)
    assert record.getMessage() == "fetched 42 rows"


def test_dbt_rejections_add_to_the_export_ones() -> None:
    export = ExportReport("r", inserted=3, rejected=[("7", "key_collision: 7 and 8")])
    export.rejected_by_dbt = {"key_collision": 2, "unknown_salarie": 4}
    merged = export.to_dict()
    assert merged["rejected"] == 7
    assert merged["rejected_reasons"] == {"key_collision": 3, "unknown_salarie": 4}
    assert (merged["rejected_by_export"], merged["inserted"]) == (1, 3)
    assert "rejected_rows" not in merged  # the per-row list stays out of the summary
    assert export.rejected_rows() == [{"id_heure": "7", "reason": "key_collision: 7 and 8"}]
    assert export.counts_text().endswith("rejected 7")  # the export's line and the summary agree


def _drift_report(*, new: bool = True) -> DriftReport:
    day = datetime(2026, 5, 4, 8, 0)
    report = DriftReport("20260504T060000Z-abc123", checked=120)
    values = Values(Decimal("1.5"), 0, 1)
    report.findings = [
        DriftFinding("11", "missing", ("CH1", "S1", day), values, (), True, new=new, restored=True),
        DriftFinding("12", "changed", ("CH1", "S2", day), values, (), True, new=new, restored=True),
        DriftFinding(
            "13", "moved_by_hand", ("CH2", "S1", day), values, (), False, "moved", new=new
        ),
    ]
    return report


def test_the_drift_stage_is_counted_in_text_json_and_alerts() -> None:
    stages = [
        StageResult("load", "ok", 1.0, LOAD_REPORT),
        StageResult("transform", "skipped", note="nothing changed since run x"),
        StageResult("export", "skipped", note="nothing changed since run x"),
        StageResult("drift", "ok", 0.4, _drift_report()),
    ]
    summary = _summary(stages=stages)
    text = render_text(summary)
    line = "SuiviMO drift: checked 120; restored 2 (missing 1, changed 1); reported 1"
    assert f"{line} (moved_by_hand 1); 3 new" in text
    assert "  restored missing 1 (1 new): rows deleted by hand" in text
    assert "  reported moved_by_hand 1 (1 new): rows missing at their key" in text
    data = json.loads(render_json(summary))
    assert data["drift"]["restored_kinds"] == {"missing": 1, "changed": 1}
    assert data["drift"]["reported"] == 1 and data["drift"]["new"] == 3
    assert alert_reasons(summary, None) == [
        "3 new SuiviMO drift finding(s) (missing 1, changed 1, moved_by_hand 1)"
    ]
    # the same findings again: reported, not alerted
    stages[-1] = StageResult("drift", "ok", 0.4, _drift_report(new=False))
    again = _summary(stages=stages)
    assert alert_reasons(again, None) == []
    assert "reported 1 (moved_by_hand 1); 0 new" in render_text(again)
    stages[-1] = StageResult("drift", "ok", 0.4, _drift_report())
    assert alert_reasons(_summary(stages=stages, dry_run=True), None) == []  # nothing written
