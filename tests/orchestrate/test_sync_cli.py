"""`python -m batisync sync` as cron runs it: exit 2 on configuration, 75 when busy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from batisync.orchestrate.lock import sync_lock
from devstack.sync_env import sync_env
from tests.orchestrate.helpers import conninfo_of

# settings of an API these tests never reach
UNREACHABLE_API = {
    "BATISIMPLY_API_URL": "http://127.0.0.1:9/api",
    "BATISIMPLY_SSO_URL": "http://127.0.0.1:9/token",
    "BATISIMPLY_CLIENT_ID": "batisync",
    "BATISIMPLY_CLIENT_SECRET": "client-secret-xyz",
    "BATISIMPLY_USERNAME": "api@example.com",
    "BATISIMPLY_PASSWORD": "api-password-xyz",
}


def cli_env(staging_url: str, batigest_url: str, tmp_path: Path) -> dict[str, str]:
    """A complete configuration, from the environment only (the API is never reached)."""
    return sync_env(staging_url, batigest_url, tmp_path, window_days=None, **UNREACHABLE_API)


def run_cli(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "batisync", *args],
        env=env,
        cwd=cwd,  # no stray .env or credentials.json from the repository
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_missing_batigest_url_exits_2_naming_it(
    staging_url: str, batigest_url: str, tmp_path: Path
) -> None:
    env = cli_env(staging_url, batigest_url, tmp_path)
    del env["BATIGEST_URL"]
    result = run_cli(["sync"], env, tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if "configuration error" in line]
    assert len(errors) == 1 and "BATIGEST_URL" in errors[0]
    assert "client-secret-xyz" not in result.stdout + result.stderr


def test_every_missing_setting_is_named_at_once(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "CREDENTIALS_FILE": ""}
    result = run_cli(["sync"], env, tmp_path)
    assert result.returncode == 2
    for name in ("BATISIMPLY_API_URL", "BATISIMPLY_PASSWORD", "PGHOST", "BATIGEST_URL"):
        assert name in result.stderr


def test_a_malformed_setting_exits_2_saying_what_was_expected(
    staging_url: str, batigest_url: str, tmp_path: Path
) -> None:
    env = {**cli_env(staging_url, batigest_url, tmp_path), "HEURES_WINDOW_DAYS": "six months"}
    result = run_cli(["sync"], env, tmp_path)
    assert result.returncode == 2
    # issue 11: the error names the variable and the credentials.json key
    assert (
        "HEURES_WINDOW_DAYS (credentials.json `heures_window_days`): expected a whole number"
        in result.stderr
    )


@pytest.mark.parametrize("as_json", [False, True])
def test_a_second_sync_exits_75_and_names_the_holder(
    staging_url: str, batigest_url: str, tmp_path: Path, as_json: bool
) -> None:
    env = cli_env(staging_url, batigest_url, tmp_path)
    env["SUMMARY_JSON"] = str(tmp_path / "summary.json")
    conninfo = conninfo_of(staging_url)
    with sync_lock(conninfo, name="batisync sync@cron-host-a pid 31337"):
        result = run_cli(["sync", *(["--json"] if as_json else [])], env, tmp_path)
    assert result.returncode == 75, result.stdout + result.stderr
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written["status"] == "busy" and written["exit_code"] == 75
    assert "cron-host-a pid 31337" in written["error"]
    if as_json:
        assert json.loads(result.stdout) == written
    else:
        assert "BUSY (exit 75)" in result.stdout
        assert "cron-host-a pid 31337" in result.stdout
    with psycopg.connect(**conninfo) as conn:  # nothing was done: no history row either
        assert conn.execute("select to_regclass('public.sync_runs')").fetchone() == (None,)


def test_dbt_subcommand_runs_dbt_on_the_configured_staging(
    staging_url: str, batigest_url: str, tmp_path: Path
) -> None:
    env = cli_env(staging_url, batigest_url, tmp_path)
    result = run_cli(["dbt", "debug"], env, tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "All checks passed" in result.stdout
    assert env["PGDATABASE"] in result.stdout  # the PG* of the settings
    bad = {**env, "PGDATABASE": "no_such_database"}
    assert run_cli(["dbt", "debug"], bad, tmp_path).returncode == 1
