"""dlt source `batisimply`: time slots, quarantine, projects and project lookups, in one
extract (so one load package and one schema version per run).

Time slots stream chunk by chunk from the API into one classifier that splits them into
clean rows (`time_slots`) and bad records (`quarantine`): both tables are fed by dlt
transformers forked from the same, unselected, `time_slot_batches` resource, so each
record is read once and lands in exactly one table. Once every chunk is read, the
projects the slots name without a code are asked by id (`project_lookups`), and their
answers go out as the last batch (`project_lookups`, and `quarantine` for the refused).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import dlt
from dlt.extract.resource import DltResource

from batisync.loader import project_lookups
from batisync.loader.api.client import BatiSimplyClient
from batisync.loader.classify import Batch, ChunkTally, SlotTally, Tally, slot_classifier
from batisync.loader.tables import (
    LOOKUP_COLUMNS,
    PROJECT_COLUMNS,
    PROJECT_LOOKUPS,
    PROJECTS,
    QUARANTINE,
    QUARANTINE_COLUMNS,
    SLOT_COLUMNS,
    SLOTS,
)
from batisync.loader.window import Window

log = logging.getLogger(__name__)

BATCH_SIZE = 2000  # records per batch handed to dlt


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
    client: BatiSimplyClient,
    chunks: Sequence[Window],
    fetched_at: datetime,
    tally: SlotTally,
    *,
    projects: Batch,
    project_tally: Tally,
    refresh_projects: bool = True,
    quarantine_first_seen: Mapping[str, datetime] | None = None,
    progress: Callable[[int, str], None] | None = None,
    previous_slots: Callable[[Window], Mapping[str, str]] | None = None,
) -> list[DltResource]:
    """Time slots of `chunks`, their quarantine and the project lookups; the projects'
    rows too when `refresh_projects`.

    `projects` (the projects answer, fetched and checked beforehand by the caller: a
    short list, see `classify.split_projects`) is split into `rows`, loaded only when
    `refresh_projects` (the caller may decide not to refresh them from a suspicious
    answer) and always asked for no code again, and `bad`, quarantined with the slots'.
    `tally` receives the time slot counts and the ids of the slots raw already holds
    as they come (`previous_slots(chunk)`: id -> stored hash, asked chunk by chunk so
    that only a chunk's are in memory), which dlt does not get; `project_tally` the
    lookups the checks refused.
    """
    classifier = slot_classifier(fetched_at, quarantine_first_seen, tally)

    @dlt.resource(name="time_slot_batches", selected=False)
    def time_slot_batches() -> Iterator[Batch]:
        # first: the projects' bad records, and a batch for tables to exist on no data
        yield Batch(bad=list(projects.bad))
        for chunk in chunks:
            chunk_tally = ChunkTally(chunk)
            tally.chunks.append(chunk_tally)
            classifier.compare_with(previous_slots(chunk) if previous_slots else {})
            for page in client.time_slots(chunk):
                chunk_tally.fetched += len(page)
                # small batches: dlt writes each one out before the next is classified
                for start in range(0, len(page), BATCH_SIZE):
                    batch = classifier.classify(page[start : start + BATCH_SIZE], chunk)
                    tally.projects_without_code |= project_lookups.without_code(batch.rows)
                    yield batch
                    if progress:
                        progress(tally.fetched, f"time slots {chunk}")
                page.clear()  # the records live on only as rows, until dlt writes them
            log.info("time slots %s: %d fetched", chunk, chunk_tally.fetched)
        classifier.forget()  # every slot is in: no id can come again
        yield _looked_up(client, tally, projects, fetched_at, quarantine_first_seen, project_tally)

    def fed(name: str, pick: Callable[[Batch], list], **hints: Any) -> DltResource:
        return dlt.transformer(
            _once_materialized(pick),
            data_from=time_slot_batches,
            name=name,
            write_disposition="merge",
            **hints,
        )

    resources = [
        fed(SLOTS, lambda batch: batch.rows, primary_key="id", columns=SLOT_COLUMNS),
        fed(
            QUARANTINE,
            lambda batch: batch.bad,
            primary_key="quarantine_key",
            columns=QUARANTINE_COLUMNS,
        ),
        fed(PROJECT_LOOKUPS, lambda batch: batch.lookups, primary_key="id", columns=LOOKUP_COLUMNS),
    ]
    if refresh_projects:
        resources.append(projects_resource(projects.rows))
    return resources


def _looked_up(
    client: BatiSimplyClient,
    tally: SlotTally,
    projects: Batch,
    fetched_at: datetime,
    first_seen: Mapping[str, datetime] | None,
    project_tally: Tally,
) -> Batch:
    """The last batch: projects the slots name without a code the list gives, asked by id."""
    unknown = tally.projects_without_code - project_lookups.coded_ids(projects.rows)
    lookups = project_lookups.look_up(client, unknown, fetched_at, first_seen)
    for bad in lookups.bad:  # counted with the projects they are
        project_tally.quarantined[bad["reason"]] += 1
    return Batch(bad=lookups.bad, lookups=lookups.rows)


def projects_resource(projects: Sequence[Mapping[str, Any]]) -> DltResource:
    """`raw_batisimply.projects` (checked rows with `_content_hash`), replaced each run."""

    @dlt.resource(name=PROJECTS, write_disposition="replace", columns=PROJECT_COLUMNS)
    def projects_rows() -> Iterator[Any]:
        yield dlt.mark.materialize_table_schema()
        if projects:
            yield list(projects)

    return projects_rows()


__all__ = ["BATCH_SIZE", "batisimply", "projects_resource"]
