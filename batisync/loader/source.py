"""dlt source `batisimply`: time slots, quarantine, projects and project lookups, in one
extract (so one load package and one schema version per run), and the Batigest
resources (`salarie`, `chantiers`, `chantier_check`) of the other pipeline.

Imported only by a load that has rows to write (pipeline.py): the batches come from
`batches.slot_batches`, already classified; `time_slots` and `quarantine` are dlt
transformers forked from the same, unselected, `time_slot_batches` resource, so each
record lands in exactly one table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import dlt
from dlt.common.schema.typing import TTableSchemaColumns
from dlt.extract.resource import DltResource

from batisync.loader.batigest import ChantierCheck, with_hash
from batisync.loader.classify import Batch
from batisync.loader.tables import (
    CHANTIER_CHECK,
    CHANTIER_COLUMNS,
    CHANTIERS,
    CHECK_COLUMNS,
    LOOKUP_COLUMNS,
    PROJECT_COLUMNS,
    PROJECT_LOOKUPS,
    PROJECTS,
    QUARANTINE,
    QUARANTINE_COLUMNS,
    SALARIE,
    SALARIE_COLUMNS,
    SLOT_COLUMNS,
    SLOTS,
)


def _once_materialized(pick: Callable[[Batch], list]) -> Callable[[Batch], Iterator[Any]]:
    """A transformer body that also creates its table when no row ever comes."""
    state = {"first": True}

    def body(batch: Batch) -> Iterator[Any]:
        if state["first"]:
            state["first"] = False
            yield dlt.mark.materialize_table_schema()
        rows = pick(batch)
        if rows:
            yield rows

    return body


@dlt.source(name="batisimply")
def batisimply(
    batches: Iterable[Batch],
    *,
    projects: Sequence[dict[str, Any]] | None = None,
    slot_hints: TTableSchemaColumns | None = None,
) -> list[DltResource]:
    """The time slots, their quarantine and the project lookups of `batches` (each read
    once, as dlt pulls them); the projects' rows too unless `projects` is None (the
    caller keeps the table as it is, from a suspicious answer). `slot_hints`: the time
    slots' column hints (`tables.slot_hints`)."""

    @dlt.resource(name="time_slot_batches", selected=False)
    def time_slot_batches() -> Iterator[Batch]:
        yield from batches

    def fed(name: str, pick: Callable[[Batch], list], **hints: Any) -> DltResource:
        return dlt.transformer(
            _once_materialized(pick),
            data_from=time_slot_batches,
            name=name,
            write_disposition="merge",
            **hints,
        )

    resources = [
        fed(SLOTS, lambda batch: batch.rows, primary_key="id", columns=slot_hints or SLOT_COLUMNS),
        fed(
            QUARANTINE,
            lambda batch: batch.bad,
            primary_key="quarantine_key",
            columns=QUARANTINE_COLUMNS,
        ),
        fed(PROJECT_LOOKUPS, lambda batch: batch.lookups, primary_key="id", columns=LOOKUP_COLUMNS),
    ]
    if projects is not None:
        resources.append(projects_resource(projects))
    return resources


def projects_resource(projects: Sequence[dict[str, Any]]) -> DltResource:
    """`raw_batisimply.projects` (checked rows with `_content_hash`), replaced each run."""

    @dlt.resource(name=PROJECTS, write_disposition="replace", columns=PROJECT_COLUMNS)
    def projects_rows() -> Iterator[Any]:
        yield dlt.mark.materialize_table_schema()
        if projects:
            yield list(projects)

    return projects_rows()


def salarie_resource(rows: Sequence[dict[str, Any]]) -> DltResource:
    """`raw_batigest.salarie`, replaced each run."""

    @dlt.resource(name=SALARIE, write_disposition="replace", columns=SALARIE_COLUMNS)
    def salarie() -> Iterator[Any]:
        yield dlt.mark.materialize_table_schema()
        if rows:
            yield [with_hash(r) for r in rows]

    return salarie()


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


__all__ = ["batisimply", "chantier_resources", "projects_resource", "salarie_resource"]
