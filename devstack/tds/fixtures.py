"""pytest fixtures of the TDS endpoint; import them into a conftest.

`tds_endpoint` needs a `batigest_url` fixture (the Batigest stand-in database);
`tds_driver` parametrises a test over both drivers.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.tds.server import TdsEndpoint
from devstack.tds.urls import DRIVERS


@pytest.fixture
def tds_endpoint(batigest_url: str) -> Iterator[TdsEndpoint]:
    """A started endpoint on a fresh Batigest stand-in."""
    with TdsEndpoint(batigest_url) as endpoint:
        yield endpoint


@pytest.fixture(params=DRIVERS)
def tds_driver(request: pytest.FixtureRequest) -> str:
    """Each driver in turn: "mssqlpython", "pyodbc-freetds"."""
    return request.param
