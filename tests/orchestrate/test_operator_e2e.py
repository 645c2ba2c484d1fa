"""Issue 14, the operator's day on the local stack (fake API → staging → dbt → stand-in),
through `python -m batisync`: a dry run lists what it would write and counts nothing as
written; real runs record new rejections apart from old ones and alert a webhook; the
rejects go to CSV; `runs` shows the history; `reconcile` finds drift (exit 1), repairs
it, and is recorded; a failing webhook never fails the sync."""

from __future__ import annotations

import csv
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
from tests.orchestrate.helpers import WEBHOOK_TOKEN, Receiver, conninfo_of

pytestmark = pytest.mark.slow


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "batisync", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _suivimo(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text('select "CodeChantier", "CodeSalarie", "Date", "NbH0" from dbo."SuiviMO"')
        )
        return sorted(tuple(r) for r in rows)


def _runs(staging_url: str) -> list[tuple]:
    with psycopg.connect(**conninfo_of(staging_url)) as conn:
        return conn.execute(
            "select command, status, dry_run, inserted, exit_code from sync_runs "
            "order by started_at"
        ).fetchall()


def test_the_operators_day(
    api: FakeBatiSimply,
    receiver: Receiver,
    staging_url: str,
    batigest_url: str,
    tmp_path: Path,
) -> None:
    batigest = sa.create_engine(batigest_url)
    seed_salaries(
        batigest, [(r["Code"], r["Nom"], r["codebs"]) for r in api.dataset.salarie_rows()]
    )
    env = sync_env(
        staging_url,
        batigest_url,
        tmp_path,
        api=api,
        ALERT_WEBHOOK_URL=receiver.url,
        ALERT_REJECTED_THRESHOLD="100000",
    )

    # 1. a dry run: every row it would write, with its key and values; nothing counted
    dry = _cli(["sync", "--dry-run", "--json"], env, tmp_path)
    assert dry.returncode == 0, dry.stderr[-3000:]
    summary = json.loads(dry.stdout)
    counts = summary["suivimo"]
    assert summary["dry_run"] is True and _suivimo(batigest) == []
    assert (counts["inserted"], counts["updated"], counts["moved"]) == (0, 0, 0)
    would = counts["would"]["inserted"]
    assert would > 0 and len(summary["planned_writes"]) == would
    first = summary["planned_writes"][0]
    assert first["action"] == "insert" and first["old_key"] is None
    assert set(first["new_key"]) == {"CodeChantier", "CodeSalarie", "Date"}
    assert set(first["new_values"]) == {"NbH0", "NbH3", "NbH4"}
    assert _runs(staging_url) == [("sync", "success", True, 0, 0)]
    rejected_total = counts["rejected"]
    assert rejected_total > 0 and counts["rejected_new"] == rejected_total
    assert receiver.bodies == []  # a dry run alerts only when it fails

    text = _cli(["sync", "--dry-run"], env, tmp_path)
    assert text.returncode == 0, text.stderr[-3000:]
    assert "SuiviMO (dry run, nothing written): would insert" in text.stdout
    assert f"would write {would} row(s):" in text.stdout
    assert ": insert - - -> (" in text.stdout  # key, old → new, values

    # 2. the first real run: one retry on the API, logged with host, status and wait;
    #    every rejection is new, so the webhook gets the summary
    api.fail_next(times=1, status=503, path_contains="project")
    real = _cli(["sync", "--json"], env, tmp_path)
    assert real.returncode == 0, real.stderr[-3000:]
    summary = json.loads(real.stdout)
    host = api.base_url.removeprefix("http://")
    assert f"{host}/api/project: HTTP 503; retry 1 in" in real.stderr
    assert summary["suivimo"]["inserted"] == would == len(_suivimo(batigest))
    assert summary["suivimo"]["rejected_new"] == summary["suivimo"]["rejected"] > 0
    assert summary["alert"]["sent"] is True
    assert [b["run_id"] for b in receiver.bodies] == [summary["run_id"]]
    assert "new rejection(s)" in receiver.bodies[0]["alert_reasons"][0]
    export_stage = next(s for s in summary["stages"] if s["name"] == "export")
    assert export_stage["report"]["rejected"] == summary["suivimo"]["rejected"]
    assert f"SuiviMO: inserted {would}," in real.stderr  # the export's own log line agrees
    for line in real.stderr.splitlines():  # plain lines for cron: no colour, no repr
        assert "\x1b[" not in line and "{'" not in line

    # 3. the list for whoever fixes the data
    csv_path = tmp_path / "rejects.csv"
    listed = _cli(["rejected", "--csv", str(csv_path)], env, tmp_path)
    assert listed.returncode == 0, listed.stderr
    with csv_path.open(encoding="utf-8-sig") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == summary["suivimo"]["rejected"]
    needed = {"employee_name", "work_date", "started_at_local", "project_id", "project_code"}
    assert needed | {"project_name", "reason", "detail", "first_rejected_at", "is_new"} <= set(
        rows[0]
    )
    from_api = [r for r in rows if r["reason"] in {"no_project_code", "unknown_salarie"}]
    assert from_api and all(r["employee_name"] and r["work_date"] for r in from_api)
    assert all(r["project_name"] for r in from_api if r["reason"] == "no_project_code")

    # 4. the next run: nothing new, no alert; the summary says so (nothing changed at all,
    # so transform and export are skipped: issue 13)
    again = _cli(["sync"], env, tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "skipped: nothing changed since run" in again.stdout
    assert len(receiver.bodies) == 1
    listed = _cli(["rejected", "--csv"], env, tmp_path)
    assert listed.returncode == 0
    firsts = {
        r["id_heure"]: r["first_rejected_at"] for r in csv.DictReader(listed.stdout.splitlines())
    }
    assert firsts == {r["id_heure"]: r["first_rejected_at"] for r in rows}  # remembered
    assert all(r["is_new"] == "False" for r in csv.DictReader(listed.stdout.splitlines()))

    # 5. reconcile: clean (0), then a row deleted and one doubled by hand (1), repaired (0)
    clean = _cli(["reconcile"], env, tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    pushed = _suivimo(batigest)
    gone, doubled = pushed[0], pushed[1]
    with batigest.begin() as conn:
        where = '"CodeChantier" = :c and "CodeSalarie" = :s and "Date" = :d'
        keys = [dict(c=k[0], s=k[1], d=k[2]) for k in (gone, doubled)]
        conn.execute(sa.text(f'delete from dbo."SuiviMO" where {where}'), keys[0])
        conn.execute(
            sa.text(
                'insert into dbo."SuiviMO" ("CodeChantier", "CodeSalarie", "Date", "NbH0", '
                f'"NbH3", "NbH4") select "CodeChantier", "CodeSalarie", "Date", "NbH0", '
                f'"NbH3", "NbH4" from dbo."SuiviMO" where {where}'
            ),
            keys[1],
        )
    drift = _cli(["reconcile"], env, tmp_path)
    assert drift.returncode == 1, drift.stdout + drift.stderr
    assert "missing " in drift.stdout and f"({gone[0]}, {gone[1]}, " in drift.stdout
    assert "duplicated " in drift.stdout and "expected NbH0=" in drift.stdout
    assert "1 missing, 0 changed, 1 duplicated; 0 repaired, 2 left" in drift.stdout
    report = json.loads(_cli(["reconcile", "--json"], env, tmp_path).stdout)
    assert report["checked"] == report["ok"] + 2
    repaired = _cli(["reconcile", "--repair"], env, tmp_path)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "2 repaired, 0 left" in repaired.stdout
    assert _suivimo(batigest) == pushed
    assert _cli(["reconcile"], env, tmp_path).returncode == 0

    # 6. the history, for people and for monitoring
    history = _runs(staging_url)
    assert [(c, s) for c, s, *_ in history[-5:]] == [
        ("reconcile", "success"),
        ("reconcile", "drift"),
        ("reconcile", "drift"),
        ("reconcile", "success"),
        ("reconcile", "success"),
    ]
    shown = _cli(["runs", "--limit", "20"], env, tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "[dry run]" in shown.stdout and "SUCCESS" in shown.stdout and "DRIFT" in shown.stdout
    last = json.loads(_cli(["runs", "--last", "--json", "--command", "sync"], env, tmp_path).stdout)
    assert last["command"] == "sync" and last["status"] == "success" and last["exit_code"] == 0
    # the last sync changed nothing, so it skipped transform and export (issue 13): it
    # says why instead of counting SuiviMO rows
    assert last["summary"]["skipped_because"].startswith("nothing changed since run")
    assert last["summary"]["suivimo"] == {}

    # 7. a failing webhook never fails the sync, is reported, and its URL never shown
    receiver.status = 500
    env["ALERT_REJECTED_THRESHOLD"] = "0"
    failing = _cli(["sync"], env, tmp_path)
    assert failing.returncode == 0, failing.stderr[-3000:]
    assert "alert: FAILED: the webhook answered HTTP 500" in failing.stdout
    assert "more than ALERT_REJECTED_THRESHOLD=0" in receiver.bodies[-1]["alert_reasons"][0]
    for result in (dry, real, again, failing, shown):
        assert WEBHOOK_TOKEN not in result.stdout + result.stderr
    batigest.dispose()
