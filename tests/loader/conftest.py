"""Fixtures of the loader tests: a fake API, its client, a loader on a fresh staging."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batisync.loader.api.client import BatiSimplyClient
from batisync.loader.pipeline import LoadReport, run_load
from devstack.fake_batisimply import Dataset, FakeBatiSimply
from tests.loader.helpers import FAST_RETRY, Loader, credentials_for, small_dataset, window


@pytest.fixture
def dataset() -> Dataset:
    return small_dataset()


@pytest.fixture
def api(dataset: Dataset) -> Iterator[FakeBatiSimply]:
    with FakeBatiSimply(dataset) as server:
        yield server


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
