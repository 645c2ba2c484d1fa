"""Engines for the two databases the exporter talks to."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def make_batigest_engine(url: str | sa.URL, **kwargs: Any) -> sa.Engine:
    """An engine on Batigest. On `mssql+pyodbc` (production) `fast_executemany=True`,
    so loading a batch is one round trip instead of one per row; the PostgreSQL
    stand-in (`postgresql+psycopg`) needs nothing special."""
    parsed = sa.make_url(url)
    if parsed.drivername == "mssql+pyodbc":
        kwargs.setdefault("fast_executemany", True)
    return sa.create_engine(parsed, **kwargs)


def make_staging_engine(url: str | sa.URL, **kwargs: Any) -> sa.Engine:
    return sa.create_engine(url, **kwargs)
