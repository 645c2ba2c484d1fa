"""Every connection a stage needs, built in one place.

The staging PostgreSQL comes in four forms (a SQLAlchemy URL, libpq's `PG*` variables for
dbt, psycopg keywords for the lock and history, dlt's credentials): all four are methods
of `PgSettings` (`batisync.core.settings`), so they cannot drift apart. Batigest gets one
engine factory, whose per-driver options live here.
"""

from __future__ import annotations

from typing import Any

import psycopg
import sqlalchemy as sa

CONNECT_TIMEOUT_S = 15


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


def relation_exists(conn: sa.Connection | psycopg.Connection[Any], name: str) -> bool:
    """Whether the (schema-qualified, quoted as needed) table or view `name` exists."""
    if isinstance(conn, sa.Connection):
        found = conn.execute(sa.text("select to_regclass(:name)"), {"name": name}).scalar()
    else:
        row = conn.execute("select to_regclass(%s)", (name,)).fetchone()
        found = row[0] if row else None
    return found is not None


__all__ = ["CONNECT_TIMEOUT_S", "make_batigest_engine", "make_staging_engine", "relation_exists"]
