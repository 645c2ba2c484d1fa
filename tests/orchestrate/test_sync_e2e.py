"""`python -m batisync sync` with the real stages: fake API → staging → dbt → stand-in.

One scenario (each sync is a process that imports dlt and dbt): a first sync pushes,
then Batigest gets a duplicate Salarie code, so a dbt test fails: the second sync
must stop at `transform`, leave SuiviMO as it was, and say so.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from devstack.batigest import seed_salaries
from devstack.fake_batisimply import FakeBatiSimply
from devstack.sync_env import sync_env
from tests.orchestrate.helpers import conninfo_of

pytestmark = pytest.mark.slow


SUIVIMO = 'select "CodeChantier", "CodeSalarie", "Date", "NbH0" from dbo."SuiviMO"'


def _suivimo(batigest_url: str) -> list[tuple]:
    engine = sa.create_engine(batigest_url)
    try:
        with engine.connect() as conn:
            return sorted(tuple(row) for row in conn.execute(sa.text(SUIVIMO)))
    finally:
        engine.dispose()


def _sync(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "batisync", "sync", "--json"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _data_tests(summary: dict) -> dict[str, tuple[str, int | None]]:
    """name -> (status, failing rows) of each data test the transform stage ran."""
    stage = next(s for s in summary["stages"] if s["name"] == "transform")
    return {t["name"]: (t["status"], t["failures"]) for t in stage["report"]["tests"]}


def test_a_batigest_that_does_not_fit_stops_the_run_before_any_write(
    api: FakeBatiSimply, staging_url: str, batigest_url: str, tmp_path: Path
) -> None:
    batigest = sa.create_engine(batigest_url)
    seed_salaries(
        batigest, [(r["Code"], r["Nom"], r["codebs"]) for r in api.dataset.salarie_rows()]
    )
    with batigest.begin() as conn:  # a day, not a datetime: a move would become an insert
        conn.execute(sa.text('alter table dbo."SuiviMO" alter column "Date" type date'))
    batigest.dispose()
    result = _sync(sync_env(staging_url, batigest_url, tmp_path, api=api), tmp_path)
    assert result.returncode == 2, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert (summary["status"], summary["failed_stage"]) == ("config_error", "transform")
    assert "SuiviMO.Date: is date; expected datetime or datetime2" in summary["error"]
    assert _suivimo(batigest_url) == []  # nothing written


def test_a_failing_dbt_test_stops_the_run_before_the_export(
    api: FakeBatiSimply, staging_url: str, batigest_url: str, tmp_path: Path
) -> None:
    batigest = sa.create_engine(batigest_url)
    salaries = [(r["Code"], r["Nom"], r["codebs"]) for r in api.dataset.salarie_rows()]
    seed_salaries(batigest, salaries)
    env = sync_env(staging_url, batigest_url, tmp_path, api=api)

    first = _sync(env, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    summary = json.loads(first.stdout)
    pushed = _suivimo(batigest_url)
    assert summary["status"] == "success"
    assert summary["suivimo"]["inserted"] == len(pushed) > 0
    assert summary["fetched"]["time_slots"] == len(api.dataset.slots)
    tests = _data_tests(summary)  # each data test's own result, for schedulers' checks
    assert len(tests) > 20 and set(tests.values()) == {("pass", 0)}
    with psycopg.connect(**conninfo_of(staging_url)) as conn:
        synced = conn.execute("select count(*) from public.batigest_heures where sync").fetchone()
    assert synced == (len(pushed),)  # published after the export: `sync` shows the push

    # Batigest now holds two Salarie with one code (possible without a key in SQL Server)
    with batigest.begin() as conn:
        conn.execute(sa.text('alter table dbo."Salarie" drop constraint "Salarie_pkey"'))
    code, nom, _ = salaries[0]
    seed_salaries(batigest, [(code, f"{nom} bis", "00000000-0000-4000-8000-000000000000")])
    slot = next(
        s
        for s in api.dataset.validated_slots()
        if (e := api.dataset.employee(s["user"]["id"])) is not None and e.code is not None
    )
    api.dataset.move_slot(slot["id"], 60)  # a change the export would have written

    second = _sync(env, tmp_path)
    assert second.returncode == 1, second.stderr[-3000:]
    failed = json.loads(second.stdout)
    assert (failed["status"], failed["failed_stage"]) == ("failed", "transform")
    assert "unique_stg_batigest__salaries_salarie_code" in failed["error"]
    tests = _data_tests(failed)
    assert tests.pop("unique_stg_batigest__salaries_salarie_code") == ("fail", 1)
    assert len(tests) > 20 and ("pass", 0) in set(tests.values())
    assert [(s["name"], s["status"]) for s in failed["stages"]] == [
        ("load", "ok"),
        ("transform", "failed"),
        ("export", "skipped"),
        ("publish", "skipped"),
        ("drift", "skipped"),
    ]
    assert _suivimo(batigest_url) == pushed  # SuiviMO untouched
    with psycopg.connect(**conninfo_of(staging_url)) as conn:
        row = conn.execute(
            "select status, failed_stage, error from public.sync_runs "
            "order by started_at desc limit 1"
        ).fetchone()
    assert row is not None and row[:2] == ("failed", "transform")
    assert "salarie_code" in row[2]
    batigest.dispose()


def test_a_run_that_finds_nothing_new_skips_transform_and_export(
    api: FakeBatiSimply, staging_url: str, batigest_url: str, tmp_path: Path
) -> None:
    batigest = sa.create_engine(batigest_url)
    seed_salaries(
        batigest, [(r["Code"], r["Nom"], r["codebs"]) for r in api.dataset.salarie_rows()]
    )
    batigest.dispose()
    env = sync_env(staging_url, batigest_url, tmp_path, api=api)
    first = json.loads(_sync(env, tmp_path).stdout)
    assert first["status"] == "success" and first["skipped_because"] is None

    again = json.loads(_sync(env, tmp_path).stdout)
    assert again["status"] == "success"
    assert again["skipped_because"] == f"nothing changed since run {first['run_id']}"
    # the drift stage runs anyway: SuiviMO may have been edited by hand
    assert [s["status"] for s in again["stages"]] == ["ok", "skipped", "skipped", "skipped", "ok"]
    assert again["drift"] == {
        "checked": len(_suivimo(batigest_url)),
        "restored": 0,
        "reported": 0,
        "new": 0,
        "restored_kinds": {},
        "reported_kinds": {},
        "new_kinds": {},
    }
    pushed = _suivimo(batigest_url)

    slot = next(
        s
        for s in api.dataset.validated_slots()
        if (e := api.dataset.employee(s["user"]["id"])) is not None and e.code is not None
    )
    api.dataset.move_slot(slot["id"], 60)  # a change upstream: the next run must push it
    third = json.loads(_sync(env, tmp_path).stdout)
    assert third["skipped_because"] is None
    assert third["suivimo"]["moved"] + third["suivimo"]["updated"] >= 1
    assert _suivimo(batigest_url) != pushed
    # its transform trusted the run that skipped (complete, the same inputs): the staging
    # tests of a row's own columns read only the raw rows written since its generation
    with psycopg.connect(**conninfo_of(staging_url)) as conn:
        since = conn.execute("select since_generation, same_inputs from transform_since")
        generation = conn.execute(
            "select generation from sync_runs where run_id = %s", (again["run_id"],)
        )
        assert since.fetchall() == [(generation.fetchone()[0], True)]
