"""Fixtures of the Dagster tests: two demo dossiers on the session's PostgreSQL (each with
its own fake BatiSimply account and Batigest stand-in, devstack/dagster_demo.py), shared
by the package's tests so that each first sync happens once; the process environment a
Dagster deployment gives the syncs; the dbt data tests the asset declares as checks.

The tests need the `dagster` extra (`make setup` installs it); each module skips, saying
so, when it is not installed.
"""

from __future__ import annotations

import itertools
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.dagster_demo import PER_DOSSIER, DemoDossier, demo_dossiers
from devstack.pg import EmbeddedPostgres

_names = itertools.count()


@pytest.fixture(scope="package", autouse=True)
def signal_handlers_restored() -> Iterator[None]:
    """Dagster's in-process execution installs SIGTERM/SIGINT handlers it does not put
    back: the other packages' tests must find the handlers they started with."""
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for signum, handler in before.items():
        signal.signal(signum, handler)


@pytest.fixture(scope="package")
def dossiers_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`DOSSIERS_DIR` for the package; nothing per dossier left in the environment."""
    folder = tmp_path_factory.mktemp("fleet") / "dossiers"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DOSSIERS_DIR", str(folder))
        for name in [k for k in os.environ if k.startswith(PER_DOSSIER)]:
            patch.delenv(name)
        yield folder


@pytest.fixture(scope="package")
def fleet(pg: EmbeddedPostgres, dossiers_folder: Path) -> Iterator[list[DemoDossier]]:
    """Dossiers `alpha-<n>` and `beta-<n>` (unique in the session: each gets its own staging
    database `batisync_<name>` on the shared server), not synced yet."""
    names = [f"{name}-{next(_names)}" for name in ("alpha", "beta")]
    with demo_dossiers(pg, dossiers_folder, names) as made:
        yield made


@pytest.fixture(scope="session")
def dbt_tests_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of the dbt data test list's cache (`dbt ls`, once per session)."""
    return tmp_path_factory.mktemp("dbt_tests")


@pytest.fixture(scope="session")
def data_test_list(dbt_tests_cache: Path) -> list:
    """The dbt data tests of a sync."""
    from batisync_dagster.dbt_tests import data_tests

    tests = data_tests(dbt_tests_cache)
    assert len(tests) > 20, "dbt ls listed no data test"
    return tests
