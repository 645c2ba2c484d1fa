"""Batigest's chantiers (`{schema}.ChantierDef.Code`), for the `unknown_chantier` check.

Read when the table is readable; otherwise (absent, no SELECT permission, or empty) the
check is off and says why: `raw_batigest.chantier_check` holds one row (`is_on`,
`detail`) that dbt reads, and `raw_batigest.chantiers` the codes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import dlt
import sqlalchemy as sa
from dlt.common.schema.typing import TTableSchemaColumns
from dlt.extract.resource import DltResource

from batisync.core.errors import first_line

CHANTIERS = "chantiers"
CHANTIER_CHECK = "chantier_check"
CHANTIER_COLUMNS: TTableSchemaColumns = {"code": {"data_type": "text"}}
CHECK_COLUMNS: TTableSchemaColumns = {
    "is_on": {"data_type": "bool"},
    "detail": {"data_type": "text"},
    "checked_at": {"data_type": "timestamp"},
}


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


__all__ = ["CHANTIERS", "CHANTIER_CHECK", "ChantierCheck", "chantier_resources", "read_chantiers"]
