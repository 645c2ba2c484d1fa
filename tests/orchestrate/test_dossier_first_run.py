"""Issue 20: a dossier whose company the old connector synced. Its SuiviMO already holds
the old connector's rows and its map lives on the old staging server: batisync's first
run (a new, empty staging database) says so and names `batisync import-map`; once the
old map is brought in, a slot moved since moves its old row instead of leaving it."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from devstack.dossiers import fleet_env, write_shared
from devstack.fake_batisimply import generate
from devstack.old_deployment import old_heure, write_old_deployment
from devstack.pg import EmbeddedPostgres
from devstack.reliability.changes import many
from devstack.sync_env import WINDOW_DAYS
from devstack.verify import healthy_keys
from tests.orchestrate.dossier_sites import batisync, new_site
from tests.orchestrate.helpers import conninfo_of

pytestmark = pytest.mark.slow


def test_first_run_names_import_map_and_the_imported_map_moves_old_rows(
    pg: EmbeddedPostgres, tmp_path: Path
) -> None:
    folder = tmp_path / "dossiers"
    write_shared(folder, pg.url())
    site = new_site(pg, folder, "delta", generate(n_employees=3, n_projects=2, days=10, seed=404))
    try:
        data = site.dataset
        assert data.today is not None
        # the old connector's staging database on its old server, and what it pushed
        old_url = pg.create_database("old_buffer_delta", replace=True)
        salarie = {r["codebs"]: r["Code"] for r in data.salarie_rows()}
        pushed = sorted(healthy_keys(data, data.today, WINDOW_DAYS))
        batigest = sa.create_engine(site.batigest_url)
        with psycopg.connect(**conninfo_of(old_url)) as conn:
            keys = write_old_deployment(
                conn, batigest, [old_heure(data, i) for i in data.slots], salarie, pushed=pushed
            )
        batigest.dispose()
        assert keys and len(site.suivimo()) == len(keys)
        env = fleet_env(folder)

        first = batisync(env, "sync", "--dossier", "delta", "--dry-run", "--json")
        assert first.returncode == 0, first.stderr[-3000:]
        hint = "batisync import-map --dossier delta --from postgresql://"
        assert hint in first.stderr  # logged
        assert hint in first.stdout  # and in the run's own summary
        assert f"SuiviMO already holds {len(keys)} row(s)" in first.stdout

        imported = batisync(env, "import-map", "--dossier", "delta", "--from", old_url, "--json")
        assert imported.returncode == 0, imported.stderr[-3000:]
        report = json.loads(imported.stdout)
        assert (report["read"], report["imported"]) == (len(keys), len(keys))
        assert "@" in report["source"] and "old_buffer_delta" in report["source"]
        again = batisync(env, "import-map", "--dossier", "delta", "--from", old_url, "--json")
        assert json.loads(again.stdout)["already_known"] == len(keys)  # kept as they are

        # slots moved since the old connector's last run move their old rows
        many(data, n=3, seed=9)
        after = site.keys()
        moved = {i: key for i, key in keys.items() if after.get(i, key) != key}
        assert moved
        done = batisync(env, "sync", "--dossier", "delta", "--json")
        assert done.returncode == 0, done.stderr[-3000:]
        assert "import-map" not in done.stderr  # the map is not empty any more
        assert json.loads(done.stdout)["suivimo"]["moved"] >= len(moved)
        site.assert_converged(moved)
    finally:
        site.api.stop()
