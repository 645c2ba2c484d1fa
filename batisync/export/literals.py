"""SQL literals for the batch loads: a whole batch in one statement, whatever the driver.

Why literals and not parameters: SQL Server caps a statement at 2,100 parameters (150
rows of the batch table) and FreeTDS cannot array-bind (`fast_executemany` needs
`SQLDescribeParam`), so a parameterised load costs one round trip per row or per 150
rows. Rendered literals cost one round trip per batch on every driver, as dlt's own
`insert_values` loader does. Every value is typed and escaped here, and nothing else
is ever rendered: a value of any other type is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

# SQL Server accepts at most 1,000 rows in one table value constructor (Msg 10738).
MAX_VALUES_ROWS = 1000


def literal(value: Any, dialect_name: str) -> str:
    """`value` as a SQL literal of `dialect_name` (mssql or postgresql)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"not a finite number: {value}")
        return format(value, "f")
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            raise ValueError(f"SuiviMO dates are local, naive datetimes: got {value!r}")
        # ISO 8601 with a 'T' is read the same under every SET LANGUAGE / DATEFORMAT
        text = value.isoformat(timespec="milliseconds")
        # `datetime`, the type of SuiviMO.Date: comparing it with a datetime2 would convert
        # the column and lose the index seek
        kind = "datetime" if dialect_name == "mssql" else "timestamp(3)"
        return f"cast('{text}' as {kind})"
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("a text value holds a NUL character")
        escaped = value.replace("'", "''")
        # N'' keeps characters outside the database's code page intact on SQL Server
        return f"N'{escaped}'" if dialect_name == "mssql" else f"'{escaped}'"
    raise TypeError(f"no SQL literal for a {type(value).__name__}")


def values_rows(rows: Iterable[Sequence[Any]], dialect_name: str) -> str:
    """`(v1, v2, …), (…)` for a VALUES list."""
    return ", ".join("(" + ", ".join(literal(v, dialect_name) for v in row) + ")" for row in rows)


def insert_values(
    table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], dialect_name: str
) -> list[str]:
    """INSERT … VALUES statements for `rows`, at most MAX_VALUES_ROWS rows each."""
    names = ", ".join(columns)
    return [
        f"insert into {table} ({names}) values "
        + values_rows(rows[i : i + MAX_VALUES_ROWS], dialect_name)
        for i in range(0, len(rows), MAX_VALUES_ROWS)
    ]


__all__ = ["MAX_VALUES_ROWS", "insert_values", "literal", "values_rows"]
