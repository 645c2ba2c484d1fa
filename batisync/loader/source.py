"""dlt source `batisimply` (time slots, projects, quarantine) and the Batigest `salarie` resource.

Time slots stream chunk by chunk from the API into one classifier that splits them into
clean rows (`time_slots`) and bad records (`quarantine`): both tables are fed by dlt
transformers forked from the same, unselected, `time_slot_batches` resource, so each
record is read once and lands in exactly one table.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import dlt
import sqlalchemy as sa
from dlt.common.schema.typing import TTableSchemaColumns
from dlt.extract.resource import DltResource

from batisync.loader import project_lookups, records
from batisync.loader.client import BatiSimplyClient
from batisync.loader.window import Window

log = logging.getLogger(__name__)

BATCH_SIZE = 2000  # records per batch handed to dlt
SLOTS = "time_slots"
PROJECTS = "projects"
QUARANTINE = "quarantine"
SALARIE = "salarie"

# Column hints: the names and types docs/ARCHITECTURE.md fixes (dbt builds on them).
# start_date/end_date stay TEXT: the original UTC strings, never parsed by dlt.
SLOT_COLUMNS: TTableSchemaColumns = {
    "id": {"data_type": "text", "nullable": False, "primary_key": True},
    "start_date": {"data_type": "text"},
    "end_date": {"data_type": "text"},
    "user__id": {"data_type": "text"},
    # the employee's name, for the people fixing rejected slots (heures_rejected)
    "user__first_name": {"data_type": "text", "nullable": True},
    "user__last_name": {"data_type": "text", "nullable": True},
    "project__id": {"data_type": "bigint"},
    # the real API may embed the project's code in the slot (issue 11)
    "project__project_code": {"data_type": "text", "nullable": True},
    "management_status": {"data_type": "text"},
    "total_time_minutes": {"data_type": "double"},
    "has_packed_lunch": {"data_type": "bool"},
    "has_home_to_work_journey": {"data_type": "bool"},
    "_content_hash": {"data_type": "text"},
    "_extra": {"data_type": "text", "nullable": True},
    "_fetched_at": {"data_type": "timestamp"},
    "_deleted_at": {"data_type": "timestamp", "nullable": True},
    # set when a slot marked deleted is still absent from a later complete fetch: only
    # then may HEURES_ON_GONE=delete retract its row (see deletions.py)
    "_gone_confirmed_at": {"data_type": "timestamp", "nullable": True},
}
QUARANTINE_COLUMNS: TTableSchemaColumns = {
    "quarantine_key": {"data_type": "text", "nullable": False, "primary_key": True},
    "resource": {"data_type": "text"},
    "record_id": {"data_type": "text", "nullable": True},
    "reason": {"data_type": "text"},
    "detail": {"data_type": "text", "nullable": True},
    "payload": {"data_type": "text"},
    "management_status": {"data_type": "text", "nullable": True},
    "first_seen_at": {"data_type": "timestamp"},
    "last_seen_at": {"data_type": "timestamp"},
}
PROJECT_COLUMNS: TTableSchemaColumns = {
    "id": {"data_type": "bigint"},
    "project_code": {"data_type": "text", "nullable": True},
    "project_name": {"data_type": "text", "nullable": True},
    "_content_hash": {"data_type": "text"},
    "_extra": {"data_type": "text", "nullable": True},
}
SALARIE_COLUMNS: TTableSchemaColumns = {
    "code": {"data_type": "text"},
    "nom": {"data_type": "text", "nullable": True},
    "codebs": {"data_type": "text", "nullable": True},
    "_content_hash": {"data_type": "text"},
}


@dataclass
class ChunkTally:
    window: Window
    fetched: int = 0


@dataclass
class Tally:
    """What one resource saw: records fetched, loaded, repeated and quarantined."""

    fetched: int = 0
    loaded: int = 0
    repeated: int = 0  # the very same record again (same id and content): loaded once
    quarantined: Counter[str] = field(default_factory=Counter)  # by reason
    # valid records identical to their raw row: not handed to dlt (see Classifier)
    unchanged_ids: list[str] = field(default_factory=list)


@dataclass
class SlotTally(Tally):
    chunks: list[ChunkTally] = field(default_factory=list)
    # project ids of loaded slots that carry no projectCode of their own
    projects_without_code: set[int] = field(default_factory=set)


@dataclass
class Batch:
    """One page of records, split: `rows` for the resource's table, `bad` for quarantine."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    bad: list[dict[str, Any]] = field(default_factory=list)


