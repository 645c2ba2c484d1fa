"""Issue 19: syncs whose load wrote nothing through dlt (`loader/unchanged.py`) keep the
no-change skip and dbt's source freshness: each sync after a no-change one skips again,
and `dbt source freshness` reads the load id those loads wrote (`_dlt_load_id`), and for
the time slots (rows fetched unchanged are not written) the loader's last fetch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from devstack.batigest import seed_salaries
from devstack.fake_batisimply import FakeBatiSimply
from devstack.sync_env import sync_env

# dbt's source freshness errors after 3 days (models/staging/*/_*__sources.yml)
STALE = "(extract(epoch from now() - interval '4 days'))::text"
FRESHNESS = [
    "source:batisimply.projects",
    "source:batigest.salarie",
    "source:batisimply.time_slots",
]
STALE_TIME = "now() - interval '4 days'"


def _batisync(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "batisync", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_no_change_loads_keep_the_skip_and_the_source_freshness(
    api: FakeBatiSimply, staging_url: str, batigest_url: str, tmp_path: Path
) -> None:
    batigest = sa.create_engine(batigest_url)
    seed_salaries(
        batigest, [(r["Code"], r["Nom"], r["codebs"]) for r in api.dataset.salarie_rows()]
    )
    batigest.dispose()
    env = sync_env(staging_url, batigest_url, tmp_path, api=api)
    first = json.loads(_batisync(env, tmp_path, "sync", "--json").stdout)
    assert first["skipped_because"] is None

    # the loads of the previous syncs are old now, as after a long weekend without sync
    staging = sa.create_engine(staging_url)
    with staging.begin() as conn:
        for table in ("raw_batisimply.projects", "raw_batigest.salarie"):
            conn.execute(sa.text(f"update {table} set _dlt_load_id = {STALE}"))
        conn.execute(sa.text(f"update raw_batisimply.time_slots set _fetched_at = {STALE_TIME}"))
        last_fetch = "raw_batisimply.time_slots_last_fetch"
        conn.execute(sa.text(f"update {last_fetch} set fetched_at = {STALE_TIME}"))
    staging.dispose()
    stale = _batisync(env, tmp_path, "dbt", "source", "freshness", "--select", *FRESHNESS)
    assert stale.returncode == 1, stale.stdout[-3000:]

    trusted = first["run_id"]
    for _ in range(2):  # a no-change sync, then the sync after it (it trusts the skip)
        again = json.loads(_batisync(env, tmp_path, "sync", "--json").stdout)
        assert again["skipped_because"] == f"nothing changed since run {trusted}"
        trusted = again["run_id"]
    fresh = _batisync(env, tmp_path, "dbt", "source", "freshness", "--select", *FRESHNESS)
    assert fresh.returncode == 0, fresh.stdout[-3000:]
