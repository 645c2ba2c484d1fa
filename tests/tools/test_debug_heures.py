"""scripts/debug_heures.py (make debug-heures) against a synced local stack."""

from __future__ import annotations

import importlib.util
import sys
from datetime import timedelta
from pathlib import Path
from types import ModuleType

import psycopg
import pytest
import sqlalchemy as sa

from batisync.core.settings import load_settings
from batisync.orchestrate.lock import sync_lock
from batisync.orchestrate.sync import sync_from_settings
from devstack.batigest import seed_salaries
from devstack.fake_batisimply import FakeBatiSimply
from devstack.sync_env import sync_env
from tests.orchestrate.helpers import conninfo_of

pytestmark = [pytest.mark.slow, pytest.mark.dataset(seed=5)]
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "debug_heures.py"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("debug_heures", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _map(staging_url: str) -> dict[str, tuple]:
    engine = sa.create_engine(staging_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "select id_heure, code_chantier, code_salarie, date_sqlserver "
                "from public.batigest_heures_map"
            )
        )
        found = {r[0]: (r[1], r[2], r[3]) for r in rows}
    engine.dispose()
    return found


def _suivimo_keys(batigest_url: str) -> list[tuple]:
    engine = sa.create_engine(batigest_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text('select "CodeChantier", "CodeSalarie", "Date" from dbo."SuiviMO"')
        )
        keys = sorted(tuple(r) for r in rows)
    engine.dispose()
    return keys


def test_recette_lists_plans_and_applies_one_slot(
    api: FakeBatiSimply,
    staging_url: str,
    batigest_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env / credentials.json of the repository
    env = sync_env(staging_url, batigest_url, tmp_path, api=api, window_days=25)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    seed_salaries(
        sa.create_engine(batigest_url),
        [(r["Code"], r["Nom"], r["codebs"]) for r in api.dataset.salarie_rows()],
    )
    assert sync_from_settings(load_settings()).status == "success"
    before = _map(staging_url)
    script = _load_script()

    # 1. the list: pushed slots are up to date, the unmatched employee's are rejected
    assert script.main(["--days", "20"]) == 0
    listing = capsys.readouterr().out
    pushed_id = sorted(before)[-1]
    line = next(x for x in listing.splitlines() if x.startswith(f"{pushed_id} "))
    assert "up to date" in line
    assert "REJECTED unknown_salarie" in listing

    # 2. two slots move upstream; a dry run on one shows the move and writes nothing
    first, second = sorted(before)[-2:]
    api.dataset.move_slot(first, 60)
    api.dataset.move_slot(second, 60)
    suivimo_before = _suivimo_keys(batigest_url)
    assert script.main(["--id-heure", first, "--update-codes"]) == 0
    out = capsys.readouterr().out
    assert "plan (dry run, nothing written" in out
    assert f"{first}: move" in out
    assert "to push (key_changed)" in out
    assert _suivimo_keys(batigest_url) == suivimo_before

    # 3. --apply writes that slot only
    assert script.main(["--id-heure", first, "--apply"]) == 0
    out = capsys.readouterr().out
    assert "up to date" in out
    old_first = before[first]
    new_first = (old_first[0], old_first[1], old_first[2] + timedelta(hours=1))
    keys = _suivimo_keys(batigest_url)
    assert new_first in keys and old_first not in keys
    assert before[second] in keys  # not applied: still at its old key
    assert len(keys) == len(suivimo_before)
    # issue 14: an --apply write is in the run history, with its counts
    with psycopg.connect(**conninfo_of(staging_url)) as conn:
        history = conn.execute(
            "select status, dry_run, moved, inserted from sync_runs where command = 'debug-heures'"
        ).fetchall()
    assert history == [("success", False, 1, 0)]

    # 4. an unknown slot, and a sync holding the lock
    assert script.main(["--id-heure", "999999"]) == 1
    assert "never loaded" in capsys.readouterr().out
    with sync_lock(conninfo_of(staging_url), name="batisync sync@elsewhere pid 1"):
        assert script.main(["--id-heure", second, "--apply"]) == 75
    assert "batisync sync@elsewhere pid 1" in capsys.readouterr().err
