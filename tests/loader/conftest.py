"""Fixtures of the loader tests: a client of the fake API, a loader on a fresh staging (the
`api` and its `dataset` are tests/conftest.py's; the loader's modules mark theirs
`dataset(factory=small_dataset)`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from batisync.loader import dlt_steps
from batisync.loader.api.client import BatiSimplyClient
from batisync.loader.pipeline import LoadReport, run_load
from devstack import hostile
from devstack.batigest import create_standin, seed_chantiers, seed_salaries
from devstack.fake_batisimply import MALFORMED_KINDS, Dataset, FakeBatiSimply
from devstack.pg import EmbeddedPostgres
from tests.loader.helpers import FAST_RETRY, Loader, credentials_for, window


@pytest.fixture
def client(api: FakeBatiSimply) -> BatiSimplyClient:
    return BatiSimplyClient(credentials_for(api), FAST_RETRY)


@pytest.fixture
def load(api: FakeBatiSimply, staging_url: str, tmp_path: Path) -> Loader:
    """run_load on the fake API and the staging database; keyword arguments override."""

    def run(**overrides: Any) -> LoadReport:
        params: dict[str, Any] = {
            "staging_url": staging_url,
            "credentials": credentials_for(api),
            "window": window(),
            "chunk_days": 31,
            "pipelines_dir": tmp_path / "dlt",
            "retry": FAST_RETRY,
        }
        return run_load(**(params | overrides))

    return run


@pytest.fixture
def pipelines(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the dlt pipelines made from now on (each still made)."""
    made: list[str] = []
    real = dlt_steps.make_pipeline

    def spy(name: str, *args: Any) -> Any:
        made.append(name)
        return real(name, *args)

    monkeypatch.setattr(dlt_steps, "make_pipeline", spy)
    return made


@pytest.fixture
def full_dataset(dataset: Dataset, batigest_url: str) -> Dataset:
    """`dataset` and Batigest with rows for every resource: Salarie, ChantierDef, a
    project asked by id, the malformed kinds and the hostile corpus."""
    engine = create_standin(batigest_url)
    seed_salaries(engine, [(r["Code"], r["Nom"], r["codebs"]) for r in dataset.salarie_rows()])
    seed_chantiers(engine, [p.code for p in dataset.projects if p.code])
    engine.dispose()
    dataset.unlist_project(dataset.projects[0].id)  # its slots make a project_lookups row
    for kind in MALFORMED_KINDS:
        dataset.add_malformed(kind)
    hostile.install(dataset, hostile.corpus(dataset))
    return dataset


@pytest.fixture
def full_world(full_dataset: Dataset, batigest_url: str, load: Loader) -> Callable[..., LoadReport]:
    """`full_dataset` (every resource holds rows, quarantine too), one first load done.
    Call it to load again (keyword arguments override `load`'s)."""

    def run(**overrides: Any) -> LoadReport:
        return load(**({"batigest_url": batigest_url} | overrides))

    run()
    return run


@pytest.fixture
def copy_of(pg: EmbeddedPostgres) -> Iterator[Callable[[str], str]]:
    """`copy_of(url)`: a copy of that database (dropped after the test), its URL."""
    made: list[str] = []

    def copy(url: str) -> str:
        name = f"{sa.make_url(url).database}_copy"
        made.append(name)
        return pg.create_database(name, replace=True, template=sa.make_url(url).database)

    yield copy
    for name in made:
        pg.drop_database(name)
