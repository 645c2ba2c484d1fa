"""Issue 17: `batisync dbt` commands that may write batigest_heures adopt the old
connector's table first, under the sync lock (exit 75 while a sync runs); the others
(`ls`, `docs generate`…) neither wait for the lock nor touch the table."""

from __future__ import annotations

import subprocess
import sys

import pytest

from batisync.orchestrate.lock import sync_lock
from tests.orchestrate.old_site import OldSite

# the old connector's deployment (`old_site`, tests/orchestrate/conftest.py) on this data
pytestmark = [pytest.mark.slow, pytest.mark.dataset(n_employees=2, n_projects=2, days=5, seed=5)]

COLUMN_TYPES = """
select attname, format_type(atttypid, atttypmod) from pg_attribute
where attrelid = 'public.batigest_heures'::regclass and attname in ('id_utilisateur', 'total_heure')
order by 1
"""


def _dbt(site: OldSite, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "batisync", "dbt", *args],
        env=site.env, cwd=site.env["DBT_TARGET_PATH"].rsplit("/", 1)[0],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def test_dbt_run_adopts_the_old_table_first_under_the_lock(old_site: OldSite) -> None:
    old_types = [("id_utilisateur", "uuid"), ("total_heure", "numeric(5,2)")]
    assert old_site.rows(COLUMN_TYPES) == old_types
    conninfo = {"host": old_site.env["PGHOST"], "port": old_site.env["PGPORT"]}
    conninfo |= {"user": old_site.env["PGUSER"], "dbname": old_site.env["PGDATABASE"]}
    with sync_lock(conninfo, name="batisync sync@cron-host pid 4242"):
        busy = _dbt(old_site, "run", "--select", "+batigest_heures")
        listed = _dbt(old_site, "ls", "--select", "batigest_heures")
    assert busy.returncode == 75, busy.stdout[-2000:] + busy.stderr[-2000:]
    assert "cron-host pid 4242" in busy.stderr
    assert listed.returncode == 0, listed.stdout[-2000:] + listed.stderr[-2000:]
    assert old_site.rows(COLUMN_TYPES) == old_types  # neither touched it

    run = _dbt(old_site, "run", "--select", "+batigest_heures")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "adopted the old connector's batigest_heures" in run.stderr
    assert old_site.rows(COLUMN_TYPES) == [("id_utilisateur", "text"), ("total_heure", "numeric")]
    # the old connector's rows are all still there
    old_ids = old_site.rows("select id_heure from public.batigest_heures where id_heure >= '9'")
    assert {r[0] for r in old_ids} == old_site.not_loaded
