"""batisync.transform.dbt_runner: arguments, environment handling and how dbt's results are read."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from batisync.core.settings import load_settings
from batisync.transform.build import dbt_env
from batisync.transform.dbt_runner import DBT_PROJECT_DIR, dbt_args, interpret, run_dbt
from devstack.pg import EmbeddedPostgres
from tests.transform.helpers import make_staging


def node_result(
    name: str, status: str, message: str | None = None, kind: str = "test"
) -> SimpleNamespace:
    node = SimpleNamespace(
        unique_id=f"{kind}.batisync.{name}",
        name=name,
        resource_type=SimpleNamespace(value=kind),
        attached_node="model.batisync.to_push" if kind == "test" else None,
    )
    return SimpleNamespace(node=node, status=status, message=message, failures=1)


def test_project_and_profiles_dirs_are_always_passed_once() -> None:
    assert dbt_args(["build", "--select", "to_push"]) == [
        "build", "--select", "to_push",
        "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
    ]  # fmt: skip
    mine = ["parse", "--project-dir", "/x", "--profiles-dir", "/y"]
    assert dbt_args(mine) == mine
    assert (DBT_PROJECT_DIR / "profiles.yml").resolve() == (
        DBT_PROJECT_DIR.parent / "profiles.example.yml"
    ).resolve()


def test_failures_and_warnings_are_named() -> None:
    results = SimpleNamespace(
        results=[
            node_result("unique_to_push_id_heure", "fail", "Got 2 results"),
            node_result("accepted_values_status", "warn", "Got 1 result"),
            node_result("stg_batisimply__time_slots", "success", kind="model"),
            node_result("to_push", "skipped", kind="model"),
            node_result("not_null_to_push_id_heure", "pass"),
            node_result("slot_becomes_one_row", "pass", kind="unit_test"),
        ]
    )
    result = interpret(("build",), True, results, None)
    assert not result.success  # a failing node fails the command even if dbt said success
    assert result.failed_nodes == ["unique_to_push_id_heure"]
    assert [w.name for w in result.warnings] == ["accepted_values_status"]
    assert result.counts == {"fail": 1, "warn": 1, "success": 1, "skipped": 1, "pass": 2}
    assert "unique_to_push_id_heure: fail (Got 2 results)" in result.summary()
    # every data test's own result, passing ones too (unit tests and models are not)
    tests = {t.name: (t.status, t.attached_node) for t in result.tests}
    assert tests == {
        "unique_to_push_id_heure": ("fail", "model.batisync.to_push"),
        "accepted_values_status": ("warn", "model.batisync.to_push"),
        "not_null_to_push_id_heure": ("pass", "model.batisync.to_push"),
    }


def test_dbt_that_cannot_run_gives_its_error() -> None:
    result = interpret(("build",), False, None, RuntimeError("could not connect"))
    assert not result.success
    assert result.error == "RuntimeError: could not connect"
    assert "could not run" in result.summary()


def test_environment_is_set_for_the_call_and_restored(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DBT_SCHEMA", "before")
    monkeypatch.delenv("HEURES_TIMEZONE", raising=False)
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "True")
    seen: dict[str, str | None] = {}

    class Spy:
        def invoke(self, args: list[str]) -> SimpleNamespace:
            seen.update({k: os.environ.get(k) for k in ("DBT_SCHEMA", "HEURES_TIMEZONE")})
            seen["stats"] = os.environ.get("DBT_SEND_ANONYMOUS_USAGE_STATS")
            seen["args"] = " ".join(args)
            return SimpleNamespace(success=True, result=None, exception=None)

    monkeypatch.setattr("dbt.cli.main.dbtRunner", Spy)
    result = run_dbt(["parse"], env={"DBT_SCHEMA": "during", "HEURES_TIMEZONE": "UTC"})
    assert result.success
    assert seen["DBT_SCHEMA"] == "during" and seen["HEURES_TIMEZONE"] == "UTC"
    assert seen["stats"] == "False"
    assert f"--project-dir {DBT_PROJECT_DIR}" in str(seen["args"])
    assert os.environ["DBT_SCHEMA"] == "before"
    assert "HEURES_TIMEZONE" not in os.environ
    assert os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "True"


def test_a_real_dbt_command_runs_in_process(tmp_path: Path) -> None:
    result = run_dbt(
        ["parse"],
        env={"DBT_TARGET_PATH": str(tmp_path / "target"), "DBT_LOG_PATH": str(tmp_path / "l")},
    )
    assert result.success, result.summary()
    assert "model.batisync.to_push" in result.raw.nodes
    assert (tmp_path / "target" / "manifest.json").exists()


def test_dbt_sessions_run_without_jit_and_keep_the_sites_pgoptions(
    pg: EmbeddedPostgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dbt_env turns PostgreSQL's JIT off for dbt's sessions (its compile time costs more
    than it saves on the transform's queries) and keeps a PGOPTIONS the site set."""
    monkeypatch.setenv("PGOPTIONS", "-c statement_timeout=123456")
    staging = make_staging(pg, "nojit", tmp_path)
    settings = load_settings({"CREDENTIALS_FILE": "", **staging.env}, dotenv_path=None)
    env = {**staging.env, **dbt_env(settings)}
    query = "select current_setting('jit') as jit, current_setting('statement_timeout') as t"
    result = run_dbt(["show", "--inline", query], env=env)
    assert result.success, result.summary()
    table = result.raw.results[0].agate_table
    assert [tuple(row) for row in table.rows] == [("off", "123456ms")]
