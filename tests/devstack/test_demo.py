"""`make demo` end to end: its own PostgreSQL, the fake API, the stand-in, two syncs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.sync_env import work_env

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_moves_rows_and_duplicates_none(tmp_path: Path) -> None:
    out = tmp_path / "demo.json"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PG", "BATI", "HEURES"))},
        **work_env(tmp_path),  # dbt's and dlt's work files away from the repository
    }
    command = [sys.executable, "-m", "devstack.demo", "--employees", "8", "--days", "45"]
    result = subprocess.run(
        [*command, "--temporary", "--json-out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "no duplicate" in result.stdout and "Demo OK" in result.stdout

    demo = json.loads(out.read_text())
    assert demo["problems"] == []
    first, second = demo["first"], demo["second"]
    assert first["status"] == second["status"] == "success"
    assert first["suivimo"]["inserted"] > 0
    # the scenario: one slot moved 09:00 → 10:00, one changed project, one un-validated,
    # one new; nothing else changed upstream
    assert second["staging_changed"]["total"] == 4
    moved_or_new = {k: second["suivimo"][k] for k in ("inserted", "updated", "moved")}
    assert moved_or_new == {"inserted": 1, "updated": 0, "moved": 2}
    assert demo["duplicate_keys"] == 0
    assert demo["suivimo_rows"] == demo["mapped_slots"] == first["suivimo"]["inserted"] + 1
    changes = {c["kind"]: c for c in demo["changes"]}
    moved = changes["moved"]
    assert moved["key_before"].endswith("09:00)") and moved["key_after"].endswith("10:00)")
    assert (moved["rows_at_old_key"], moved["rows_at_new_key"]) == (0, 1)
    switched = changes["project_changed"]
    assert switched["key_before"] != switched["key_after"]
    assert (switched["rows_at_old_key"], switched["rows_at_new_key"]) == (0, 1)
    # the moved rows are shown to the person running the demo
    assert f"slot {moved['slot_id']}" in result.stdout
    assert "moved 2" in result.stdout
