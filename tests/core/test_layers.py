"""The layers of docs/ARCHITECTURE.md hold: `lint-imports` keeps the pyproject contracts,
and breaks them when a lower layer imports a higher one."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_import_points_downward() -> None:
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def _copy(tmp_path: Path) -> Path:
    for name in ("batisync", "batisync_dagster", "devstack"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")


def test_an_upward_import_breaks_the_contract(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    _append(root / "batisync" / "core" / "ids.py", "import batisync.orchestrate.sync")
    result = _lint(root)
    assert result.returncode != 0
    assert "batisync.core.ids -> batisync.orchestrate.sync" in result.stdout


def test_batisync_never_imports_dagster_nor_its_code_location(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    _append(root / "batisync" / "orchestrate" / "alerts.py", "import dagster")
    _append(root / "batisync" / "cli" / "run.py", "import batisync_dagster.process")
    result = _lint(root)
    assert result.returncode != 0
    assert "2 kept" not in result.stdout and "broken" in result.stdout
    assert "batisync.orchestrate.alerts -> dagster" in result.stdout
    assert "batisync.cli.run -> batisync_dagster.process" in result.stdout
