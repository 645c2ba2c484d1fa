"""What the loader reads from Batigest, read only (SQL Server, or the stand-in), and the
dlt resources that put it in `raw_batigest`:

- `{schema}.Salarie(Code, Nom, codebs)` → `raw_batigest.salarie`, replaced each run;
- `{schema}.ChantierDef.Code`, for the `unknown_chantier` check: read when the table
  is readable; otherwise (absent, no SELECT permission, or empty) the check is off and
  says why: `raw_batigest.chantier_check` holds one row (`is_on`, `detail`) that dbt
  reads, and `raw_batigest.chantiers` the codes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import dlt
import sqlalchemy as sa
from dlt.extract.resource import DltResource

from batisync.core.errors import first_line
from batisync.loader import records
from batisync.loader.tables import (
    CHANTIER_CHECK,
    CHANTIER_COLUMNS,
    CHANTIERS,
    CHECK_COLUMNS,
    SALARIE,
    SALARIE_COLUMNS,
)

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


def salarie_resource(rows: Sequence[Mapping[str, Any]]) -> DltResource:
    """`raw_batigest.salarie`, replaced each run."""

    @dlt.resource(name=SALARIE, write_disposition="replace", columns=SALARIE_COLUMNS)
    def salarie() -> Iterator[Any]:
        yield dlt.mark.materialize_table_schema()
        if rows:
            yield [with_hash(r) for r in rows]

    return salarie()


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


def chantier_resources(check: ChantierCheck, checked_at: datetime) -> Sequence[DltResource]:
    """`chantier_check` always; `chantiers` replaced only when the check is on."""

    @dlt.resource(name=CHANTIER_CHECK, write_disposition="replace", columns=CHECK_COLUMNS)
    def chantier_check() -> Iterator[Any]:
        yield [{"is_on": check.is_on, "detail": check.detail, "checked_at": checked_at}]

    @dlt.resource(name=CHANTIERS, write_disposition="replace", columns=CHANTIER_COLUMNS)
    def chantiers() -> Iterator[Any]:
        yield dlt.mark.materialize_table_schema()
        yield [{"code": code} for code in check.codes or ()]

    return [chantier_check(), chantiers()] if check.is_on else [chantier_check()]


__all__ = [
    "ChantierCheck",
    "chantier_resources",
    "read_chantiers",
    "read_salarie",
    "salarie_resource",
]