class Classifier:
    """Splits records into rows and quarantine rows, remembering ids across one run.

    The first valid record of an id is loaded; a later one with other content is a
    `duplicate_id`, and one with identical content (an API that returns a record in two
    answers) is counted as `repeated`, not loaded twice. Rows get `_content_hash` (md5 of
    the record as received, under this version of the checks: `records.stored_hash`)
    plus the `stamp` columns. A record whose id and stored hash are in `previous` (the
    raw rows before this run) goes to `tally.unchanged_ids` instead of the batch: dlt's
    normaliser and merge would only rewrite the same row.
    """

    def __init__(
        self,
        resource: str,
        check: Callable[[Any], dict[str, Any] | records.Rejection],
        seen_at: datetime,
        *,
        stamp: Mapping[str, Any] | None = None,
        first_seen: Mapping[str, datetime] | None = None,
        tally: Tally | None = None,
        previous: Mapping[str, str] | None = None,
        identity: Callable[[Mapping[str, Any]], str] | None = None,
    ) -> None:
        self.resource = resource
        self.check = check
        self.seen_at = seen_at
        self.stamp = dict(stamp or {})
        self.first_seen = first_seen or {}
        self.tally = tally if tally is not None else Tally()
        self.previous = previous or {}
        # what makes two valid records "the same id": by default the id
        self.identity = identity or (lambda row: str(row["id"]))
        self._loaded: dict[str, str] = {}  # id -> content md5
        self._quarantined: dict[str, str] = {}  # quarantine_key -> content md5

    def classify(self, page: Sequence[Any], window: Window | None = None) -> Batch:
        """Split `page`; with `window`, a record starting outside it is quarantined."""
        batch = Batch()
        self.tally.fetched += len(page)
        for record in page:
            md5 = records.content_hash(record)
            checked = self.check(record)
            if isinstance(checked, records.Rejection):
                self._quarantine(batch.bad, record, checked, md5)
                continue
            record_id = self.identity(checked)
            known = self._loaded.get(record_id)
            if known != md5 and window is not None:
                outside = records.check_in_window(checked, window.start, window.end)
                if outside is not None:
                    self._quarantine(batch.bad, record, outside, md5)
                    continue
            if known is None:
                self._loaded[record_id] = md5
                self.tally.loaded += 1
                stored = records.stored_hash(md5)
                if self.previous.get(record_id) == stored:
                    self.tally.unchanged_ids.append(record_id)
                    # its project is still named by the window: looked up once per run too
                    if isinstance(self.tally, SlotTally):
                        self.tally.projects_without_code |= project_lookups.without_code([checked])
                    continue
                checked["_content_hash"] = stored
                checked.update(self.stamp)
                batch.rows.append(checked)
            elif known == md5:
                self.tally.repeated += 1
            else:
                why = records.Rejection(records.DUPLICATE_ID, f"id {checked['id']} seen before")
                self._quarantine(batch.bad, record, why, md5)
        return batch

    def _quarantine(
        self, out: list[dict[str, Any]], record: Any, why: records.Rejection, md5: str
    ) -> None:
        key = records.quarantine_key(self.resource, records.record_id(record), md5)
        if key in self._quarantined and self._quarantined[key] != md5:
            key = f"{key}:md5:{md5}"  # another bad record under the same id: keep both
        if key in self._quarantined:
            self.tally.repeated += 1
            return
        self._quarantined[key] = md5
        self.tally.quarantined[why.reason] += 1
        out.append(
            records.quarantine_row(
                self.resource,
                record,
                why.reason,
                self.seen_at,
                detail=why.detail,
                key=key,
                first_seen_at=self.first_seen.get(key),
            )
        )


def slot_classifier(
    fetched_at: datetime,
    first_seen: Mapping[str, datetime] | None,
    tally: SlotTally,
    previous: Mapping[str, str] | None = None,
) -> Classifier:
    # _deleted_at is written null: a slot that reappears upstream is alive again
    # (`previous` holds live slots only, so a deleted one is always merged again)
    stamp = {"_fetched_at": fetched_at, "_deleted_at": None, "_gone_confirmed_at": None}
    return Classifier(
        SLOTS,
        records.check_slot,
        fetched_at,
        stamp=stamp,
        first_seen=first_seen,
        tally=tally,
        previous=previous,
    )


