"""`make doctor` against the fake API, a staging database and the Batigest stand-in."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from batisync.core.settings import Settings, load_settings
from batisync.tools.doctor import render, run_doctor
from devstack.batigest import seed_chantiers, seed_salaries
from devstack.fake_batisimply import FakeBatiSimply
from devstack.sync_env import sync_env

REPO = Path(__file__).resolve().parents[2]
# the fake API's data (tests/conftest.py's `api`): 3 employees, 2 projects, fixed dates
pytestmark = pytest.mark.dataset(
    n_employees=3, n_projects=2, days=10, seed=3, today=date(2026, 5, 4)
)


@pytest.fixture
def env(api: FakeBatiSimply, staging_url: str, batigest_url: str, tmp_path: Path) -> dict:
    seed_salaries(sa.create_engine(batigest_url), [("S0001", "Martin", "uuid-1")])
    return sync_env(staging_url, batigest_url, api=api, window_days=None)


def _settings(env: dict) -> Settings:
    return load_settings(env, dotenv_path=None)


def _by_name(settings: Settings) -> dict:
    return {check.name: check for check in run_doctor(settings)}


def test_everything_answers(env: dict) -> None:
    checks = _by_name(_settings(env))
    failed = {name: c.detail for name, c in checks.items() if c.ok is not True}
    assert failed == {}
    assert "token received" in checks["BatiSimply token"].detail
    assert "2 projects" in checks["BatiSimply API"].detail
    assert "1 salariés, 1 with codebs" in checks["Batigest Salarie"].detail
    assert "no sync running" in checks["staging PostgreSQL"].detail


def test_each_problem_is_named(env: dict, batigest_url: str) -> None:
    engine = sa.create_engine(batigest_url)
    with engine.begin() as conn:
        conn.execute(sa.text('alter table dbo."SuiviMO" drop column "NbH3"'))
    env = {**env, "BATISIMPLY_PASSWORD": "wrong", "PGDATABASE": "no_such_db"}
    checks = _by_name(_settings(env))
    assert checks["BatiSimply token"].ok is False
    assert "HTTP 401" in checks["BatiSimply token"].detail
    assert "BatiSimply API" not in checks  # not tried without a token
    assert checks["staging PostgreSQL"].ok is False
    assert "no_such_db" in checks["staging PostgreSQL"].detail
    assert checks["Batigest SuiviMO"].ok is False
    assert checks["Batigest SuiviMO"].detail.endswith("lacks column(s) NbH3")
    assert checks["Batigest Salarie"].ok is True
    assert "wrong" not in render(_settings(env), list(checks.values()))


def test_missing_settings_are_listed_and_exit_2(env: dict, tmp_path: Path) -> None:
    env = {k: v for k, v in env.items() if k not in {"BATIGEST_URL", "BATISIMPLY_SSO_URL"}}
    checks = _by_name(_settings(env))
    assert checks["setting BATIGEST_URL"].ok is False
    assert checks["setting BATISIMPLY_SSO_URL"].ok is False
    assert checks["Batigest"].ok is None  # skipped, says why
    assert checks["staging PostgreSQL"].ok is True  # the rest is still checked
    result = subprocess.run(
        [sys.executable, "-m", "batisync", "doctor"],
        env={"PATH": "/usr/bin:/bin", **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "setting BATIGEST_URL" in result.stdout
    assert "s3cret" not in result.stdout + result.stderr  # the client secret stays hidden


def test_old_credentials_file_origins_derivation_and_warnings() -> None:
    """What doctor shows from the old connector's credentials.json alone (no check run)."""
    fixture = REPO / "tests" / "fixtures" / "old_connector_credentials.json"
    settings = load_settings({"CREDENTIALS_FILE": str(fixture)}, dotenv_path=None)
    text = render(settings, [])
    api_line = next(line for line in text.splitlines() if "BATISIMPLY_API_URL" in line)
    assert "https://api.staging.batisimply.fr/api" in api_line
    assert "[derived from BATISIMPLY_SSO_URL" in api_line
    assert "[credentials.json `timezone`]" in text and "[default]" in text
    assert "TrustServerCertificate=yes" in text and "install the server's CA" in text
    assert "credentials.json `hfsql`: a setting of the old connector" in text
    for secret in ("client-secret-value", "bs-password", "pg-secret", "p@ss;word"):
        assert secret not in text


def test_chantier_check_says_whether_it_is_on(env: dict, batigest_url: str) -> None:
    off = _by_name(_settings(env))["Batigest ChantierDef"]
    assert off.ok is True and "check OFF" in off.detail and "ChantierDef" in off.detail
    seed_chantiers(sa.create_engine(batigest_url), ["C26001", "C26002"])
    on = _by_name(_settings(env))["Batigest ChantierDef"]
    assert on.ok is True and "2 chantier codes: check on" in on.detail
