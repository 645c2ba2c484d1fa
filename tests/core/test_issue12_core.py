"""Issue 12 in core: loose config files are named with their fix, a lost connection is
one clear line, and HEURES_MAX_MINUTES is a setting dbt receives."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from batisync.core.errors import (
    ConnectionLost,
    connection_lost_line,
    is_connection_loss,
    lost_system,
)
from batisync.core.file_modes import config_files, loose_permissions
from batisync.core.settings import ConfigError, load_settings
from batisync.transform.build import dbt_env

REPO = Path(__file__).resolve().parents[2]


def test_a_file_others_may_read_is_named_with_its_chmod(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials.json"
    credentials.write_text("{}")
    credentials.chmod(0o644)
    (warning,) = loose_permissions([credentials])
    assert str(credentials) in warning and f"chmod 600 {credentials}" in warning
    credentials.chmod(0o600)
    assert loose_permissions([credentials]) == []


def test_the_files_are_the_ones_settings_read(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"CREDENTIALS_FILE={tmp_path / 'c.json'}\n")
    (tmp_path / "c.json").write_text("{}")
    assert config_files({}, dotenv) == [dotenv, tmp_path / "c.json"]
    other = tmp_path / "other.json"
    other.write_text("{}")
    assert config_files({"CREDENTIALS_FILE": str(other)}, dotenv) == [dotenv, other]


def test_sync_warns_even_when_the_configuration_is_incomplete(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials.json"
    credentials.write_text('{"postgres": {"password": "Pg-S3cret"}}')
    credentials.chmod(0o644)
    env = {"PATH": os.environ.get("PATH", ""), "CREDENTIALS_FILE": str(credentials)}
    done = subprocess.run(
        [sys.executable, "-m", "batisync", "sync"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert f"chmod 600 {credentials}" in done.stderr
    assert "Pg-S3cret" not in done.stderr + done.stdout


def test_a_lost_connection_is_recognised_through_wrappers() -> None:
    cause = psycopg.OperationalError("terminating connection due to administrator command")
    try:
        try:
            raise cause
        except psycopg.OperationalError as error:
            raise RuntimeError("loading raw_batisimply failed") from error
    except RuntimeError as wrapped:
        assert is_connection_loss(wrapped)
        assert lost_system(wrapped, "the staging PostgreSQL") == "the staging PostgreSQL"
    assert not is_connection_loss(ValueError("duplicate key value violates unique constraint"))


def test_a_lost_connection_names_its_system_in_one_line() -> None:
    error = ConnectionLost("Batigest", psycopg.OperationalError("server closed the connection"))
    line = connection_lost_line(lost_system(error, "?"), error)
    assert line.startswith("connection to Batigest lost (OperationalError: server closed")
    assert "stopped cleanly" in line and "next run resumes" in line and "\n" not in line


def test_max_minutes_is_a_setting_passed_to_dbt(tmp_path: Path) -> None:
    absent = ""  # no settings file: the environment only
    assert load_settings({"CREDENTIALS_FILE": absent}, dotenv_path=None).max_minutes == 1440
    settings = load_settings(
        {"CREDENTIALS_FILE": absent, "HEURES_MAX_MINUTES": "720"}, dotenv_path=None
    )
    assert dbt_env(settings)["HEURES_MAX_MINUTES"] == "720"
    with pytest.raises(ConfigError, match="HEURES_MAX_MINUTES"):
        load_settings({"CREDENTIALS_FILE": absent, "HEURES_MAX_MINUTES": "a day"}, dotenv_path=None)