def split_projects(
    answer: Sequence[Any], seen_at: datetime, first_seen: Mapping[str, datetime] | None = None
) -> tuple[Batch, Tally]:
    """The projects answer as rows for `projects` and rows for `quarantine`."""
    tally = Tally()
    # a project listed again with another code is loaded too: dbt then sees the two
    # codes and rejects its slots (`project_two_codes`) rather than picking one
    classifier = Classifier(
        PROJECTS,
        records.check_project,
        seen_at,
        first_seen=first_seen,
        tally=tally,
        identity=lambda row: f"{row['id']}|{row.get('projectCode')}",
    )
    return classifier.classify(answer), tally


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
    quarantine_first_seen: Mapping[str, datetime] | None = None,
    projects: Sequence[Mapping[str, Any]] | None = None,
    quarantined: Sequence[Mapping[str, Any]] = (),
    progress: Callable[[int, str], None] | None = None,
    previous_slots: Mapping[str, str] | None = None,
) -> list[DltResource]:
    """Time slots of `chunks` and their quarantine; `projects` rows when given.

    Projects are fetched and checked beforehand by the caller (a short list, see
    `split_projects`), so that it can decide not to refresh them from a suspicious
    answer; `quarantined` (their bad records) go to quarantine with the slots'.
    `tally` receives the time slot counts, and the ids of the slots found as
    `previous_slots` (id -> content md5) holds them, which dlt does not get.
    """
    classifier = slot_classifier(fetched_at, quarantine_first_seen, tally, previous_slots)

    @dlt.resource(name="time_slot_batches", selected=False)
    def time_slot_batches() -> Iterator[Batch]:
        # first: the projects' bad records, and a batch for tables to exist on no data
        yield Batch(bad=list(quarantined))
        for chunk in chunks:
            chunk_tally = ChunkTally(chunk)
            tally.chunks.append(chunk_tally)
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

    time_slots = dlt.transformer(
        _once_materialized(lambda batch: batch.rows),
        data_from=time_slot_batches,
        name=SLOTS,
        write_disposition="merge",
        primary_key="id",
        columns=SLOT_COLUMNS,
    )
    quarantine = dlt.transformer(
        _once_materialized(lambda batch: batch.bad),
        data_from=time_slot_batches,
        name=QUARANTINE,
        write_disposition="merge",
        primary_key="quarantine_key",
        columns=QUARANTINE_COLUMNS,
    )
    resources = [time_slots, quarantine]
    if projects is not None:
        resources.append(projects_resource(projects))
    return resources


def quarantine_resource(rows: Sequence[Mapping[str, Any]]) -> DltResource:
    """More rows for `raw_batisimply.quarantine` (merged on `quarantine_key`), such as
    the refused project lookups."""

    @dlt.resource(
        name=QUARANTINE,
        write_disposition="merge",
        primary_key="quarantine_key",
        columns=QUARANTINE_COLUMNS,
    )
    def quarantine_rows() -> Iterator[Any]:
        if rows:
            yield list(rows)

    return quarantine_rows()


def with_hash(record: Mapping[str, Any]) -> dict[str, Any]:
    return {**record, "_content_hash": records.content_hash(record)}


def projects_resource(projects: Sequence[Mapping[str, Any]]) -> DltResource:
    """`raw_batisimply.projects` (checked rows with `_content_hash`), replaced each run."""

    @dlt.resource(name=PROJECTS, write_disposition="replace", columns=PROJECT_COLUMNS)
    def projects_rows() -> Iterator[Any]:
        yield dlt.mark.materialize_table_schema()
        if projects:
            yield list(projects)

    return projects_rows()


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


def salarie_resource(rows: Sequence[Mapping[str, Any]]) -> DltResource:
    """`raw_batigest.salarie`, replaced each run."""

    @dlt.resource(name=SALARIE, write_disposition="replace", columns=SALARIE_COLUMNS)
    def salarie() -> Iterator[Any]:
        yield dlt.mark.materialize_table_schema()
        if rows:
            yield [with_hash(r) for r in rows]

    return salarie()


__all__ = [
    "PROJECTS",
    "QUARANTINE",
    "SALARIE",
    "SLOTS",
    "Batch",
    "ChunkTally",
    "Classifier",
    "SlotTally",
    "Tally",
    "batisimply",
    "projects_resource",
    "quarantine_resource",
    "read_salarie",
    "salarie_resource",
    "slot_classifier",
    "split_projects",
]
