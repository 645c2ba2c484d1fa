"""Benchmarks (`make bench`): files are named `bench_*.py`; each session has its own cluster."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devstack.pg import EmbeddedPostgres

_counter = itertools.count()


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


@pytest.fixture(scope="session")
def pg() -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL cluster of the benchmarks' own, in a temp folder, on a free port."""
    with EmbeddedPostgres.temporary() as cluster:
        yield cluster


@pytest.fixture
def new_database(pg: EmbeddedPostgres) -> Callable[[str], str]:
    """Factory: a fresh, empty database; returns its SQLAlchemy URL."""

    def make(prefix: str = "bench") -> str:
        return pg.create_database(f"{prefix}_{os.getpid()}_{next(_counter)}", replace=True)

    return make
