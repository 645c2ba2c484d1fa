"""pytest fixtures of a throwaway PostgreSQL cluster, shared by `tests/` and `benchmarks/`.

Import them into a conftest (`from devstack.pg_fixtures import new_database, pg`): each
pytest session then starts a cluster of its own, so parallel sessions never collide.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator

import pytest

from devstack.pg import EmbeddedPostgres

_counter = itertools.count()


@pytest.fixture(scope="session")
def pg() -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL cluster of our own, in a temp folder, on a free port."""
    with EmbeddedPostgres.temporary() as cluster:
        yield cluster


@pytest.fixture
def new_database(pg: EmbeddedPostgres) -> Callable[[str], str]:
    """Factory: a fresh, empty database; returns its SQLAlchemy URL."""

    def make(prefix: str = "db") -> str:
        return pg.create_database(f"{prefix}_{os.getpid()}_{next(_counter)}", replace=True)

    return make
