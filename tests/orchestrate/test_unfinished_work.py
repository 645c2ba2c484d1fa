"""Issue 17: the no-change skip never skips unfinished work.

Each scenario leaves work that no complete run has transformed and exported (a sync
stopped by SIGTERM or killed by SIGKILL after its load, `batisync load` by hand, a dbt
test failing then fixed, `debug-heures --update-codes`, deletions confirmed under
HEURES_ON_GONE=delete), then runs `batisync sync` with nothing new upstream: that run
must finish the work. SuiviMO is then compared row by row, key and values
(CodeChantier, CodeSalarie, Date, NbH0, NbH3, NbH4), with what the slots say it must
hold (`devstack.verify`'s oracle, from the dataset alone), and must hold nothing else.

One stack for the module: a first sync into template databases; each scenario works on
clones of them (`create database … template …`) with its own fake API serving the same
generated dataset, then changes it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from devstack import verify
from devstack.batigest import create_standin, seed_chantiers, seed_salaries
from devstack.fake_batisimply import Dataset, FakeBatiSimply, generate
from devstack.pg import EmbeddedPostgres
from devstack.reliability.stack import Run
from devstack.sync_env import sync_env
from devstack.verify import Row, healthy_keys

WINDOW_DAYS = 30
DATASET = {"n_employees": 4, "n_projects": 3, "days": 20, "seed": 17}
pytestmark = [pytest.mark.slow, pytest.mark.dataset(**DATASET)]

ROOT = Path(__file__).resolve().parents[2]


# -- the oracle ---------------------------------------------------------------------------


def suivimo_rows(batigest_url: str) -> list[Row]:
    """SuiviMO's keys and values, in a stable order."""
    return sorted(verify.suivimo_rows(batigest_url))


# -- the stack ----------------------------------------------------------------------------


def _describe(run: Run) -> str:
    return f"exit {run.code}\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"


@dataclass
class Site:
    """One scenario's systems: clones of the template databases and a fake API."""

    api: FakeBatiSimply
    staging_url: str
    batigest_url: str
    env: dict[str, str]
    cwd: Path

    @property
    def dataset(self) -> Dataset:
        return self.api.dataset

    def run(self, *args: str, module: str = "batisync", env: dict[str, str] | None = None) -> Run:
        result = subprocess.run(
            [sys.executable, "-m", module, *args],
            env={**self.env, **(env or {})},
            cwd=self.cwd,  # no stray .env or credentials.json
            capture_output=True,
            text=True,
            timeout=600,
        )
        return Run(result.returncode, result.stdout, result.stderr)

    def sync(self, **env: str) -> Run:
        return self.run("sync", "--json", env=env)

    def stopped_sync(self, signum: signal.Signals, after_nodes: int) -> Run:
        args = (signum.name, str(after_nodes))
        return self.run(*args, module="tests.orchestrate.stopped_sync")

    def check_suivimo(self) -> None:
        """SuiviMO equals the oracle, row by row: every healthy slot's row at its key with
        its values, no key twice (so nothing missing), and as many rows as slots (so
        nothing extra)."""
        expected = verify.healthy_slots(self.dataset, datetime.now(UTC).date(), WINDOW_DAYS)
        found = suivimo_rows(self.batigest_url)
        assert len(expected) > 20
        verdict = verify.judge(expected, found)
        assert verdict.converged, verdict
        assert len(found) == len(expected), f"{len(found)} rows for {len(expected)} slots"


def _env(
    pg: EmbeddedPostgres, staging: str, batigest: str, work: Path, api: FakeBatiSimply
) -> dict[str, str]:
    return sync_env(
        pg.url(staging),
        pg.url(batigest),
        work,
        api=api,
        window_days=WINDOW_DAYS,
        PYTHONPATH=str(ROOT),  # the stopping hook is a module of tests/
    )


