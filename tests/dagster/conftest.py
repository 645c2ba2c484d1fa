"""Fixtures of the Dagster tests: demo dossiers on the session's PostgreSQL (each with its
own fake BatiSimply account and Batigest stand-in, devstack/dagster_demo.py), the
process environment a Dagster deployment gives the syncs, and the dbt data tests the
asset declares as checks.

The tests need the `dagster` extra (`make setup` installs it); each module skips, saying
so, when it is not installed.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from devstack.dagster_demo import PER_DOSSIER, DemoDossier, demo_dossiers
from devstack.pg import EmbeddedPostgres

_names = itertools.count()


@pytest.fixture
def make_dossiers(
    pg: EmbeddedPostgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., list[DemoDossier]]]:
    """Factory: dossiers named `<name>-<n>` (unique in the session: each gets its own
    staging database `batisync_<name>-<n>` on the shared server) in `tmp_path/dossiers`,
    which becomes `DOSSIERS_DIR`; nothing per dossier left in the environment."""
    folder = tmp_path / "dossiers"
    monkeypatch.setenv("DOSSIERS_DIR", str(folder))
    for name in [k for k in os.environ if k.startswith(PER_DOSSIER)]:
        monkeypatch.delenv(name)
    with contextlib.ExitStack() as stack:

        def make(names: Sequence[str], **options: int) -> list[DemoDossier]:
            unique = [f"{name}-{next(_names)}" for name in names]
            return stack.enter_context(demo_dossiers(pg, folder, unique, **options))

        yield make


@pytest.fixture(scope="session")
def data_test_list(tmp_path_factory: pytest.TempPathFactory) -> list:
    """The dbt data tests of a sync (`dbt ls`, once per session)."""
    from batisync_dagster.dbt_tests import data_tests

    tests = data_tests(tmp_path_factory.mktemp("dbt_tests"))
    assert len(tests) > 20, "dbt ls listed no data test"
    return tests
