"""Issue 11: an old connector user switches over unchanged. Their credentials.json (BOM,
CRLF, no `api_url`, port as a string, keys batisync does not use) drives whole syncs
(`python -m batisync sync`) against a fake API with the real service's shapes: the
jhipster realm on sso.localhost, the API on api.localhost (derived), a required scope,
codes embedded in slots, projects missing from the list but served by id, one gone
(404). Batigest is the PostgreSQL stand-in (its URL through the environment) with a
ChantierDef that lacks one code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
import sqlalchemy as sa

from devstack.batigest import seed_chantiers, seed_salaries
from devstack.fake_batisimply import FakeBatiSimply
from devstack.sync_env import work_env
from tests.orchestrate.helpers import conninfo_of
from tests.orchestrate.old_connector import old_connector_document, write_as_notepad

pytestmark = [
    pytest.mark.slow,
    pytest.mark.dataset(n_employees=3, n_projects=5, days=20, seed=21),
    # the real service's shapes: the jhipster realm, subdomains, a required scope
    pytest.mark.fake_api(realm="jhipster", subdomains=True, required_scope="openid"),
]

GONE_PROJECT = 9999  # named by a slot, unknown to GET /project/{id}: 404


def _sync(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "batisync", "sync", "--json"],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def _rows(staging_url: str, sql: str) -> list[tuple]:
    with psycopg.connect(**conninfo_of(staging_url)) as conn:
        return [tuple(r) for r in conn.execute(sql).fetchall()]


def test_old_credentials_drive_whole_syncs(
    api: FakeBatiSimply, staging_url: str, batigest_url: str, tmp_path: Path
) -> None:
    data = api.dataset
    listed, embedded, by_id, unknown = data.projects[:4]
    employee = next(e for e in data.employees if e.code is not None)
    # one slot of ours per path, at times no generated slot uses (distinct SuiviMO keys)
    base = datetime.combine(data.today - timedelta(days=3), time(17, 0), tzinfo=UTC)
    ours = {
        name: data.add_slot(employee.id, project_id, base + timedelta(minutes=7 * i), 95)
        for i, (name, project_id) in enumerate(
            [("listed", listed.id), ("embedded", embedded.id), ("by_id", by_id.id),
             ("unknown", unknown.id), ("gone", GONE_PROJECT)]
        )
    }  # fmt: skip
    data.unlist_project(embedded.id)
    data.embed_project_codes(s for s in data.slots if data.slots[s]["project"]["id"] == embedded.id)
    data.unlist_project(by_id.id)

    batigest = sa.create_engine(batigest_url)
    seed_salaries(batigest, [(r["Code"], r["Nom"], r["codebs"]) for r in data.salarie_rows()])
    seed_chantiers(batigest, [listed.code, embedded.code, by_id.code])  # not unknown.code
    staging = sa.make_url(staging_url)
    credentials = write_as_notepad(
        tmp_path / "credentials.json",
        old_connector_document(
            sso_url=api.sso_url, client_id=api.client_id, client_secret=api.client_secret,
            username=api.username, password=api.password, scope="openid",
            pg_host=str(staging.host), pg_port=int(staging.port or 5432),
            pg_user=str(staging.username), pg_database=str(staging.database),
        ),
    )  # fmt: skip
    assert "api_url" not in credentials.read_text(encoding="utf-8-sig")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CREDENTIALS_FILE": str(credentials),
        # Batigest: the stand-in, through the environment (the file's block is SQL Server)
        "BATIGEST_URL": batigest_url,
        **work_env(tmp_path),
        **api.proxy_env(),  # sso.localhost and api.localhost on loopback, without DNS
    }

    first = _sync(env, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert json.loads(first.stdout)["status"] == "success"
    assert "credentials.json `software`: a setting of the old connector" in first.stderr
    # the API was reached on the derived host, with the scope (the fake refuses otherwise)
    assert api.requests_to("/api/timeSlotManagement/allUsers")

    # project codes: the slot's own, the list's, GET /project/{id} (once per run), 404
    lookups = [r.path for r in api.requests if r.path.startswith("/api/project/")]
    assert sorted(lookups) == sorted([f"/api/project/{by_id.id}", f"/api/project/{GONE_PROJECT}"])
    local = ZoneInfo("Europe/Paris")
    with batigest.connect() as conn:
        suivimo = {
            (r[0], r[1], r[2])
            for r in conn.execute(
                sa.text('select "CodeChantier", "CodeSalarie", "Date" from dbo."SuiviMO"')
            )
        }
    for i, project in enumerate([listed, embedded, by_id]):
        start = (base + timedelta(minutes=7 * i)).astimezone(local).replace(tzinfo=None)
        assert (project.code, employee.code, start) in suivimo, project
    rows = _rows(staging_url, "select id_heure, reason, detail from public.heures_rejected")
    rejected = {r[0]: (r[1], r[2]) for r in rows}
    assert rejected[ours["unknown"]] == (
        "unknown_chantier",
        f"projectCode {unknown.code} of project {unknown.id} is not a Batigest chantier "
        "(ChantierDef.Code)",
    )
    assert rejected[ours["gone"]][0] == "no_project_code"
    assert f"GET /project/{GONE_PROJECT} answered 404" in rejected[ours["gone"]][1]
    assert {ours["listed"], ours["embedded"], ours["by_id"]}.isdisjoint(rejected)

    # total_heure: what the old table (numeric(5,2) of totalTimeMinutes) held, every slot
    minutes = {sid: s["totalTimeMinutes"] for sid, s in data.slots.items()}
    with psycopg.connect(**conninfo_of(staging_url), autocommit=True) as conn:
        conn.execute("create table old_heures (id_heure varchar(50), total_heure numeric(5,2))")
        with conn.cursor() as cur:
            cur.executemany("insert into old_heures values (%s, %s)", list(minutes.items()))
        differing = conn.execute(
            "select o.id_heure from old_heures o left join public.batigest_heures b "
            "using (id_heure) where b.total_heure is distinct from o.total_heure"
        ).fetchall()
        assert differing == []
        assert conn.execute(
            "select total_heure from public.batigest_heures where id_heure = %s", (ours["listed"],)
        ).fetchone() == (Decimal("95.00"),)
        # a user's view on it
        conn.execute(
            "create view my_view as select id_heure, total_heure, code_projet "
            "from public.batigest_heures where status_management = 'VALIDATED'"
        )

    data.change_minutes(ours["listed"], 120)
    api.clear_requests()
    for _ in range(2):  # the view survives two syncs, and follows the change
        run = _sync(env, tmp_path)
        assert run.returncode == 0, run.stderr[-3000:]
        assert _rows(
            staging_url, f"select total_heure from my_view where id_heure = '{ours['listed']}'"
        ) == [(Decimal("120.00"),)]
    lookups = [r.path for r in api.requests if r.path == f"/api/project/{by_id.id}"]
    assert len(lookups) == 2  # asked again on each run, once per run
    batigest.dispose()
