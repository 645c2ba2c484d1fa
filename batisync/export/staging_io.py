"""Reading the dbt marts `to_push` and `heures_gone` (their columns: `marts.py`), and
counting what they hold (the sync's no-change check)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from batisync.core.errors import BatisyncError
from batisync.export.marts import HEURES_GONE_COLUMNS, OPTIONAL_GONE_COLUMNS, TO_PUSH_COLUMNS

STREAM_ROWS = 5000  # rows a server-side cursor fetches at a time


class ExportInputError(BatisyncError):
    """The marts the exporter reads are missing (dbt has not run)."""


@dataclass(frozen=True)
class Marts:
    """What an export applies: rows shaped like `to_push` and `heures_gone`."""

    to_push: Sequence[Mapping[str, Any]] = ()
    gone: Sequence[Mapping[str, Any]] = ()


def read_marts(conn: sa.Connection, schema: str = "public") -> Marts:
    return Marts(read_to_push(conn, schema), read_gone(conn, schema))


def read_to_push(conn: sa.Connection, schema: str = "public") -> list[dict[str, Any]]:
    return _read(conn, schema, "to_push", TO_PUSH_COLUMNS)


def stream_to_push(conn: sa.Connection, schema: str = "public") -> Iterator[Mapping[str, Any]]:
    """`to_push`'s rows as they arrive (a server-side cursor): a first run's 100k rows
    are parsed one by one, never held as dicts (issue 19)."""
    table = _table(conn, schema, "to_push", TO_PUSH_COLUMNS)
    stream = conn.execution_options(stream_results=True, yield_per=STREAM_ROWS)
    yield from stream.execute(sa.select(table).order_by(table.c.id_heure)).mappings()


def read_gone(conn: sa.Connection, schema: str = "public") -> list[dict[str, Any]]:
    columns = HEURES_GONE_COLUMNS
    if sa.inspect(conn).has_table("heures_gone", schema=schema):
        present = {c["name"] for c in sa.inspect(conn).get_columns("heures_gone", schema=schema)}
        columns += tuple(c for c in OPTIONAL_GONE_COLUMNS if c in present)
    return _read(conn, schema, "heures_gone", columns)


def _read(
    conn: sa.Connection, schema: str, name: str, columns: tuple[str, ...]
) -> list[dict[str, Any]]:
    table = _table(conn, schema, name, columns)
    return [dict(r) for r in conn.execute(sa.select(table).order_by(table.c.id_heure)).mappings()]


def _table(conn: sa.Connection, schema: str, name: str, columns: tuple[str, ...]) -> sa.TableClause:
    if not sa.inspect(conn).has_table(name, schema=schema):
        raise ExportInputError(f"{schema}.{name} not found in staging: run dbt build first")
    return sa.table(name, *(sa.column(c) for c in columns), schema=schema)


def count_to_push(conn: sa.Connection, schema: str = "public") -> int | None:
    """Rows the next export writes, or None when the mart is not built yet."""
    return _count(conn, schema, "to_push")


def count_retractable(conn: sa.Connection, schema: str = "public") -> int | None:
    """Rows of heures_gone HEURES_ON_GONE=delete retracts now, or None when not built yet."""
    return _count(conn, schema, "heures_gone", sa.column("is_retractable").is_(True))


def _count(
    conn: sa.Connection, schema: str, name: str, where: sa.ColumnElement[bool] | None = None
) -> int | None:
    if not sa.inspect(conn).has_table(name, schema=schema):
        return None
    query = sa.select(sa.func.count()).select_from(sa.table(name, schema=schema))
    return int(conn.execute(query if where is None else query.where(where)).scalar_one())


__all__ = [
    "ExportInputError",
    "Marts",
    "count_retractable",
    "count_to_push",
    "read_gone",
    "read_marts",
    "read_to_push",
    "stream_to_push",
]
