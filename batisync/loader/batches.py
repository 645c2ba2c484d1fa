"""The time slots of a run as batches, fetched chunk by chunk and classified (no dlt
here): the loader reads them first, and starts dlt only at the first batch that has
something to write (`pipeline.py`); dlt's source (`source.py`) is fed the same batches.

The first batch holds the projects' bad records; then the slots of each chunk's pages,
split by one classifier (`classify.slot_classifier`) that compares them with the raw
rows of their chunk (`previous_slots(chunk)`: id -> stored hash); once every chunk is
read, the projects the slots name without a code the list gives are asked by id, and
their answers go out as the last batch (`project_lookups`, `quarantine` for the refused).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime

from batisync.loader import project_lookups
from batisync.loader.api.client import BatiSimplyClient
from batisync.loader.classify import Batch, ChunkTally, SlotTally, Tally, slot_classifier
from batisync.loader.window import Window

log = logging.getLogger(__name__)

BATCH_SIZE = 2000  # records per batch handed to dlt


def slot_batches(
    client: BatiSimplyClient,
    chunks: Sequence[Window],
    fetched_at: datetime,
    tally: SlotTally,
    *,
    projects: Batch,
    project_tally: Tally,
    quarantine_first_seen: Mapping[str, datetime] | None = None,
    progress: Callable[[int, str], None] | None = None,
    previous_slots: Callable[[Window], Mapping[str, str]] | None = None,
) -> Iterator[Batch]:
    """Every batch of the run, as the API answers (lazily: one chunk's page at a time)."""
    classifier = slot_classifier(fetched_at, quarantine_first_seen, tally)
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


__all__ = ["BATCH_SIZE", "slot_batches"]
