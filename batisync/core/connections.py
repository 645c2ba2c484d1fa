"""Every connection a stage needs, built in one place.

The staging PostgreSQL comes in four forms (a SQLAlchemy URL, libpq's `PG*` variables for
dbt, psycopg keywords for the lock and history, dlt's credentials): all four are methods
of `PgSettings` (`batisync.core.settings`), so they cannot drift apart. Batigest gets one
engine factory, whose per-driver options live here.
"""

from __future__ import annotations

import os
from typing import Any

import psycopg
import sqlalchemy as sa

CONNECT_TIMEOUT_S = 15


def is_freetds(url: sa.URL) -> bool:
    """Whether an `mssql+pyodbc` URL names FreeTDS (by driver name or library path)."""
    driver = str(url.query.get("driver", "")).lower()
    return "freetds" in driver or "libtdsodbc" in driver


def make_batigest_engine(url: str | sa.URL, **kwargs: Any) -> sa.Engine:
    """An engine on Batigest, with the options its driver supports.

    The exporter's batches need no array binding (their loads are rendered literals,
    see `batisync.export.literals`), so the driver options are about safety: pyodbc's
    `fast_executemany` is turned on for Microsoft's ODBC drivers only, since FreeTDS does
    not implement `SQLDescribeParam` and crashes the process under it. `mssql+mssqlpython`
    (Microsoft's driver from PyPI) and the PostgreSQL stand-in need nothing special."""
    parsed = sa.make_url(url)
    if parsed.drivername == "mssql+pyodbc" and not is_freetds(parsed):
        kwargs.setdefault("fast_executemany", True)
    return sa.create_engine(parsed, **kwargs)


def staging_options() -> str:
    """libpq `options` for our staging sessions: PostgreSQL's JIT off, the site's own
    PGOPTIONS kept. Our statements run once over a window's rows: compiling them costs
    0.1-0.3 s each, more than it saves, and `enable_nestloop = off` (the loader's
    deletion marks) lifts every plan's cost past `jit_above_cost`."""
    return f"{os.environ.get('PGOPTIONS', '')} -c jit=off".strip()


def make_staging_engine(url: str | sa.URL, **kwargs: Any) -> sa.Engine:
    """An engine on the staging PostgreSQL whose sessions run with `staging_options`."""
    connect_args = {"options": staging_options(), **kwargs.pop("connect_args", {})}
    return sa.create_engine(url, connect_args=connect_args, **kwargs)


def qualified(conn: sa.Connection, schema: str, name: str) -> str:
    """`schema.name`, each quoted as the connection's dialect needs."""
    prep = conn.dialect.identifier_preparer
    return f"{prep.quote_schema(schema)}.{prep.quote(name)}"


def relation_exists(conn: sa.Connection | psycopg.Connection[Any], name: str) -> bool:
    """Whether the (schema-qualified, quoted as needed) table or view `name` exists."""
    if isinstance(conn, sa.Connection):
        found = conn.execute(sa.text("select to_regclass(:name)"), {"name": name}).scalar()
    else:
        row = conn.execute("select to_regclass(%s)", (name,)).fetchone()
        found = row[0] if row else None
    return found is not None


__all__ = [
    "CONNECT_TIMEOUT_S",
    "is_freetds",
    "make_batigest_engine",
    "make_staging_engine",
    "qualified",
    "relation_exists",
    "staging_options",
]
