"""Fixtures of the sync tests: psycopg keywords of the staging database, a webhook
receiver, the old connector's deployment on the fake API (`api`, tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.fake_batisimply import FakeBatiSimply
from tests.orchestrate.helpers import conninfo_of
from tests.orchestrate.old_site import OldSite, build_old_site


@pytest.fixture
def conninfo(staging_url: str) -> dict[str, Any]:
    """psycopg's keywords for the staging database."""
    return conninfo_of(staging_url)


@pytest.fixture
def old_site(
    api: FakeBatiSimply, staging_url: str, batigest_url: str, tmp_path: Path
) -> Iterator[OldSite]:
    """The old connector's deployment (`build_old_site`) on the fake API's dataset."""
    site = build_old_site(api, staging_url, batigest_url, tmp_path)
    try:
        yield site
    finally:
        site.batigest.dispose()
