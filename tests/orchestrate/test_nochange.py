"""A no-change run: the decision (pure), the runner skipping the stages after the load,
and the run history that remembers what a complete run depended on."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest

from batisync.extract.report import LoadReport, ResourceCounts
from batisync.extract.window import Window
from batisync.orchestrate.nochange import LastRun, project_version, run_inputs, skip_reason
from batisync.orchestrate.sync import run_sync
from tests.orchestrate.helpers import EXPORT_REPORT, TRANSFORM_REPORT, Recorder, conninfo_of

DAY = datetime(2026, 5, 4, tzinfo=UTC)
INPUTS = run_inputs("1.0:abc", {"HEURES_TIMEZONE": "Europe/Paris"}, date(2025, 11, 5), {})
LAST = LastRun("20260504T053000Z-aaaaaa", INPUTS)


def load(**slots: int) -> LoadReport:
    report = LoadReport(window=Window(DAY, DAY), fetched_at=DAY)
    report.resources["time_slots"] = ResourceCounts(fetched=100, unchanged=100, **slots)
    report.resources["projects"] = ResourceCounts(fetched=5, unchanged=5)
    return report


def test_nothing_changed_skips() -> None:
    assert skip_reason(load(), INPUTS, LAST, pending=0) == (
        "nothing changed since run 20260504T053000Z-aaaaaa"
    )


@pytest.mark.parametrize(
    ("report", "inputs", "last", "pending"),
    [
        (load(new=1), INPUTS, LAST, 0),  # a new slot
        (load(changed=1), INPUTS, LAST, 0),
        (load(deleted=1), INPUTS, LAST, 0),
        (load(quarantined=1), INPUTS, LAST, 0),  # a record now refused
        (load(), "other", LAST, 0),  # the project, a setting, the window or Batigest moved
        (load(), INPUTS, None, 0),  # no complete run yet
        (load(), INPUTS, LAST, 3),  # the last export left rows to write
        (None, INPUTS, LAST, 0),  # no load report
    ],
    ids=["new", "changed", "deleted", "quarantined", "inputs", "first", "pending", "no-load"],
)
def test_anything_else_runs_the_transform(report, inputs, last, pending) -> None:
    assert skip_reason(report, inputs, last, pending) is None


def test_a_kept_table_runs_the_transform() -> None:
    report = load()
    report.resources["projects"].refreshed = False  # a suspicious answer kept the table
    assert skip_reason(report, INPUTS, LAST, pending=0) is None


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


def test_the_runner_skips_after_an_unchanged_load(staging_url: str) -> None:
    conninfo = conninfo_of(staging_url)
    recorder = Recorder(load=load(), transform=TRANSFORM_REPORT, export=EXPORT_REPORT)
    stages = recorder.stages(publish=True)
    skipping = type(stages)(
        **{
            **stages.__dict__,
            "skip_after_load": lambda *_: "nothing changed",
            "inputs": lambda: "fp",
        }
    )
    summary = run_sync(skipping, conninfo=conninfo)
    assert recorder.calls == ["load"]
    assert (summary.status, summary.skipped_because) == ("success", "nothing changed")
    assert [(s.name, s.status) for s in summary.stages][1:] == [
        ("transform", "skipped"),
        ("export", "skipped"),
        ("publish", "skipped"),
    ]
    with psycopg.connect(**conninfo) as conn:
        row = conn.execute("select status, inputs, summary from public.sync_runs").fetchone()
    assert row is not None and row[:2] == ("success", "fp")
    assert row[2]["skipped_because"] == "nothing changed"


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
