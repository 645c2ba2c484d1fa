"""Dossiers as configuration (CONTRACT.md "Dossiers"): discovery, the layers of a dossier's
settings, the environment rule, two dossiers on one staging database. Files only."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from batisync.core.errors import ConfigError, ConfigErrors
from batisync.core.settings import Secret
from batisync.core.settings.dossiers import (
    Dossier,
    check_environment,
    discover,
    dossiers_dir,
    resolve,
    resolve_all,
    work_env,
)

FIXTURE = Path(__file__).parents[1] / "fixtures" / "old_connector_credentials.json"
SHARED = (
    "PGHOST=pg.shared\nPGPORT=5433\nPGUSER=batisync\nPGPASSWORD=shared-pw\nHEURES_WINDOW_DAYS=60\n"
)
ACCOUNT = (
    "BATISIMPLY_API_URL=https://api.example.test/api\n"
    "BATISIMPLY_SSO_URL=https://sso.example.test/token\n"
    "BATISIMPLY_CLIENT_ID={name}\nBATISIMPLY_CLIENT_SECRET=secret-{name}\n"
    "BATISIMPLY_USERNAME=u@{name}\nBATISIMPLY_PASSWORD=pw-{name}\n"
    "BATIGEST_URL=mssql+mssqlpython://sa:pw@sql-{name}:1433/BTG\n"
)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "dossiers"
    root.mkdir()
    (root / ".env").write_text(SHARED)
    return root


def _dossier(root: Path, name: str, dotenv: str | None = None) -> Path:
    folder = root / name
    folder.mkdir()
    if dotenv is not None:
        (folder / ".env").write_text(dotenv)
    return folder


def _env(root: Path, **more: str) -> dict[str, str]:
    return {"DOSSIERS_DIR": str(root), **more}


def test_every_subfolder_is_a_dossier_but_dot_folders(folder: Path) -> None:
    for name in ("acme", "b-2_x", ".work", "Bad Name", "été"):
        _dossier(folder, name)
    (folder / "notes.txt").write_text("not a dossier")
    found = {d.name: d.problem for d in discover(folder)}
    assert set(found) == {"acme", "b-2_x", "Bad Name", "été"}
    assert found["acme"] is None and found["b-2_x"] is None
    assert "invalid dossier name 'Bad Name'" in str(found["Bad Name"])
    assert found["été"] is not None
    assert discover(folder / "absent") == []


def test_a_dossier_reads_its_files_over_the_shared_env(folder: Path) -> None:
    _dossier(folder, "acme", ACCOUNT.format(name="acme") + "HEURES_WINDOW_DAYS=30\n")
    dossier, settings = resolve("acme", _env(folder))
    assert dossier.folder == folder / "acme" and settings.dossier == "acme"
    assert settings.window_days == 30  # its own .env over the shared one
    assert settings.staging.host == "pg.shared" and settings.staging.port == 5433
    assert settings.staging.password == Secret("shared-pw")
    assert settings.staging.database == "batisync_acme"  # derived from its name
    assert settings.client_id == "acme"
    assert settings.origins["PGHOST"] == str(folder / ".env")
    assert settings.origins["HEURES_WINDOW_DAYS"] == "dossier acme .env"
    assert settings.origins["PGDATABASE"] == "derived from the dossier's name"


def test_an_old_credentials_json_works_unchanged_in_a_dossier(folder: Path) -> None:
    """The old connector's file, byte for byte (BOM, port as a string): its `postgres`
    block wins over the shared server, a dossier .env wins over it."""
    acme = _dossier(folder, "acme", "PGDATABASE=acme_staging\n")
    shutil.copy(FIXTURE, acme / "credentials.json")
    _, settings = resolve("acme", _env(folder, HEURES_TIMEZONE="Europe/Paris"))
    assert settings.client_id == "bridge-data"
    assert settings.api_url == "https://api.staging.batisimply.fr/api"  # derived
    assert settings.staging.host == "localhost"  # the file's block over the shared .env
    assert settings.staging.port == 5432
    assert settings.staging.database == "acme_staging"  # the dossier's .env over the file
    assert settings.batigest_url is not None
    assert "sql.internal" in settings.batigest_url.reveal()
    assert settings.origins["BATISIMPLY_CLIENT_ID"] == (
        "dossier acme credentials.json `batisimply.client_id`"
    )
    assert settings.origins["BATIGEST_URL"] == "dossier acme credentials.json `sqlserver` block"


def test_the_credentials_block_beats_a_shared_batigest_url(folder: Path) -> None:
    (folder / ".env").write_text(SHARED + "BATIGEST_URL=mssql+mssqlpython://sa:x@shared/BTG\n")
    shutil.copy(FIXTURE, _dossier(folder, "acme") / "credentials.json")
    _dossier(folder, "beta", ACCOUNT.format(name="beta").replace("BATIGEST_URL", "#"))
    settings = {r.dossier.name: r.settings for r in resolve_all(_env(folder))}
    acme, beta = settings["acme"], settings["beta"]
    assert acme is not None and acme.batigest_url is not None
    assert "sql.internal" in acme.batigest_url.reveal()
    assert beta is not None and beta.batigest_url is not None
    assert "shared" in beta.batigest_url.reveal()  # what all share, where none is its own


def test_credentials_file_of_a_dossier_is_relative_to_its_folder(folder: Path) -> None:
    acme = _dossier(folder, "acme", "CREDENTIALS_FILE=old/credentials.json\n")
    (acme / "old").mkdir()
    shutil.copy(FIXTURE, acme / "old" / "credentials.json")
    _, settings = resolve("acme", _env(folder))
    assert settings.client_id == "bridge-data"
    # a shared CREDENTIALS_FILE would point every dossier at one file: not read there
    (folder / ".env").write_text(SHARED + "CREDENTIALS_FILE=/elsewhere.json\n")
    _dossier(folder, "beta", ACCOUNT.format(name="beta"))
    assert resolve("beta", _env(folder))[1].client_id == "beta"


@pytest.mark.parametrize(
    "variable", ["PGDATABASE", "PGHOST", "PGSSLMODE", "BATISIMPLY_CLIENT_ID", "BATIGEST_URL",
                 "BATIGEST_SCHEMA", "CREDENTIALS_FILE"],
)  # fmt: skip
def test_a_per_dossier_setting_in_the_environment_is_refused(folder: Path, variable: str) -> None:
    _dossier(folder, "acme", ACCOUNT.format(name="acme"))
    with pytest.raises(ConfigError) as refused:
        resolve("acme", _env(folder, **{variable: "x"}))
    assert refused.value.exit_code == 2
    assert str(refused.value).startswith(f"{variable}: is set in the environment")


def test_the_environment_rule_names_every_variable_and_leaves_shared_ones() -> None:
    with pytest.raises(ConfigErrors) as refused:
        check_environment({"PGDATABASE": "x", "BATISIMPLY_PASSWORD": "pw-42", "HOME": "/root"})
    assert [e.setting for e in refused.value.errors] == ["BATISIMPLY_PASSWORD", "PGDATABASE"]
    assert "pw-42" not in str(refused.value)  # a name, never a value
    check_environment({"HEURES_WINDOW_DAYS": "30", "DOSSIERS_DIR": "/d", "DBT_TARGET_PATH": "t"})


def test_two_dossiers_on_one_staging_database_are_both_misconfigured(folder: Path) -> None:
    _dossier(folder, "acme", ACCOUNT.format(name="acme") + "PGDATABASE=shared_db\n")
    # the same database by another spelling of the host
    _dossier(
        folder, "beta", ACCOUNT.format(name="beta") + "PGDATABASE=shared_db\nPGHOST=pg.shared\n"
    )
    _dossier(folder, "gamma", ACCOUNT.format(name="gamma"))
    (folder / ".env").write_text(SHARED.replace("pg.shared", "PG.Shared"))
    by_name = {r.dossier.name: r for r in resolve_all(_env(folder))}
    assert by_name["gamma"].settings is not None
    for name in ("acme", "beta"):
        error = by_name[name].error
        assert error is not None and error.setting == "PGDATABASE"
        assert "dossiers acme, beta all use the staging database shared_db" in str(error)
    with pytest.raises(ConfigError, match="each dossier needs a database of its own"):
        resolve("beta", _env(folder))


def test_unknown_invalid_and_misconfigured_dossiers_are_named(folder: Path) -> None:
    _dossier(folder, "acme", "HEURES_TIMEZONE=Paris\n")
    _dossier(folder, "Bad")
    with pytest.raises(ConfigError, match=r"no dossier 'nope' in .*dossiers: Bad, acme"):
        resolve("nope", _env(folder))
    with pytest.raises(ConfigError, match="invalid dossier name 'Bad'"):
        resolve("Bad", _env(folder))
    with pytest.raises(ConfigError, match=r"HEURES_TIMEZONE .*from dossier acme \.env"):
        resolve("acme", _env(folder))
    with pytest.raises(ConfigError, match=r"absent"):
        resolve("acme", _env(folder / "absent"))


def test_dossiers_dir_default_and_relative(tmp_path: Path) -> None:
    assert dossiers_dir({}).name == "dossiers"
    assert dossiers_dir({"DOSSIERS_DIR": str(tmp_path)}) == tmp_path
    assert dossiers_dir({"DOSSIERS_DIR": "clients"}).parent == dossiers_dir({}).parent


def test_each_dossier_has_its_own_work_folders(folder: Path) -> None:
    acme, beta = (work_env(Dossier(n, folder / n).work_folder) for n in ("acme", "beta"))
    assert set(acme) == {"DBT_TARGET_PATH", "DBT_LOG_PATH", "LOADER_PIPELINES_DIR"}
    assert not set(acme.values()) & set(beta.values())
    assert all(value.startswith(str(folder / "acme")) for value in acme.values())
