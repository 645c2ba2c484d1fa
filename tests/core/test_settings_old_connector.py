"""The old connector's credentials.json (BOM, CRLF, its whole key set) as a complete
configuration; the files found from the project folder; errors naming variable and key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.mssql.mssqlpython import MSDialect_mssqlpython

from batisync.core.errors import ConfigError, ConfigErrors
from batisync.core.settings import describe, load_settings, project_root
from batisync.core.settings.derive import api_url_from_sso, batigest_url_from_block

OLD = Path(__file__).parents[1] / "fixtures" / "old_connector_credentials.json"


def _load(path: Path, **env: str):
    return load_settings({"CREDENTIALS_FILE": str(path), **env}, dotenv_path=None)


def test_the_fixture_is_what_notepad_saves() -> None:
    raw = OLD.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    assert b"api_url" not in raw and b'"port": "5432"' in raw


def test_old_credentials_are_a_complete_configuration() -> None:
    settings = _load(OLD)
    assert settings.missing(settings.required_for_sync()) == []
    assert settings.api_url == "https://api.staging.batisimply.fr/api"
    assert settings.origins["BATISIMPLY_API_URL"].startswith("derived from BATISIMPLY_SSO_URL")
    assert settings.scope == "openid"
    assert settings.staging.port == 5432  # a string in the file
    assert (settings.window_days, settings.timezone) == (180, "Europe/Paris")


def test_the_sqlserver_block_builds_the_recommended_driver_url() -> None:
    settings = _load(OLD)
    url = sa.make_url(settings.batigest_url.reveal())
    assert url.drivername == "mssql+mssqlpython"
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "sa",
        "p@ss;word",
        "sql.internal",
        1433,
        "BTG",
    )
    assert dict(url.query) == {"TrustServerCertificate": "yes"}
    # what the driver receives: the old connector's connection string, password quoted
    (connection_string,), _ = MSDialect_mssqlpython().create_connect_args(url)
    assert connection_string == (
        "Server=sql.internal,1433;Database=BTG;UID=sa;PWD={p@ss;word};TrustServerCertificate=yes"
    )
    assert settings.origins["BATIGEST_URL"] == "credentials.json `sqlserver` block"
    trust = [w for w in settings.warnings if "TrustServerCertificate" in w]
    assert len(trust) == 1 and '"trust_server_certificate": false' in trust[0]


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ({"server": "h", "port": "1444"}, ("h", 1444)),
        ({"server": "h,1444", "port": 1444}, ("h", 1444)),
        ({"server": r"h\SQLEXPRESS"}, (r"h\SQLEXPRESS", None)),
    ],
)
def test_server_and_port_forms(block: dict, expected: tuple) -> None:
    built = batigest_url_from_block({"user": "u", "password": "p", "database": "d", **block})
    assert built is not None
    url = sa.make_url(built[0])
    assert (url.host, url.port) == expected


def test_certificate_check_and_odbc_driver_when_the_block_says_so() -> None:
    block = {"server": "h", "user": "u", "password": "p", "database": "d"}
    url, warning = batigest_url_from_block({**block, "trust_server_certificate": False})
    assert warning is None and "TrustServerCertificate=no" in url
    url, _ = batigest_url_from_block({**block, "driver": "ODBC Driver 18 for SQL Server"})
    assert url.startswith("mssql+pyodbc://") and "driver=ODBC+Driver+18" in url


def test_conflicting_ports_name_the_setting_and_the_block(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({"sqlserver": {"server": "h,1433", "port": "1444"}}))
    with pytest.raises(ConfigError) as error:
        _load(path)
    assert str(error.value).startswith("BATIGEST_URL (credentials.json `sqlserver`): ")


@pytest.mark.parametrize(
    ("sso", "api"),
    [
        ("https://sso.batisimply.fr/auth/realms/jhipster/x", "https://api.batisimply.fr/api"),
        ("http://sso.localhost:8080/auth/realms/jhipster/x", "http://api.localhost:8080/api"),
        ("https://login.batisimply.fr/token", None),
        ("https://sso./token", None),
    ],
)
def test_api_url_derivation(sso: str, api: str | None) -> None:
    assert api_url_from_sso(sso) == api


def test_an_underived_api_url_says_why(tmp_path: Path) -> None:
    settings = _load(OLD, BATISIMPLY_SSO_URL="https://login.example.test/token")
    with pytest.raises(ConfigError) as error:
        settings.require("BATISIMPLY_API_URL")
    assert "sso.<domain>" in str(error.value)
    assert "credentials.json `batisimply.api_url`" in str(error.value)


def test_unknown_and_old_keys_are_warnings_naming_them(tmp_path: Path) -> None:
    document = json.loads(OLD.read_text(encoding="utf-8-sig"))
    document["batisimply"]["apiUrl"] = "https://api.example.test/api"
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps(document))
    warnings = _load(path).warnings
    assert any("`batisimply.apiUrl`" in w and "`batisimply.api_url`" in w for w in warnings)
    for key in ("software", "mode", "debug", "hfsql"):
        assert any(f"`{key}`: a setting of the old connector" in w for w in warnings), key
    assert not any("`timezone`" in w or "sqlserver.server" in w for w in warnings)


def test_a_missing_named_credentials_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        _load(tmp_path / "nowhere.json")
    assert error.value.setting == "CREDENTIALS_FILE" and "does not exist" in str(error.value)


def test_bad_file_values_name_variable_and_key(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({"timezone": "Paris", "postgres": {"port": "x"}}))
    with pytest.raises(ConfigError) as error:
        _load(path)
    message = str(error.value)
    assert message.startswith("PGPORT (credentials.json `postgres.port`): expected a whole number")
    path.write_text(json.dumps({"timezone": "Paris"}))
    with pytest.raises(ConfigError) as error:
        _load(path)
    assert str(error.value).startswith("HEURES_TIMEZONE (credentials.json `timezone`): ")


def test_missing_settings_say_where_they_were_looked_for(tmp_path: Path) -> None:
    settings = load_settings({"CREDENTIALS_FILE": ""}, dotenv_path=tmp_path / "absent.env")
    with pytest.raises(ConfigErrors) as error:
        settings.require_all(settings.required_for_sync())
    assert "BATISIMPLY_CLIENT_ID (credentials.json `batisimply.client_id`)" in str(
        error.value.errors[2]
    )
    assert str(tmp_path / "absent.env") in error.value.searched


def test_files_are_found_from_the_project_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project_root()
    assert (root / "pyproject.toml").is_file()
    monkeypatch.chdir(tmp_path)  # a cron job without `cd`
    relative = Path("tests") / "fixtures" / OLD.name
    settings = load_settings({"CREDENTIALS_FILE": str(relative)}, dotenv_path=None)
    assert settings.client_id == "bridge-data"
    default = load_settings({}, dotenv_path=None).searched
    assert str(root / "credentials.json") in default


def test_doctor_view_shows_every_origin() -> None:
    settings = _load(OLD, HEURES_WINDOW_DAYS="30")
    assert settings.origins["HEURES_WINDOW_DAYS"] == "environment"
    assert settings.origins["HEURES_TIMEZONE"] == "credentials.json `timezone`"
    assert settings.origins["EXPORT_BATCH_SIZE"] == "default"
    assert describe(settings)["BATISIMPLY_SCOPE"] == "openid"
    assert "pg-secret" not in str(settings.origins) + str(describe(settings))
