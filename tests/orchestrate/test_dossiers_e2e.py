"""Issue 20: three dossiers on one staging server, each with its own fake BatiSimply
account and Batigest stand-in, two of them holding the same `id_heure` values and the
same employee codes for other people, one configured by the old connector's
credentials.json. `batisync sync --all` (a process per dossier) is run as cron would.

The steps share the module's dossiers and run in order: each starts from what the one
before left (first syncs, a round of moves, one dossier alone, one API down while a
dossier is started twice, the listing, a SIGTERM).
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devstack.dossiers import fleet_env, write_shared
from devstack.fake_batisimply import generate
from devstack.pg import EmbeddedPostgres
from devstack.reliability.changes import many
from tests.orchestrate.dossier_sites import (
    Site,
    batisync,
    database_of,
    holds_lock,
    new_site,
    start_batisync,
    wait_for,
)

pytestmark = pytest.mark.slow

DATASET = {"n_employees": 4, "n_projects": 3, "days": 20}


@dataclass
class Fleet:
    folder: Path
    env: dict[str, str]
    acme: Site
    beta: Site
    gamma: Site  # the old connector's credentials.json

    @property
    def sites(self) -> list[Site]:
        return [self.acme, self.beta, self.gamma]


@pytest.fixture(scope="module")
def fleet(pg: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    folder = tmp_path_factory.mktemp("fleet") / "dossiers"
    # gamma's stopped API: 2 attempts (1 s of backoff) instead of 6 (31 s), per sync; a
    # BATISIMPLY_* setting is a dossier's, so in the shared .env, not cron's environment
    write_shared(folder, pg.url(), BATISIMPLY_RETRY_ATTEMPTS="2")
    sites = [
        new_site(pg, folder, "acme", generate(**DATASET, seed=101)),
        new_site(pg, folder, "beta", generate(**DATASET, seed=202)),
        new_site(pg, folder, "gamma", generate(**DATASET, seed=303), old_credentials=True),
    ]
    (folder / ".git").mkdir()  # a dot-folder: not a dossier
    try:
        yield Fleet(folder, fleet_env(folder), *sites)
    finally:
        for site in sites:
            site.api.stop()


def _sync_all(fleet: Fleet, *more: str) -> dict:
    done = batisync(fleet.env, "sync", "--all", "--jobs", "2", "--json", *more)
    data = json.loads(done.stdout)
    assert data["exit_status"] == done.returncode, done.stderr[-3000:]
    return data


def _moves(site: Site, seed: int) -> dict[str, tuple]:
    """A round of moves, edits and new slots; the keys the moved slots held before."""
    before = site.keys()
    many(site.dataset, n=3, seed=seed)
    after = site.keys()
    return {i: key for i, key in before.items() if after.get(i, key) != key}


def test_sync_all_puts_each_dossier_in_its_own_suivimo(fleet: Fleet) -> None:
    acme, beta, gamma = fleet.acme, fleet.beta, fleet.gamma
    # what must never meet: the same slot ids, the same employee code for other people
    shared_ids = set(acme.dataset.slots) & set(beta.dataset.slots)
    assert shared_ids
    acme_codes = {e.code: e.id for e in acme.dataset.employees if e.code}
    beta_codes = {e.code: e.id for e in beta.dataset.employees if e.code}
    assert any(acme_codes[c] != beta_codes.get(c) for c in set(acme_codes) & set(beta_codes))

    data = _sync_all(fleet)
    assert data["exit_status"] == 0
    assert [d["dossier"] for d in data["dossiers"]] == ["acme", "beta", "gamma"]  # not .git
    for entry in data["dossiers"]:
        assert entry["exit_status"] == 0 and entry["summary"]["status"] == "success"
        assert entry["summary"]["suivimo"]["inserted"] > 0
    for site in fleet.sites:
        site.assert_converged()
    # each staging database is its own dossier's, created by the first run: one slot id,
    # two dossiers, two rows at two keys
    acme_keys, beta_keys = acme.keys(), beta.keys()
    shared = next(i for i in sorted(shared_ids, key=int) if i in acme_keys and i in beta_keys)
    query = (
        "select code_chantier, code_salarie, date_sqlserver from batigest_heures_map "
        "where id_heure = :i"
    )
    assert acme.staging(query, i=shared) == [acme_keys[shared]]
    assert beta.staging(query, i=shared) == [beta_keys[shared]]
    assert acme_keys[shared] != beta_keys[shared]
    for site in (acme, beta):
        assert site.staging("select dossier from batisync_dossier") == [(site.name,)]
    assert gamma.staging("select dossier, client_id from batisync_dossier") == [
        ("gamma", gamma.api.client_id)
    ]
    assert database_of(gamma.staging_url) == "connecteur_buffer_gamma"
    for site in fleet.sites:  # dbt's target and logs, dlt's pipelines: each its own
        work = fleet.folder / site.name / ".batisync"
        # (a sync writes no manifest.json: its parse's state is there)
        assert (work / "dbt_target" / "partial_parse.msgpack").is_file(), site.name
        assert any((work / "dbt_logs").iterdir()) and any((work / "dlt").iterdir()), site.name

    # a round of moves, edits and new slots in every dossier converges in every dossier
    previous = {
        site.name: _moves(site, seed) for site, seed in zip(fleet.sites, (1, 2, 3), strict=True)
    }
    assert all(previous.values())
    data = _sync_all(fleet)
    assert data["exit_status"] == 0
    for entry in data["dossiers"]:
        assert entry["summary"]["suivimo"]["moved"] >= 1, entry["dossier"]
    for site in fleet.sites:
        site.assert_converged(previous[site.name])


def test_one_dossier_alone_touches_only_its_dossier(fleet: Fleet) -> None:
    acme, beta, gamma = fleet.acme, fleet.beta, fleet.gamma
    previous = {
        site.name: _moves(site, seed) for site, seed in zip(fleet.sites, (4, 5, 6), strict=True)
    }
    untouched = {s.name: (s.suivimo(), s.staging("select count(*) from sync_runs"))
                 for s in (beta, gamma)}  # fmt: skip
    done = batisync(fleet.env, "sync", "--dossier", "acme", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["suivimo"]["moved"] >= 1
    acme.assert_converged(previous["acme"])
    for site in (beta, gamma):
        suivimo, runs = untouched[site.name]
        assert site.suivimo() == suivimo
        assert site.staging("select count(*) from sync_runs") == runs


def test_an_api_down_and_a_dossier_started_twice(fleet: Fleet) -> None:
    """gamma's API is down, beta is already syncing (started by hand) when `--all` starts:
    acme converges, beta's second start exits 75 and the first converges, gamma fails
    and the summary says why; the whole exits 1."""
    acme, beta, gamma = fleet.acme, fleet.beta, fleet.gamma
    acme_moved = _moves(acme, 7)
    beta_moved = _moves(beta, 8)  # and beta's moves of the step before, still pending
    gamma_rows = gamma.suivimo()
    gamma.api.stop()
    beta.api.slow_next(5)  # the run by hand holds beta's lock long enough
    by_hand = start_batisync(fleet.env, "sync", "--dossier", "beta", "--json")
    wait_for(lambda: holds_lock(beta.staging_url), what="beta's lock")
    data = _sync_all(fleet)
    _, err = by_hand.communicate(timeout=600)
    assert by_hand.returncode == 0, err[-3000:]

    assert data["exit_status"] == 1
    entries = {d["dossier"]: d for d in data["dossiers"]}
    assert (entries["acme"]["exit_status"], entries["acme"]["status"]) == (0, "success")
    assert (entries["beta"]["exit_status"], entries["beta"]["status"]) == (75, "locked")
    assert "another sync holds the lock" in entries["beta"]["summary"]["error"]
    failed = entries["gamma"]
    assert (failed["exit_status"], failed["status"]) == (1, "failed")
    assert failed["summary"]["failed_stage"] == "load"
    assert "POST" in failed["error"] and "token" in failed["error"]  # the API, by name
    acme.assert_converged(acme_moved)
    beta.assert_converged(beta_moved)
    assert gamma.suivimo() == gamma_rows  # nothing half-written

    text = batisync(fleet.env, "sync", "--all", "--jobs", "2")  # the table, once more
    assert text.returncode == 1
    assert "gamma: failed at stage load:" in text.stdout
    assert text.stdout.splitlines()[0].startswith("batisync sync --all: 3 dossier(s)")


def test_dossiers_lists_each_with_its_state(fleet: Fleet) -> None:
    done = batisync(fleet.env, "dossiers", "--json")
    assert done.returncode == 0, done.stderr
    listed = {d["dossier"]: d for d in json.loads(done.stdout)["dossiers"]}
    assert set(listed) == {"acme", "beta", "gamma"}
    acme = listed["acme"]
    assert acme["status"] == "ok" and acme["last_run"]["status"] == "success"
    assert acme["rejected"] == fleet.acme.staging("select count(*) from heures_rejected")[0][0]
    assert acme["batisimply"]["client_id"] == fleet.acme.api.client_id
    assert acme["staging"].endswith("/batisync_acme")
    assert listed["gamma"]["status"] == "failed"
    assert "token" in listed["gamma"]["error"]
    assert fleet.acme.api.client_secret not in done.stdout  # no secret
    assert "s3cret" not in done.stdout and "PASSWORD" not in done.stdout


def test_sigterm_reaches_every_running_dossier(fleet: Fleet) -> None:
    for site in (fleet.acme, fleet.beta):
        site.api.slow_next(30)  # each is in its load when the signal comes
    whole = start_batisync(fleet.env, "sync", "--all", "--jobs", "2", "--json")
    wait_for(
        lambda: holds_lock(fleet.acme.staging_url) and holds_lock(fleet.beta.staging_url),
        what="both locks",
    )
    whole.send_signal(signal.SIGTERM)
    out, err = whole.communicate(timeout=60)
    assert whole.returncode == 1, err[-3000:]
    data = json.loads(out)
    assert data["interrupted_by"] == "SIGTERM"
    states = {d["dossier"]: d["status"] for d in data["dossiers"]}
    assert states == {"acme": "interrupted", "beta": "interrupted", "gamma": "not started"}
    for site in (fleet.acme, fleet.beta):
        last = site.staging("select status from sync_runs order by started_at desc limit 1")
        assert last == [("interrupted",)]
        assert not holds_lock(site.staging_url)  # released
