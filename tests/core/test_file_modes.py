"""Issue 12: settings files other users may read are named with their fix (`chmod 600`),
the files are the ones the settings read, and a sync warns even when the rest of its
configuration is incomplete (`core/file_modes.py`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from batisync.core.file_modes import config_files, loose_permissions


def test_a_file_others_may_read_is_named_with_its_chmod(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials.json"
    credentials.write_text("{}")
    credentials.chmod(0o644)
    (warning,) = loose_permissions([credentials])
    assert str(credentials) in warning and f"chmod 600 {credentials}" in warning
    credentials.chmod(0o600)
    assert loose_permissions([credentials]) == []


def test_the_files_are_the_ones_settings_read(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"CREDENTIALS_FILE={tmp_path / 'c.json'}\n")
    (tmp_path / "c.json").write_text("{}")
    assert config_files({}, dotenv) == [dotenv, tmp_path / "c.json"]
    other = tmp_path / "other.json"
    other.write_text("{}")
    assert config_files({"CREDENTIALS_FILE": str(other)}, dotenv) == [dotenv, other]


def test_sync_warns_even_when_the_configuration_is_incomplete(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials.json"
    credentials.write_text('{"postgres": {"password": "Pg-S3cret"}}')
    credentials.chmod(0o644)
    env = {"PATH": os.environ.get("PATH", ""), "CREDENTIALS_FILE": str(credentials)}
    done = subprocess.run(
        [sys.executable, "-m", "batisync", "sync"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert f"chmod 600 {credentials}" in done.stderr
    assert "Pg-S3cret" not in done.stderr + done.stdout
