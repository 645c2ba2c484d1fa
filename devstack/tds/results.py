"""A PostgreSQL result set as TDS tokens: COLMETADATA, then one ROW per row."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from psycopg import Column as PgColumn

from devstack.tds.values import Column

# PostgreSQL type oid → how the column is sent
INT_SIZES = {21: 2, 23: 4, 20: 8, 26: 8}
KINDS = {16: "bit", 700: "float", 701: "float", 1700: "decimal", 1082: "date"}
KINDS |= {1083: "time", 1114: "datetime", 1184: "datetimeoffset", 17: "binary"}
MAX_NVARCHAR = 4000


def columns_for(
    description: Sequence[PgColumn], names: list[str] | None, rows: list
) -> list[Column]:
    if names is None or len(names) != len(description):
        names = [d.name for d in description]
    cols = []
    for i, (d, name) in enumerate(zip(description, names, strict=True)):
        name = "" if name == "?column?" else name
        values = [r[i] for r in rows]
        oid = d.type_code
        if oid in INT_SIZES:
            cols.append(Column(name, "int", size=INT_SIZES[oid]))
        elif KINDS.get(oid) == "decimal":
            cols.append(_decimal(name, d, values))
        elif KINDS.get(oid) == "binary":
            longest = max((len(v) for v in values if v is not None), default=0)
            cols.append(Column(name, "binary", size=8000 if longest <= 8000 else 0xFFFF))
        elif oid in KINDS:
            cols.append(Column(name, KINDS[oid]))
        else:
            longest = max((len(str(v)) for v in values if v is not None), default=0)
            declared = d.display_size or 0
            chars = declared if 0 < declared <= MAX_NVARCHAR else MAX_NVARCHAR
            size = 2 * max(chars, 1) if longest <= chars else 0xFFFF
            cols.append(Column(name, "text", size=size))
    return cols


def _decimal(name: str, d: PgColumn, values: list[Any]) -> Column:
    if d.precision and d.scale is not None:
        return Column(name, "decimal", precision=d.precision, scale=d.scale)
    exponents = [v.as_tuple().exponent for v in values if isinstance(v, Decimal) and v.is_finite()]
    scale = min(max([-e for e in exponents if isinstance(e, int)] + [0]), 18)
    return Column(name, "decimal", precision=38, scale=scale)


def colmetadata(cols: list[Column]) -> bytes:
    return b"\x81" + struct.pack("<H", len(cols)) + b"".join(c.metadata() for c in cols)


def row_tokens(cols: list[Column], rows: list) -> bytes:
    out = bytearray()
    for row in rows:
        out += b"\xd1"
        for col, v in zip(cols, row, strict=True):
            out += col.encode(v)
    return bytes(out)
