"""A load's writes through dlt, when it has rows to write (pipeline.py decides): the
BatiSimply pipeline (slot batches, quarantine, lookups, projects) and/or the Batigest
one (salarie, chantiers). Imported only then: importing dlt costs ~0.5 s.

Order, as before the split: both extracts, then `prev_slots` (when dlt got slot rows),
then both loads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from dlt.common.schema.typing import TTableSchemaColumns

from batisync.loader import dlt_steps
from batisync.loader.batigest import ChantierCheck
from batisync.loader.classify import Batch
from batisync.loader.source import batisimply, chantier_resources, salarie_resource
from batisync.loader.staging_state import snapshot_slots
from batisync.loader.tables import (
    PIPELINE_BATIGEST,
    PIPELINE_BATISIMPLY,
    RAW_BATIGEST,
    RAW_BATISIMPLY,
    SLOT_COLUMNS,
)


def write(
    conn: sa.Connection,
    *,
    staging_url: str,
    workdir: Path,
    batches: Iterable[Batch] | None,
    projects: Sequence[dict[str, Any]] | None,
    slot_rows: Any,
    salarie: Sequence[dict[str, Any]] | None,
    chantiers: ChantierCheck | None,
    fetched_at: datetime,
    slot_hints: TTableSchemaColumns = SLOT_COLUMNS,
) -> None:
    """`batches` (None: the BatiSimply pipeline does not run) and `projects` (None:
    kept) through one pipeline; `salarie` (None: kept) and `chantiers` (None: no
    Batigest pipeline) through the other. `slot_rows()`, asked after the extract, says
    whether dlt got slot rows (then `prev_slots` is filled before the load);
    `slot_hints`: the time slots' column hints (`tables.slot_hints`)."""
    api_pipeline = None
    if batches is not None:
        api_pipeline = dlt_steps.make_pipeline(
            PIPELINE_BATISIMPLY, RAW_BATISIMPLY, staging_url, workdir
        )
        # one extract per pipeline and run: a second one before normalize would make
        # a second package whose schema differs from the first (dlt's warning)
        source = batisimply(batches, projects=projects, slot_hints=slot_hints)
        dlt_steps.extract(api_pipeline, source, "BatiSimply extract failed")
        # the slots dlt got (new or changed) are compared with raw as it was
        if slot_rows():
            snapshot_slots(conn)
    erp_pipeline = None
    if chantiers is not None:
        erp_resources = [] if salarie is None else [salarie_resource(salarie)]
        erp_resources += chantier_resources(chantiers, fetched_at)
        erp_pipeline = dlt_steps.make_pipeline(
            PIPELINE_BATIGEST, RAW_BATIGEST, staging_url, workdir
        )
        dlt_steps.extract(erp_pipeline, erp_resources, "Batigest extract failed")
    if api_pipeline is not None:
        dlt_steps.load(api_pipeline, f"loading {RAW_BATISIMPLY} failed")
    if erp_pipeline is not None:
        dlt_steps.load(erp_pipeline, f"loading {RAW_BATIGEST} failed")


__all__ = ["write"]
