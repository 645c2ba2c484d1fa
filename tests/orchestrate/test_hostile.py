"""Issue 12: no record from the API can stop a run, and no absurd slot reaches SuiviMO.

The hostile corpus (`devstack/hostile.py`, ≥ 50 records) goes through the real sync
(fake API over loopback HTTP → loader → dbt build with its tests → exporter → stand-in):
mixed into healthy data, and the records that used to stop every run one by one. Each
run must exit 0, each record must be quarantined or rejected with its reason (or pushed
when odd but valid), every healthy slot must be in SuiviMO exactly once, and the next
run must be unaffected.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from batisync.core.settings import load_settings
from batisync.orchestrate.summary import RunSummary, render_json
from batisync.orchestrate.sync import sync_from_settings
from devstack import hostile
from devstack.batigest import seed_salaries
from devstack.fake_batisimply import Dataset, FakeBatiSimply, generate
from devstack.sync_env import sync_env, work_env
from devstack.verify import healthy_keys, verdict

pytestmark = [pytest.mark.slow, pytest.mark.dataset(n_employees=3, n_projects=3, days=12, seed=5)]

WINDOW_DAYS = 30


@dataclass
class World:
    dataset: Dataset
    staging_url: str
    batigest_url: str
    env: dict[str, str]

    def sync(self) -> tuple[RunSummary, dict]:
        settings = load_settings(self.env, dotenv_path=None)
        summary = sync_from_settings(settings)
        return summary, json.loads(render_json(summary))

    def check_converged(self) -> None:
        expected = healthy_keys(self.dataset, date.today(), WINDOW_DAYS)
        found = verdict(expected, self.batigest_url)
        assert len(expected) > 10
        assert found.converged, found


@pytest.fixture
def world(
    api: FakeBatiSimply,
    staging_url: str,
    batigest_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> World:
    dataset = api.dataset
    batigest = sa.create_engine(batigest_url)
    seed_salaries(batigest, [(r["Code"], r["Nom"], r["codebs"]) for r in dataset.salarie_rows()])
    batigest.dispose()
    # dbt and dlt write their work files here, not in the repository
    for name, value in work_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    env = sync_env(
        staging_url,
        batigest_url,
        api=api,
        window_days=WINDOW_DAYS,
        HEURES_CHUNK_DAYS=str(WINDOW_DAYS + 1),  # one chunk: every record answered once
    )
    return World(dataset, staging_url, batigest_url, env)


def _check_fates(world: World, entries: list[hostile.Hostile]) -> None:
    assert hostile.fate_mismatches(world.staging_url, entries) == []


def _assert_ok(summary: RunSummary) -> None:
    assert summary.exit_code == 0, (summary.failed_stage, summary.error)


def test_the_corpus_is_big_enough_and_names_the_issue_records() -> None:
    entries = hostile.corpus(generate(n_employees=2, n_projects=2, days=5, seed=1))
    names = {e.name for e in entries}
    assert len(entries) >= 50
    assert {"start_year_9999", "id_1mb", "minutes_1e300", "minutes_1e12"} <= names
    assert {"end_before_start", "start_year_1", "project_two_codes", "status_lowercase"} <= names
    assert {"code_too_long", "code_1mb"} <= names


def test_the_hostile_corpus_mixed_into_healthy_data(world: World) -> None:
    entries = hostile.corpus(world.dataset)
    hostile.install(world.dataset, entries)

    summary, as_json = world.sync()
    _assert_ok(summary)
    world.check_converged()
    _check_fates(world, entries)
    # visible in the summary: quarantine reasons of the load, rejection reasons of dbt
    load = next(s for s in as_json["stages"] if s["name"] == "load")
    slot_reasons = load["report"]["resources"]["time_slots"]["quarantine_reasons"]
    assert {"bad_id", "bad_start_date", "bad_minutes", "not_an_object"} <= set(slot_reasons)
    rejected = summary.export_report().rejected_by_dbt
    for reason in ("unknown_status", "too_many_minutes", "end_not_after_start"):
        assert rejected.get(reason), reason
    for reason in ("project_two_codes", "code_too_long", "start_outside_window"):
        assert rejected.get(reason), reason

    # the next run is unaffected: nothing to write, everything where it was
    again, _ = world.sync()
    _assert_ok(again)
    report = again.export_report()
    assert (report.inserted, report.updated, report.moved) == (0, 0, 0)
    world.check_converged()

    # and once the API stops sending them, nothing is left behind
    hostile.uninstall(world.dataset)
    after, _ = world.sync()
    _assert_ok(after)
    world.check_converged()


ALONE = ["start_year_9999", "id_1mb", "minutes_1e300"]


def test_the_records_that_used_to_stop_every_run_alone(world: World) -> None:
    """One run with each alone (and the healthy data), then the next run."""
    entries = {e.name: e for e in hostile.corpus(world.dataset)}
    for name in ALONE:
        hostile.uninstall(world.dataset)
        hostile.install(world.dataset, [entries[name]], projects=False)
        summary, _ = world.sync()
        _assert_ok(summary)
        world.check_converged()
        _check_fates(world, [entries[name]])
    summary, _ = world.sync()  # the next run, the last record still served
    _assert_ok(summary)
    assert summary.export_report().inserted == 0
    world.check_converged()


ISSUE_ABSURD = [
    "minutes_1e12",
    "end_before_start",
    "start_year_1",
    "project_two_codes",
    "status_lowercase",
    "code_too_long",
]


@pytest.mark.skipif(
    not os.environ.get("BATISYNC_RELIABILITY"), reason="long: `make reliability` runs it"
)
def test_the_absurd_records_alone_reach_no_payroll(world: World) -> None:
    """Each on its own run (the corpus test has them together): none is pushed."""
    entries = {e.name: e for e in hostile.corpus(world.dataset)}
    first, _ = world.sync()
    _assert_ok(first)
    for name in ISSUE_ABSURD:
        hostile.uninstall(world.dataset)
        hostile.install(world.dataset, [entries[name]])
        summary, _ = world.sync()
        _assert_ok(summary)
        _check_fates(world, [entries[name]])
        world.check_converged()
