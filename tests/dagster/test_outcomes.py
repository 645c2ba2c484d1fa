"""What a dossier's sync process means to Dagster, decided without Dagster running it:
its outcome, its checks, whether Dagster alerts, the partitions the folder asks for, and
the process itself (a real child process: its summary, its timeout)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

dg = pytest.importorskip("dagster", reason="the dagster extra is not installed: make setup")

from batisync_dagster.alerting import alert_payload, is_sync_run, needs_alert  # noqa: E402
from batisync_dagster.asset import SYNC_JOB  # noqa: E402
from batisync_dagster.dossiers import partition_changes, scan  # noqa: E402
from batisync_dagster.process import SyncProcess, parse_summary, run_sync_process  # noqa: E402
from batisync_dagster.results import ALERTED_KEY, check_results, outcome_of  # noqa: E402

KEY = dg.AssetKey(["batisync", "suivimo"])


def summary(**more: Any) -> dict[str, Any]:
    return {"run_id": "r1", "status": "success", "exit_code": 0, "duration_s": 3.5} | more


def test_a_synced_run_carries_its_counts_and_rejections() -> None:
    suivimo = {"inserted": 5, "updated": 1, "moved": 0, "unchanged": 2, "retracted": 0,
               "rejected": 3, "rejected_new": 1,
               "rejected_reasons": {"unknown_salarie": 2, "unknown_chantier": 1},
               "rejected_new_reasons": {"unknown_salarie": 1}}  # fmt: skip
    proc = SyncProcess("d1", 0, summary(suivimo=suivimo, fetched={"time_slots": 11}))
    outcome = outcome_of(proc)
    assert outcome.kind == "synced"
    md = outcome.metadata
    assert (md["inserted"], md["rejected"], md["rejected_new"], md["fetched_time_slots"]) == (
        5, 3, 1, 11,
    )  # fmt: skip
    assert "| unknown_salarie | 2 | 1 |" in md["rejections"].value
    assert "| unknown_chantier | 1 | 0 |" in md["rejections"].value


def test_a_no_change_run_says_why_it_skipped_the_build() -> None:
    why = "nothing changed in staging since the last successful run"
    outcome = outcome_of(SyncProcess("d1", 0, summary(skipped_because=why)))
    assert outcome.kind == "synced" and outcome.metadata["skipped_because"] == why


def test_a_locked_dossier_is_skipped_with_the_reason() -> None:
    busy = summary(status="busy", exit_code=75, error="another sync holds the lock (pid 42)")
    outcome = outcome_of(SyncProcess("d1", 75, busy))
    assert outcome.kind == "skipped"
    assert outcome.metadata["skipped"] == "locked: another sync holds the lock (pid 42)"


@pytest.mark.parametrize(
    ("proc", "cause", "alerted"),
    [
        (SyncProcess("d1", 1, summary(status="failed", exit_code=1, failed_stage="load",
                                      error="API down", alert={"sent": True}),
                     ("boom",)), "failed (exit 1) at stage load: API down", True),
        (SyncProcess("d1", 1, summary(status="failed", exit_code=1, error="x",
                                      alert={"sent": False, "outcome": "FAILED"})),
         "failed (exit 1): x", False),
        (SyncProcess("d1", 2, summary(status="config_error", exit_code=2, error="no URL")),
         "config_error (exit 2): no URL", False),
        (SyncProcess("d1", -9, None), "was killed by SIGKILL before it printed", False),
        (SyncProcess("d1", -9, None, timed_out=True), "ran past its timeout 60 s", False),
        (SyncProcess("d1", 1, None, ("Traceback", "ImportError: x")),
         "exited 1 without a summary: ImportError: x", False),
    ],
)  # fmt: skip
def test_a_failed_run_names_its_cause_and_whether_the_sync_alerted(
    proc: SyncProcess, cause: str, alerted: bool
) -> None:
    outcome = outcome_of(proc, timeout_s=60)
    assert outcome.kind == "failed"
    assert outcome.description.startswith("batisync sync --dossier d1")
    assert cause in outcome.description
    assert outcome.metadata[ALERTED_KEY] is alerted
    assert needs_alert([(outcome.description, outcome.metadata)]) is not alerted


def test_the_dagster_alert_has_the_sync_alerts_shape() -> None:
    failures = [("batisync sync --dossier d1: config_error (exit 2): no URL",
                 {"exit_status": 2, "batisync_run_id": "r9"})]  # fmt: skip
    payload = alert_payload("dg-1", "d1", failures, "")
    assert payload["dossier"] == "d1" and payload["exit_code"] == 2
    assert payload["run_id"] == "r9" and payload["dagster_run_id"] == "dg-1"
    assert payload["alert_reasons"] == [f"run failed: {failures[0][0]}"]


def test_the_failure_sensor_watches_the_sync_runs_only() -> None:
    assert is_sync_run(dg.DagsterRun(job_name=SYNC_JOB, run_id="a"))
    from_ui = dg.DagsterRun(job_name="__ASSET_JOB", run_id="b", asset_selection={KEY})
    assert is_sync_run(from_ui)
    other = {dg.AssetKey(["other"])}
    assert not is_sync_run(dg.DagsterRun(job_name="__ASSET_JOB", run_id="c", asset_selection=other))


def test_each_test_result_becomes_its_check() -> None:
    tests = [
        {"name": "unique_a", "status": "pass", "failures": 0},
        {"name": "not_null_b", "status": "fail", "failures": 4, "message": "Got 4 results"},
        {"name": "accepted_c", "status": "warn", "failures": 1},
        {"name": "skipped_d", "status": "skipped"},
        {"name": "new_e", "status": "pass"},
    ]
    declared = {"unique_a", "not_null_b", "accepted_c", "skipped_d"}
    results, undeclared = check_results(tests, KEY, declared)
    by_name = {r.check_name: r for r in results}
    assert set(by_name) == {"unique_a", "not_null_b", "accepted_c"} and undeclared == ["new_e"]
    assert by_name["unique_a"].passed and not by_name["not_null_b"].passed
    assert by_name["not_null_b"].metadata["failing_rows"].value == 4
    assert by_name["accepted_c"].severity == dg.AssetCheckSeverity.WARN
    only, _ = check_results(tests, KEY, declared, selected={"unique_a"})
    assert [r.check_name for r in only] == ["unique_a"]


def test_the_partitions_follow_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("acme", "btp-2", "Bad Name", ".hidden"):
        (tmp_path / name).mkdir()
    monkeypatch.setenv("DOSSIERS_DIR", str(tmp_path))
    folder = scan()
    assert folder.names == ("acme", "btp-2") and folder.invalid == ("Bad Name",)
    changes = partition_changes(["acme", "gone"], folder.names)
    assert (changes.add, changes.delete) == (("btp-2",), ("gone",))
    assert len(changes.requests()) == 2 and partition_changes(["acme"], ["acme"]).requests() == []


def test_sync_all_json_gives_the_dossier_summary() -> None:
    text = '{"exit_status": 1, "dossiers": [{"dossier": "d1", "summary": {"status": "x"}}]}'
    assert parse_summary(text, "d1") == {"status": "x"}
    assert parse_summary(text, "d2") is None and parse_summary("not json", "d1") is None


def test_a_sync_past_its_timeout_is_stopped_and_says_so() -> None:
    # a child that prints a summary only when SIGTERM stops it, as the sync does
    script = (
        "import json, signal, sys, time\n"
        "def stop(*_):\n"
        "    print(json.dumps({'status': 'interrupted', 'error': 'SIGTERM'})); sys.exit(1)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        "print('started', file=sys.stderr, flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = run_sync_process("d1", timeout_s=2, grace_s=5, command=[sys.executable, "-c", script])
    assert proc.timed_out and proc.returncode == 1
    assert proc.summary == {"status": "interrupted", "error": "SIGTERM"}
    assert proc.stderr_tail == ("started",)
    cause = outcome_of(proc, timeout_s=2).description
    assert "ran past its timeout 2 s: stopped by SIGTERM: SIGTERM" in cause
