"""What the loader reads from Batigest, read only (SQL Server, or the stand-in), for
`raw_batigest` (the dlt resources that write it are in `source.py`):

- `{schema}.Salarie(Code, Nom, codebs)` → `raw_batigest.salarie`, replaced each run;
- `{schema}.ChantierDef.Code`, for the `unknown_chantier` check: read when the table
  is readable; otherwise (absent, no SELECT permission, or empty) the check is off and
  says why: `raw_batigest.chantier_check` holds one row (`is_on`, `detail`) that dbt
  reads, and `raw_batigest.chantiers` the codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from batisync.core.errors import first_line
from batisync.loader import records

# -- Salarie -------------------------------------------------------------------------


def read_salarie(batigest_url: str, schema: str) -> list[dict[str, Any]]:
    """`{schema}.Salarie(Code, Nom, codebs)`, read only (SQL Server or the stand-in)."""
    table = sa.table(
        "Salarie", sa.column("Code"), sa.column("Nom"), sa.column("codebs"), schema=schema
    )
    engine = sa.create_engine(batigest_url)
    try:
        with engine.connect() as conn:
            result = conn.execute(sa.select(table.c.Code, table.c.Nom, table.c.codebs))
            return [{"code": code, "nom": nom, "codebs": codebs} for code, nom, codebs in result]
    finally:
        engine.dispose()


def with_hash(record: Mapping[str, Any]) -> dict[str, Any]:
    return {**record, "_content_hash": records.content_hash(record)}


# -- ChantierDef ---------------------------------------------------------------------


@dataclass(frozen=True)
class ChantierCheck:
    codes: tuple[str, ...] | None  # None: the check is off
    detail: str

    @property
    def is_on(self) -> bool:
        return self.codes is not None


def read_chantiers(engine: sa.Engine, schema: str) -> ChantierCheck:
    """The codes of `{schema}.ChantierDef`, or why the check is off."""
    table = sa.table("ChantierDef", sa.column("Code"), schema=schema)
    try:
        with engine.connect() as conn:
            codes = [row[0] for row in conn.execute(sa.select(table.c.Code))]
    except sa.exc.SQLAlchemyError as error:
        reason = first_line(error, with_type=False)
        return ChantierCheck(None, f"{schema}.ChantierDef is not readable ({reason}): check off")
    kept = tuple(sorted({str(c).strip() for c in codes if c is not None and str(c).strip()}))
    if not kept:
        return ChantierCheck(None, f"{schema}.ChantierDef holds no code: check off")
    return ChantierCheck(kept, f"{schema}.ChantierDef: {len(kept)} chantier codes: check on")


__all__ = [
    "ChantierCheck",
    "read_chantiers",
    "read_salarie",
    "with_hash",
]
