"""Shared fixtures: a throwaway PostgreSQL cluster per test session, fresh databases."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from devstack.batigest import create_standin
from devstack.pg import EmbeddedPostgres

os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
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


@pytest.fixture
def staging_url(
    pg: EmbeddedPostgres, new_database: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> str:
    """A fresh staging database; the PG* variables point at it (dbt and libpq read them)."""
    url = new_database("staging")
    for key, value in pg.env(sa.make_url(url).database).items():
        monkeypatch.setenv(key, value)
    return url


@pytest.fixture
def batigest_url(new_database: Callable[[str], str]) -> str:
    """A fresh database holding the Batigest stand-in (dbo.Salarie, dbo.SuiviMO)."""
    url = new_database("batigest")
    create_standin(url).dispose()
    return url
