"""A no-change run: the decision (pure, every condition that can flip it), the runner
skipping the stages after the load, and the run history that remembers what a complete
run depended on and which runs came after it."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from batisync.loader.generation import Generation
from batisync.loader.report import ChunkReport, LoadReport, ResourceCounts
from batisync.loader.window import Window
from batisync.orchestrate import runs
from batisync.orchestrate.nochange import (
    LastRun,
    LaterRun,
    Pending,
    decide,
    project_version,
    run_inputs,
    transform_certain,
)
from batisync.orchestrate.summary import RunSummary, StageResult
from batisync.orchestrate.sync import run_sync
from tests.orchestrate.helpers import EXPORT_REPORT, TRANSFORM_REPORT, Recorder, conninfo_of

DAY = datetime(2026, 5, 4, tzinfo=UTC)
INPUTS = run_inputs("1.0:abc", {"HEURES_TIMEZONE": "Europe/Paris"}, date(2025, 11, 5), {})
LAST = LastRun("20260504T053000Z-aaaaaa", INPUTS, generation=41)
NOTHING = Pending(to_push=0, retractable=0)


def load(before: int | None = 41, after: int = 42, **slots: int) -> LoadReport:
    """A load that found generation `before` and committed `after`."""
    report = LoadReport(window=Window(DAY, DAY), fetched_at=DAY)
    report.resources["time_slots"] = ResourceCounts(fetched=100, unchanged=100, **slots)
    report.resources["projects"] = ResourceCounts(fetched=5, unchanged=5)
    report.chunks.append(ChunkReport(Window(DAY, DAY), fetched=100, live_before=100))
    report.generation = Generation(before, after)
    return report


def test_nothing_changed_skips_naming_the_run_it_trusts() -> None:
    decision = decide(load(), INPUTS, LAST, None, NOTHING)
    assert decision.skip
    assert decision.reason == "nothing changed since run 20260504T053000Z-aaaaaa"


def _confirmed() -> LoadReport:
    report = load()
    report.chunks[0].confirmed = 2  # deletions this complete fetch confirmed
    return report


def _kept() -> LoadReport:
    report = load()
    report.resources["projects"].refreshed = False  # a suspicious answer kept the table
    return report


def _reference() -> LoadReport:
    report = load()
    report.reference_changed = ["chantiers"]  # ChantierDef lost a code
    return report


def _no_generation() -> LoadReport:
    report = load()
    report.generation = None
    return report


def _later(command: str, status: str, dry_run: bool = False) -> LaterRun:
    return LaterRun("20260504T060000Z-bbbbbb", command, status, dry_run)


CASES: dict[str, tuple[Any, ...]] = {
    # what this run's own load did
    "no load report": (None, INPUTS, LAST, None, NOTHING),
    "a new slot": (load(new=1), INPUTS, LAST, None, NOTHING),
    "a changed slot": (load(changed=1), INPUTS, LAST, None, NOTHING),
    "a deleted slot": (load(deleted=1), INPUTS, LAST, None, NOTHING),
    "a record refused": (load(quarantined=1), INPUTS, LAST, None, NOTHING),
    "deletions confirmed": (_confirmed(), INPUTS, LAST, None, NOTHING),
    "a table kept": (_kept(), INPUTS, LAST, None, NOTHING),
    "chantiers changed": (_reference(), INPUTS, LAST, None, NOTHING),
    # the last complete run
    "no complete run": (load(), INPUTS, None, None, NOTHING),
    "other inputs": (load(), "other", LAST, None, NOTHING),
    "no generation recorded": (
        load(),
        INPUTS,
        dataclasses.replace(LAST, generation=None),
        None,
        NOTHING,
    ),
    "no generation loaded": (_no_generation(), INPUTS, LAST, None, NOTHING),
    # someone wrote raw since that run: a load by hand, a run stopped after its load
    "staging written since": (load(before=43, after=44), INPUTS, LAST, None, NOTHING),
    "generation table new": (load(before=None, after=7), INPUTS, LAST, None, NOTHING),
    # a newer row in sync_runs, whatever its command or status
    "a failed sync": (load(), INPUTS, LAST, _later("sync", "failed"), NOTHING),
    "an interrupted sync": (load(), INPUTS, LAST, _later("sync", "interrupted"), NOTHING),
    "an abandoned sync": (load(), INPUTS, LAST, _later("sync", "abandoned"), NOTHING),
    "a config error": (load(), INPUTS, LAST, _later("sync", "config_error"), NOTHING),
    "a dry run": (load(), INPUTS, LAST, _later("sync", "success", dry_run=True), NOTHING),
    "a reconcile": (load(), INPUTS, LAST, _later("reconcile", "drift"), NOTHING),
    "a debug-heures write": (load(), INPUTS, LAST, _later("debug-heures", "success"), NOTHING),
    # what the marts left to do
    "rows to push": (load(), INPUTS, LAST, None, Pending(to_push=3)),
    "rows to retract": (load(), INPUTS, LAST, None, Pending(to_push=0, retractable=2)),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_anything_else_runs_the_transform(case: tuple[Any, ...]) -> None:
    decision = decide(*case)
    assert not decision.skip
    assert "nothing changed" not in decision.reason


def test_the_reasons_say_what_forced_the_run() -> None:
    assert decide(_confirmed(), INPUTS, LAST, None, NOTHING).reason == (
        "this load changed staging: 2 deletions confirmed"
    )
    assert decide(load(before=43), INPUTS, LAST, None, NOTHING).reason == (
        "staging was written since run 20260504T053000Z-aaaaaa (generation 41 -> 43)"
    )
    later = decide(load(), INPUTS, LAST, _later("sync", "interrupted"), NOTHING)
    assert later.reason == (
        "run 20260504T060000Z-bbbbbb (sync, interrupted) came after run 20260504T053000Z-aaaaaa"
    )
    retract = decide(load(), INPUTS, LAST, None, Pending(0, 2))
    assert retract.reason == "2 row(s) to retract (HEURES_ON_GONE=delete)"


def test_the_transform_is_certain_before_the_load_only_when_no_load_could_skip_it() -> None:
    """dbt's preparation starts with the load only when `decide` could not skip whatever
    the load finds; a run that may skip must not import dbt before its load says so."""
    later = LaterRun("20260504T060000Z-bbbbbb", "load", "success")
    assert transform_certain(None, None, 41)  # no complete run yet
    assert transform_certain(LAST, later, 41)  # a run came after the last complete one
    assert transform_certain(dataclasses.replace(LAST, generation=None), None, 41)
    assert transform_certain(LAST, None, 42)  # staging written since (`batisync load`)
    assert transform_certain(LAST, None, None)
    assert not transform_certain(LAST, None, 41)  # only the load can tell
    # wherever it says certain, `decide` runs the transform even after a load of nothing
    for last, after, now in ((None, None, 41), (LAST, later, 41), (LAST, None, 42)):
        assert not decide(load(before=now), INPUTS, last, after, NOTHING).skip


def test_the_inputs_change_with_each_of_their_parts() -> None:
    base = ("v1", {"HEURES_TIMEZONE": "Europe/Paris"}, date(2025, 11, 5), {"L": "8"})
    variants = [
        ("v2", *base[1:]),
        (base[0], {"HEURES_TIMEZONE": "UTC"}, *base[2:]),
        (*base[:2], date(2025, 11, 6), base[3]),
        (*base[:3], {"L": "10"}),
    ]
    assert len({run_inputs(*base), *(run_inputs(*v) for v in variants)}) == 5


def test_the_project_version_follows_the_dbt_files(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "a.sql").write_text("select 1")
    (tmp_path / "dbt_project.yml").write_text("name: x")
    before = project_version(tmp_path)
    (tmp_path / "models" / "a.sql").write_text("select 2")
    assert project_version(tmp_path) != before


def _skipping(recorder: Recorder, reason: str | None) -> Any:
    stages = recorder.stages(publish=True)
    fields = {"skip_after_load": lambda *_: reason, "inputs": lambda: "fp"}
    return dataclasses.replace(stages, **fields)


def test_a_skipped_run_is_complete_at_the_generation_its_load_committed(
    staging_url: str,
) -> None:
    conninfo = conninfo_of(staging_url)
    recorder = Recorder(load=load(before=41, after=42), transform=TRANSFORM_REPORT)
    summary = run_sync(_skipping(recorder, "nothing changed"), conninfo=conninfo)
    assert recorder.calls == ["load"]
    assert (summary.status, summary.skipped_because) == ("success", "nothing changed")
    assert [(s.name, s.status) for s in summary.stages][1:] == [
        ("transform", "skipped"),
        ("export", "skipped"),
        ("publish", "skipped"),
    ]
    with psycopg.connect(**conninfo) as conn:
        row = conn.execute("select status, inputs, generation, summary from sync_runs").fetchone()
        last = runs.last_complete_run(conn, "public")
    assert row is not None and row[:3] == ("success", "fp", 42)
    assert row[3]["skipped_because"] == "nothing changed"
    # the next run finds generation 42 before its own load: it may skip in turn
    assert last == LastRun(summary.run_id, "fp", 42)


def test_a_full_run_records_the_generation_its_transform_read(staging_url: str) -> None:
    conninfo = conninfo_of(staging_url)
    recorder = Recorder(
        load=load(before=9, after=10), transform=TRANSFORM_REPORT, export=EXPORT_REPORT
    )
    run_sync(_skipping(recorder, None), conninfo=conninfo)
    assert recorder.calls == ["load", "transform", "export", "publish"]
    failing = Recorder(load=load(before=10, after=11), transform=RuntimeError("dbt test"))
    run_sync(_skipping(failing, None), conninfo=conninfo)
    dry = Recorder(load=load(before=11, after=12), transform=TRANSFORM_REPORT)
    run_sync(_skipping(dry, None), conninfo=conninfo, dry_run=True)
    with psycopg.connect(**conninfo) as conn:
        rows = conn.execute(
            "select status, dry_run, generation from sync_runs order by started_at"
        ).fetchall()
    # only a complete, real run is trusted with a generation
    assert rows == [("success", False, 10), ("failed", False, None), ("success", True, None)]


def _record(conn: psycopg.Connection[Any], run_id: str, at: datetime, **how: Any) -> None:
    runs.start_run(
        conn,
        "public",
        run_id=run_id,
        started_at=at,
        host="h",
        pid=1,
        dry_run=how.get("dry_run", False),
        command=how.get("command", "sync"),
    )
    if (status := how.get("status", "success")) != "running":
        summary = RunSummary(run_id, status, at, at + timedelta(seconds=1), [], command="sync")
        summary.inputs = how.get("inputs", "fp")
        summary.generation = how.get("generation")
        runs.finish_run(conn, "public", summary)


def test_the_history_names_the_last_complete_run_and_any_run_after_it(
    staging_url: str,
) -> None:
    t0 = datetime(2026, 5, 4, 5, 0, tzinfo=UTC)
    with psycopg.connect(**conninfo_of(staging_url), autocommit=True) as conn:
        runs.ensure_table(conn, "public")
        _record(conn, "r1", t0, generation=5)
        _record(conn, "r2", t0 + timedelta(minutes=30), generation=6)
        last = runs.last_complete_run(conn, "public")
        assert last == LastRun("r2", "fp", 6)
        _record(conn, "mine", t0 + timedelta(hours=2), status="running")
        assert runs.later_run(conn, "public", last) is None  # only this run's own row
        conn.execute("delete from sync_runs where run_id = 'mine'")
        for n, (command, status, dry) in enumerate(
            [
                ("reconcile", "drift", False),
                ("sync", "success", True),
                ("debug-heures", "failed", False),
                ("sync", "running", False),  # killed: marked abandoned by the next run
            ]
        ):
            at = t0 + timedelta(hours=1, minutes=n)
            _record(conn, f"x{n}", at, command=command, status=status, dry_run=dry)
            if runs.mark_abandoned(conn, "public"):
                status = "abandoned"
            assert runs.later_run(conn, "public", last) == LaterRun(f"x{n}", command, status, dry)
        # a dry run or a failed one is never the last complete run
        assert runs.last_complete_run(conn, "public") == last


def test_a_history_table_of_an_older_version_gains_the_generation_column(
    staging_url: str,
) -> None:
    with psycopg.connect(**conninfo_of(staging_url), autocommit=True) as conn:
        conn.execute(
            "create table sync_runs (run_id varchar primary key, started_at timestamptz "
            "not null, status varchar not null, command varchar not null default 'sync', "
            "dry_run boolean not null default false, inputs varchar)"
        )
        conn.execute("insert into sync_runs values ('old', now(), 'success', 'sync', false, 'fp')")
        runs.ensure_table(conn, "public")
        # a run recorded before generations: the next run trusts nothing and runs it all
        assert runs.last_complete_run(conn, "public") == LastRun("old", "fp", None)
        assert not decide(load(), "fp", LastRun("old", "fp", None), None, NOTHING).skip


def test_the_summary_says_how_many_deletions_the_load_confirmed() -> None:
    from batisync.orchestrate.summary_text import render_text

    stage = StageResult("load", "ok", 1.0, _confirmed())
    summary = RunSummary("r", "success", DAY, DAY, [stage])
    assert "deletions confirmed 2" in render_text(summary)
    assert summary.to_dict()["staging_changed"]["confirmed"] == 2


def test_the_drift_stage_runs_after_a_skip_but_never_after_a_failure(staging_url: str) -> None:
    conninfo = conninfo_of(staging_url)
    for outcome, expected in [
        (load(), ["load", "drift"]),
        (RuntimeError("API down"), ["load"]),
    ]:
        recorder = Recorder(load=outcome, transform=TRANSFORM_REPORT, export=EXPORT_REPORT)
        stages = recorder.stages(publish=True)
        with_drift = type(stages)(
            **{
                **stages.__dict__,
                "skip_after_load": lambda *_: "nothing changed",
                "drift": recorder.stage("drift"),
            }
        )
        summary = run_sync(with_drift, conninfo=conninfo)
        assert recorder.calls == expected
        assert [s.status for s in summary.stages][-1] == ("ok" if len(expected) == 2 else "skipped")
