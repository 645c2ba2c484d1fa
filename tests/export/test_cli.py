"""`batisync export` and `batisync reconcile` as cron or a person runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from tests.export.helpers import (
    push,
    row,
    suivimo,
    write_marts,
)

PASSWORD = "pw-never-shown-42"  # the embedded cluster trusts local users: it is ignored


def K(hour: int) -> tuple[str, str, datetime]:
    return ("CH1", "S1", datetime(2026, 3, 2, hour))


def cli(tmp_path: Path, batigest_url: str | None, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "BATIGEST_URL"}
    env["CREDENTIALS_FILE"] = ""
    if batigest_url is not None:
        env["BATIGEST_URL"] = batigest_url
    return subprocess.run(
        [sys.executable, "-m", "batisync", *_command(args)],
        cwd=tmp_path,  # no .env from the repository
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _command(args: tuple[str, ...]) -> list[str]:
    """`batisync export|reconcile ARGS`."""
    if args and args[0] in {"push", "reconcile"}:
        return ["export" if args[0] == "push" else "reconcile", *args[1:]]
    return ["export", *args]


def with_password(url: str) -> str:
    return sa.make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)


def test_missing_batigest_url_exits_2_naming_it(tmp_path, staging_url) -> None:
    result = cli(tmp_path, None)
    assert result.returncode == 2
    assert "BATIGEST_URL" in result.stderr


def test_batigest_url_sqlalchemy_cannot_load_exits_2_without_secrets(tmp_path, staging_url):
    # a postgresql URL passes the settings check, but no such driver exists
    result = cli(tmp_path, f"postgresql+nosuchdriver://u:{PASSWORD}@127.0.0.1/db")
    assert result.returncode == 2
    assert "configuration error: BATIGEST_URL: NoSuchModuleError" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr


def test_missing_marts_exit_1_without_secrets(tmp_path, staging_url, batigest_url) -> None:
    result = cli(tmp_path, with_password(batigest_url))
    assert result.returncode == 1
    assert "to_push not found in staging: run dbt build first" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr


def test_dry_run_then_push_then_reconcile(
    tmp_path, staging_url, batigest_url, staging_engine, batigest_engine
) -> None:
    write_marts(staging_engine, [push("1", *K(8)), push("2", "TOOLONG99", "S1", K(9)[2])])
    url = with_password(batigest_url)

    dry = cli(tmp_path, url, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "1: insert - - -> (CH1, S1, 2026-03-02 08:00:00) NbH0=1.000000" in dry.stdout
    # issue 14: a dry run counts nothing as written; it says what it would write
    assert "SuiviMO (dry run, nothing written): would insert 2," in dry.stdout  # SQL not run
    assert suivimo(batigest_engine) == []

    pushed = cli(tmp_path, url, "--json")
    assert pushed.returncode == 0, pushed.stderr  # a rejected row is reported, not fatal
    report = json.loads(pushed.stdout)
    assert (report["inserted"], report["rejected"]) == (1, 1)
    assert report["rejected_rows"][0]["reason"].startswith("database: value too long")
    assert suivimo(batigest_engine) == [row(*K(8))]

    checked = cli(tmp_path, url, "reconcile", "--json")
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout) == {
        "checked": 1,
        "ok": 1,
        "missing": [],
        "changed": [],
        "duplicated": [],
        "unverifiable": [],
        "repaired": 0,
        "drift": 0,
        "findings": [],
    }
    for result in (dry, pushed, checked):
        assert PASSWORD not in result.stdout + result.stderr
