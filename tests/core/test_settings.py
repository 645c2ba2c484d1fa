"""Settings: precedence, validation naming the setting, secrets never shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from batisync.core.settings import ConfigError, Secret, describe, load_settings
from batisync.transform.build import dbt_env

CREDENTIALS = {
    "batisimply": {
        "api_url": "https://api.example.test/api/",
        "sso_url": "https://sso.example.test/token",
        "client_id": "from-file",
        "client_secret": "file-secret",
        "username": "u@example.test",
        "password": "file-password",
    },
    "postgres": {
        "host": "db.internal",
        "port": 5433,
        "user": "etl",
        "password": "pgpw",
        "database": "staging",
    },
    "sqlserver": {
        "server": "sql.internal,1433",
        "user": "sa",
        "password": "p@ss;word",
        "database": "BTG",
        "schema": "dbo",
    },
    "heures_window_days": 90,
    "timezone": "Europe/Paris",
}


@pytest.fixture
def credentials(tmp_path: Path) -> Path:
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps(CREDENTIALS))
    return path


def test_credentials_file_then_environment_overrides(credentials: Path, tmp_path: Path) -> None:
    env = {"CREDENTIALS_FILE": str(credentials), "BATISIMPLY_CLIENT_ID": "from-env"}
    settings = load_settings(env, dotenv_path=tmp_path / "absent.env")
    assert settings.client_id == "from-env"
    assert settings.api_url == "https://api.example.test/api"  # trailing slash dropped
    assert settings.window_days == 90
    assert settings.staging.port == 5433
    assert settings.client_secret == Secret("file-secret")


def test_dotenv_sits_between_environment_and_file(credentials: Path, tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("HEURES_WINDOW_DAYS=30\nBATISIMPLY_CLIENT_ID=from-dotenv\n")
    env = {"CREDENTIALS_FILE": str(credentials), "HEURES_WINDOW_DAYS": "45"}
    settings = load_settings(env, dotenv_path=dotenv)
    assert settings.window_days == 45
    assert settings.client_id == "from-dotenv"


def test_batigest_url_built_from_the_seed_block(credentials: Path, tmp_path: Path) -> None:
    # issue 11: without `driver` the block gets the recommended mssql+mssqlpython driver
    # (it was mssql+pyodbc with ODBC Driver 18), trusting the certificate like the old one
    settings = load_settings({"CREDENTIALS_FILE": str(credentials)}, dotenv_path=None)
    url = settings.batigest_url.reveal()
    assert url.startswith("mssql+mssqlpython://sa:")
    assert "@sql.internal:1433/BTG" in url
    assert "TrustServerCertificate=yes" in url
    assert "p@ss;word" not in url  # the password is URL-escaped


def test_defaults_without_any_source(tmp_path: Path) -> None:
    settings = load_settings({"CREDENTIALS_FILE": ""}, dotenv_path=None)
    assert (settings.window_days, settings.timezone, settings.batigest_schema) == (
        180,
        "Europe/Paris",
        "dbo",
    )
    assert settings.grant_type == "password"
    assert settings.batigest_url is None
    with pytest.raises(ConfigError) as error:
        settings.require("BATIGEST_URL")
    assert error.value.setting == "BATIGEST_URL"


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("HEURES_WINDOW_DAYS", "abc", "whole number"),
        ("HEURES_WINDOW_DAYS", "0", "from 1"),
        ("HEURES_TIMEZONE", "Mars/Olympus", "IANA time zone"),
        ("BATISIMPLY_API_URL", "ftp://x", "http(s) URL"),
        ("BATISIMPLY_GRANT_TYPE", "implicit", "password, client_credentials"),
        ("BATIGEST_URL", "not a url", "SQLAlchemy URL"),
        ("BATIGEST_URL", "sqlite:///x.db", "mssql+pyodbc"),
        ("HEURES_ON_GONE", "purge", "keep, delete"),
        ("HEURES_ON_DRIFT", "fix", "repair, report"),
        ("PGPORT", "99999", "65535"),
    ],
)
def test_bad_values_name_the_setting(
    variable: str, value: str, fragment: str, tmp_path: Path
) -> None:
    env = {"CREDENTIALS_FILE": "", variable: value}
    with pytest.raises(ConfigError) as error:
        load_settings(env, dotenv_path=None)
    assert error.value.setting == variable
    assert fragment in str(error.value)


def test_broken_credentials_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="CREDENTIALS_FILE"):
        load_settings({"CREDENTIALS_FILE": str(path)}, dotenv_path=None)


def test_secrets_never_show(credentials: Path) -> None:
    settings = load_settings({"CREDENTIALS_FILE": str(credentials)}, dotenv_path=None)
    shown = repr(settings) + str(describe(settings)) + repr(settings.staging)
    for secret in ("file-secret", "file-password", "pgpw", "p@ss"):
        assert secret not in shown
    assert describe(settings)["BATISIMPLY_CLIENT_SECRET"] == "***"
    rendered = settings.staging.sqlalchemy_url().render_as_string(hide_password=True)
    assert "pgpw" not in rendered
    assert settings.staging.env()["PGPASSWORD"] == "pgpw"


def test_required_api_settings_depend_on_the_grant(tmp_path: Path) -> None:
    env = {
        "CREDENTIALS_FILE": "",
        "BATISIMPLY_GRANT_TYPE": "client_credentials",
    }
    settings = load_settings(env, dotenv_path=None)
    assert "BATISIMPLY_USERNAME" not in settings.batisimply_required()
    with pytest.raises(ConfigError) as error:
        settings.require(*settings.batisimply_required())
    assert error.value.setting == "BATISIMPLY_API_URL"


def test_heures_on_drift_defaults_to_repair_and_is_read_from_the_file(tmp_path: Path) -> None:
    assert load_settings({"CREDENTIALS_FILE": ""}, dotenv_path=None).on_drift == "repair"
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({"heures_on_drift": "Report"}))
    settings = load_settings({"CREDENTIALS_FILE": str(path)}, dotenv_path=None)
    assert settings.on_drift == "report" and settings.warnings == ()  # a known key
    assert describe(settings)["HEURES_ON_DRIFT"] == "report"  # what doctor shows
    assert "heures_on_drift" in settings.origins.get("HEURES_ON_DRIFT", "")


def test_max_minutes_is_a_setting_passed_to_dbt(tmp_path: Path) -> None:
    absent = ""  # no settings file: the environment only
    assert load_settings({"CREDENTIALS_FILE": absent}, dotenv_path=None).max_minutes == 1440
    settings = load_settings(
        {"CREDENTIALS_FILE": absent, "HEURES_MAX_MINUTES": "720"}, dotenv_path=None
    )
    assert dbt_env(settings)["HEURES_MAX_MINUTES"] == "720"
    with pytest.raises(ConfigError, match="HEURES_MAX_MINUTES"):
        load_settings({"CREDENTIALS_FILE": absent, "HEURES_MAX_MINUTES": "a day"}, dotenv_path=None)
