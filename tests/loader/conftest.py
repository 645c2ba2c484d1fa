"""Fixtures of the loader tests: a client of the fake API, a loader on a fresh staging (the
`api` and its `dataset` are tests/conftest.py's; the loader's modules mark theirs
`dataset(factory=small_dataset)`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from batisync.loader.api.client import BatiSimplyClient
from batisync.loader.pipeline import LoadReport, run_load
from devstack.fake_batisimply import FakeBatiSimply
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