@pytest.fixture(scope="module")
def template(pg: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Staging and Batigest databases after a first clean sync: their name prefix."""
    prefix = f"tpl_unfinished_{os.getpid()}"
    dataset = generate(**DATASET)
    standin = create_standin(pg.create_database(f"{prefix}_batigest", replace=True))
    seed_salaries(standin, [(r["Code"], r["Nom"], r["codebs"]) for r in dataset.salarie_rows()])
    standin.dispose()
    pg.create_database(f"{prefix}_staging", replace=True)
    work = tmp_path_factory.mktemp("template")
    with FakeBatiSimply(dataset) as api:
        env = _env(pg, f"{prefix}_staging", f"{prefix}_batigest", work, api)
        site = Site(api, pg.url(f"{prefix}_staging"), pg.url(f"{prefix}_batigest"), env, work)
        first = site.sync()
        assert first.code == 0, _describe(first)
        site.check_suivimo()
    return prefix


@pytest.fixture
def site(
    pg: EmbeddedPostgres, template: str, api: FakeBatiSimply, tmp_path: Path
) -> Iterator[Site]:
    """Clones of the template databases; the fake API serves the same dataset (DATASET)."""
    name = f"{tmp_path.name[:40]}_{os.getpid()}".lower()
    staging = pg.create_database(f"{name}_s", replace=True, template=f"{template}_staging")
    batigest = pg.create_database(f"{name}_b", replace=True, template=f"{template}_batigest")
    env = _env(pg, f"{name}_s", f"{name}_b", tmp_path, api)
    yield Site(api, staging, batigest, env, tmp_path)
    pg.drop_database(f"{name}_s")
    pg.drop_database(f"{name}_b")


def change_upstream(dataset: Dataset) -> list[str]:
    """The issue's changes: a slot moved by an hour, one given 30 more minutes, three
    new slots. Returns the slots they touch (each a healthy slot, alone on its key)."""
    healthy = healthy_keys(dataset, datetime.now(UTC).date(), WINDOW_DAYS)
    ids = sorted(healthy, key=int)
    moved, longer = ids[-1], ids[-2]
    dataset.move_slot(moved, 60)
    dataset.change_minutes(longer, dataset.slots[longer]["totalTimeMinutes"] + 30)
    base = dataset.slots[ids[0]]
    added = []
    for days_ago in (1, 2, 3):  # at night: no key of the generated slots is taken
        night = datetime.combine(date.today() - timedelta(days=days_ago), datetime.min.time())
        start = night + timedelta(hours=1, minutes=10 * days_ago)
        user, project = base["user"]["id"], base["project"]["id"]
        added.append(dataset.add_slot(user, project, start, 95, home_to_work=True))
    touched = [moved, longer, *added]
    now_healthy = healthy_keys(dataset, datetime.now(UTC).date(), WINDOW_DAYS)
    assert set(touched) <= set(now_healthy), "a change made a key collide: pick others"
    return touched


def _stage_statuses(run: Run) -> list[tuple[str, str]]:
    return [(s["name"], s["status"]) for s in run.summary["stages"]]


def _finishes_the_work(site: Site) -> Run:
    """A sync with nothing new upstream: it must not skip, and SuiviMO ends right."""
    run = site.sync()
    assert run.code == 0, _describe(run)
    site.check_suivimo()
    assert run.summary["skipped_because"] is None, run.summary["skipped_because"]
    return run


# -- the scenarios ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signum", "after_nodes"),
    [(signal.SIGTERM, 3), (signal.SIGKILL, 1)],
    ids=["SIGTERM", "SIGKILL"],
)
def test_a_sync_stopped_during_its_transform_is_finished_by_the_next(
    site: Site, signum: signal.Signals, after_nodes: int
) -> None:
    change_upstream(site.dataset)
    stopped = site.stopped_sync(signum, after_nodes)
    if signum == signal.SIGTERM:
        assert stopped.code == 1, _describe(stopped)
        assert stopped.summary["status"] == "interrupted"
        assert stopped.summary["error"] == "interrupted by SIGTERM during stage transform"
        assert _stage_statuses(stopped)[:2] == [("load", "ok"), ("transform", "failed")]
    else:
        assert stopped.code == -signal.SIGKILL, _describe(stopped)
    with pytest.raises(AssertionError):  # the load committed, nothing was exported
        site.check_suivimo()

    finished = _finishes_the_work(site)
    assert finished.summary["suivimo"]["inserted"] == 3
    assert finished.summary["suivimo"]["moved"] + finished.summary["suivimo"]["updated"] == 2

    again = site.sync()  # and then the skip is back, trusting the run that finished
    assert (
        again.summary["skipped_because"]
        == f"nothing changed since run {finished.summary['run_id']}"
    )
    site.check_suivimo()


def test_a_load_by_hand_is_transformed_and_exported_by_the_next_sync(site: Site) -> None:
    change_upstream(site.dataset)
    loaded = site.run("load", "--json")
    assert loaded.code == 0, _describe(loaded)
    assert json.loads(loaded.stdout)["resources"]["time_slots"]["new"] == 3
    _finishes_the_work(site)


def test_a_dbt_test_failing_then_fixed_is_finished_by_the_next_sync(site: Site) -> None:
    change_upstream(site.dataset)
    engine = sa.create_engine(site.batigest_url)
    codes = [p.code for p in site.dataset.projects if p.code]
    seed_chantiers(engine, codes)
    seed_chantiers(engine, [codes[0].lower()])  # one chantier twice for SQL Server
    failed = site.sync()
    assert failed.code == 1, _describe(failed)
    assert failed.summary["failed_stage"] == "transform"
    assert "unique_stg_batigest__chantiers_chantier_key" in failed.summary["error"]

    with engine.begin() as conn:  # the duplicate is removed in Batigest
        conn.execute(
            sa.text('delete from dbo."ChantierDef" where "Code" = :c'), {"c": codes[0].lower()}
        )
    engine.dispose()
    _finishes_the_work(site)


def _delete_pushed_slots(dataset: Dataset, n: int) -> list[str]:
    ids = sorted(healthy_keys(dataset, datetime.now(UTC).date(), WINDOW_DAYS), key=int)
    victims = ids[3 : 3 + n]
    for slot_id in victims:
        dataset.delete(slot_id)
    return victims


def test_deletions_confirmed_under_delete_are_retracted_though_nothing_else_changed(
    site: Site,
) -> None:
    deleting = {"HEURES_ON_GONE": "delete"}
    before = suivimo_rows(site.batigest_url)
    _delete_pushed_slots(site.dataset, 3)
    marked = site.sync(**deleting)  # marks them deleted: retraction waits for a 2nd fetch
    assert marked.code == 0, _describe(marked)
    assert suivimo_rows(site.batigest_url) == before

    confirming = site.sync(**deleting)  # misses them again: they may go now
    assert confirming.code == 0, _describe(confirming)
    site.check_suivimo()
    assert confirming.summary["skipped_because"] is None
    assert confirming.summary["staging_changed"]["confirmed"] == 3
    assert confirming.summary["suivimo"]["retracted"] == 3
    again = site.sync(**deleting)
    assert (
        again.summary["skipped_because"]
        == f"nothing changed since run {confirming.summary['run_id']}"
    )


def test_debug_heures_update_codes_is_followed_by_the_next_sync(site: Site) -> None:
    deleting = {"HEURES_ON_GONE": "delete"}
    _delete_pushed_slots(site.dataset, 3)
    marked = site.sync(**deleting)
    assert marked.code == 0, _describe(marked)
    # the recette tool reloads (its load confirms the deletions) and rebuilds the marts,
    # writing nothing to SuiviMO without --apply
    recette = site.run("debug-heures", "--update-codes", "--days", str(WINDOW_DAYS), env=deleting)
    assert recette.code == 0, _describe(recette)
    assert "reloaded time_slots" in recette.stdout
    run = site.sync(**deleting)
    assert run.code == 0, _describe(run)
    site.check_suivimo()
    assert run.summary["skipped_because"] is None
    assert run.summary["suivimo"]["retracted"] == 3
