"""Issue 12: doctor warns about a credentials file other users may read (not a failure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from batisync.core.settings import load_settings
from batisync.tools.doctor import render, run_doctor


def test_doctor_names_a_loose_credentials_file_and_its_chmod(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = tmp_path / "credentials.json"
    credentials.write_text("{}")
    credentials.chmod(0o644)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CREDENTIALS_FILE", str(credentials))
    settings = load_settings({"CREDENTIALS_FILE": str(credentials)}, dotenv_path=None)
    checks = run_doctor(settings)
    (warning,) = [c for c in checks if c.level == "warning"]
    assert warning.ok is True  # a warning never changes doctor's exit status
    assert warning.label == "WARN" and f"chmod 600 {credentials}" in warning.detail
    assert "WARN  file permissions" in render(settings, checks)

    credentials.chmod(0o600)
    assert not [c for c in run_doctor(settings) if c.level == "warning"]
