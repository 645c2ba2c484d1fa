"""Shared fixtures: a throwaway PostgreSQL cluster per test session, fresh databases."""

# ruff: noqa: F811 (the pg fixtures are imported from devstack.pg_fixtures)

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from hypothesis import settings

from devstack.batigest import create_standin
from devstack.pg import EmbeddedPostgres
from devstack.pg_fixtures import new_database, pg  # noqa: F401 (fixtures)

os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")

# CI replays the same examples on every run, so a red build is reproducible and never a
# draw of luck; at a desk, hypothesis keeps exploring new sequences (and remembers the
# failing ones in .hypothesis/).
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


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
