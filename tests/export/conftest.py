"""Fixtures of the exporter tests: engines on a fresh staging and Batigest stand-in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa


@pytest.fixture
def staging_engine(staging_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(staging_url)
    yield engine
    engine.dispose()


@pytest.fixture
def batigest_engine(batigest_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(batigest_url)
    yield engine
    engine.dispose()
