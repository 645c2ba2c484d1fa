"""The dossiers' edge cases of CONTRACT.md "Dossiers", as cron runs `batisync`: no
dossier, a per-dossier setting in the environment, misconfigured dossiers in `--json`,
and plain `sync` beside a dossiers folder (the single configuration, unchanged). None of
these reaches an API: each ends before a load, or fails at it."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from devstack.dossiers import fleet_env, write_dossier, write_shared
from devstack.pg import EmbeddedPostgres
from tests.orchestrate.dossier_sites import batisync
from tests.orchestrate.helpers import conninfo_of
from tests.orchestrate.test_sync_cli import UNREACHABLE_API, cli_env, run_cli

ACCOUNT = {**UNREACHABLE_API, "BATIGEST_URL": "mssql+mssqlpython://sa:pw@127.0.0.1:9/BTG"}


@pytest.fixture
def folder(tmp_path: Path, pg: EmbeddedPostgres) -> Path:
    root = tmp_path / "dossiers"
    write_shared(root, pg.url())
    return root


def _exists(pg: EmbeddedPostgres, database: str) -> bool:
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        found = conn.execute("select 1 from pg_database where datname = %s", (database,))
        return found.fetchone() is not None


def test_all_without_a_dossier_exits_2(folder: Path) -> None:
    (folder / ".git").mkdir()  # a dot-folder is no dossier
    done = batisync(fleet_env(folder), "sync", "--all", "--json")
    assert done.returncode == 2, done.stderr
    data = json.loads(done.stdout)
    assert (data["exit_status"], data["dossiers"]) == (2, [])
    assert "no dossier in" in data["error"]
    absent = batisync(fleet_env(folder / "absent"), "sync", "--all")
    assert absent.returncode == 2
    assert "DOSSIERS_DIR: no dossier in" in absent.stderr and "(absent)" in absent.stderr


@pytest.mark.parametrize("variable", ["PGDATABASE", "BATISIMPLY_CLIENT_ID", "CREDENTIALS_FILE"])
def test_a_per_dossier_setting_in_the_environment_exits_2_named(
    folder: Path, variable: str
) -> None:
    write_dossier(folder, "acme", ACCOUNT)
    env = fleet_env(folder, **{variable: "from-cron"})
    for args in (["sync", "--all"], ["sync", "--dossier", "acme"], ["dossiers"]):
        done = batisync(env, *args)
        assert done.returncode == 2, (args, done.stderr)
        assert f"{variable}: is set in the environment" in done.stderr, args
    as_json = json.loads(batisync(env, "sync", "--all", "--json").stdout)
    assert as_json["exit_status"] == 2 and variable in as_json["error"]


def test_misconfigured_dossiers_have_no_summary_and_their_error(
    folder: Path, pg: EmbeddedPostgres
) -> None:
    write_dossier(folder, "Bad Name", ACCOUNT)
    write_dossier(folder, "acme", {**ACCOUNT, "PGDATABASE": "one_for_two"})
    write_dossier(folder, "beta", {**ACCOUNT, "PGDATABASE": "one_for_two"})
    write_dossier(folder, "gamma", {**ACCOUNT, "HEURES_TIMEZONE": "Paris"})
    write_dossier(folder, ".old", {"HEURES_TIMEZONE": "nowhere"})  # ignored
    done = batisync(fleet_env(folder), "sync", "--all", "--jobs", "2", "--json")
    assert done.returncode == 2, done.stderr[-3000:]
    data = json.loads(done.stdout)
    assert data["exit_status"] == 2
    entries = {d["dossier"]: d for d in data["dossiers"]}
    assert list(entries) == ["Bad Name", "acme", "beta", "gamma"]
    for entry in entries.values():
        assert (entry["exit_status"], entry["status"], entry["summary"]) == (
            2,
            "misconfigured",
            None,
        )
    assert "invalid dossier name 'Bad Name'" in entries["Bad Name"]["error"]
    for name in ("acme", "beta"):
        assert (
            "dossiers acme, beta all use the staging database one_for_two"
            in (entries[name]["error"])
        )
    assert "HEURES_TIMEZONE" in entries["gamma"]["error"]
    assert not _exists(pg, "one_for_two") and not _exists(pg, "batisync_gamma")
    assert "client-secret-xyz" not in done.stdout + done.stderr

    listed = batisync(fleet_env(folder), "dossiers", "--json")
    assert listed.returncode == 0, listed.stderr
    states = {d["dossier"]: d["status"] for d in json.loads(listed.stdout)["dossiers"]}
    assert states == dict.fromkeys(("Bad Name", "acme", "beta", "gamma"), "misconfigured")

    text = batisync(fleet_env(folder), "sync", "--all")
    assert text.returncode == 2
    assert "CONFIG ERROR (exit 2)" in text.stdout.splitlines()[0]
    assert "  gamma: misconfigured: HEURES_TIMEZONE" in text.stdout


def test_plain_sync_beside_a_dossiers_folder_runs_the_single_configuration(
    folder: Path, pg: EmbeddedPostgres, staging_url: str, batigest_url: str, tmp_path: Path
) -> None:
    write_dossier(folder, "acme", ACCOUNT)
    pg.drop_database("batisync_acme")  # another test's dossier acme (the session's server)
    env = cli_env(staging_url, batigest_url, tmp_path) | {"DOSSIERS_DIR": str(folder)}
    done = run_cli(["sync", "--json"], env, tmp_path)
    summary = json.loads(done.stdout)
    # the environment's own staging database (no dossier rule), the API of its settings
    assert (done.returncode, summary["status"], summary["failed_stage"]) == (1, "failed", "load")
    with psycopg.connect(**conninfo_of(staging_url)) as conn:
        row = conn.execute("select status from sync_runs where run_id = %s", (summary["run_id"],))
        assert row.fetchone() == ("failed",)
    assert not _exists(pg, "batisync_acme")
