"""Benchmarks (`make bench`): files are named `bench_*.py`; each session has its own cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.pg_fixtures import new_database, pg  # noqa: F401 (fixtures)


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Module | None:
    # pytest collects only test_*.py by default; benchmarks live in bench_*.py
    # (a file named on the command line is collected by pytest itself)
    if (
        file_path.suffix == ".py"
        and file_path.name.startswith("bench_")
        and not parent.session.isinitpath(file_path)
    ):
        return pytest.Module.from_parent(parent, path=file_path)
    return None
