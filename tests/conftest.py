"""Shared fixtures: a throwaway PostgreSQL cluster per test session, fresh databases, the
fake BatiSimply API and its dataset."""

# ruff: noqa: F811 (the pg fixtures are imported from devstack.pg_fixtures)

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from hypothesis import settings

from devstack.batigest import create_standin
from devstack.fake_batisimply import Dataset, FakeBatiSimply, generate
from devstack.pg import EmbeddedPostgres
from devstack.pg_fixtures import new_database, pg  # noqa: F401 (fixtures)
from tests.orchestrate.helpers import Receiver

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


# the fake API's data when no `dataset` marker says otherwise: dated around today (a
# sync's window ends today); the last employee has no Salarie, the last project no code
E2E_DATASET = {"n_employees": 4, "n_projects": 3, "days": 20, "seed": 11}


@pytest.fixture
def dataset(request: pytest.FixtureRequest) -> Dataset:
    """The fake API's data: `generate(**E2E_DATASET)`, or as the closest `dataset` marker
    (a test's, or its module's `pytestmark`) says: keyword arguments of `generate` over
    E2E_DATASET (`dataset(seed=5)`), or a factory and its arguments
    (`dataset(factory=small_dataset)`)."""
    marker = request.node.get_closest_marker("dataset")
    options = dict(marker.kwargs) if marker is not None else {}
    if (factory := options.pop("factory", None)) is not None:
        return factory(**options)
    return generate(**(E2E_DATASET | options))


@pytest.fixture
def api(request: pytest.FixtureRequest, dataset: Dataset) -> Iterator[FakeBatiSimply]:
    """The fake BatiSimply API serving `dataset` on loopback; the closest `fake_api`
    marker's keyword arguments are the server's options (realm, scope, …)."""
    marker = request.node.get_closest_marker("fake_api")
    with FakeBatiSimply(dataset, **(marker.kwargs if marker else {})) as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook on loopback that keeps what is posted to it (alerts)."""
    server = Receiver()
    yield server
    server.close()
