"""Dedup and quarantine (pure): records become rows for their table or quarantine rows,
each id loaded once per run, with what was seen counted in a tally."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from batisync.loader import project_lookups, records
from batisync.loader.tables import PROJECTS, SLOTS
from batisync.loader.window import Window


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
    # ids of the raw rows compared with (`Classifier.compare_with`) that no valid record
    # of the run had: the candidates for deletion marking, known once the run is read
    missed_ids: set[str] = field(default_factory=set)

    @property
    def written(self) -> int:
        """Valid records that differ from their raw row: the rows this load writes."""
        return self.loaded - len(self.unchanged_ids)


@dataclass
class SlotTally(Tally):
    chunks: list[ChunkTally] = field(default_factory=list)
    # project ids of loaded slots that carry no projectCode of their own
    projects_without_code: set[int] = field(default_factory=set)


@dataclass
class Batch:
    """What the source hands dlt at a time: `rows` for the resource's table, `bad` for
    quarantine, `lookups` for `project_lookups` (only the last batch of a run has them)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    bad: list[dict[str, Any]] = field(default_factory=list)
    lookups: list[dict[str, Any]] = field(default_factory=list)


class Classifier:
    """Splits records into rows and quarantine rows, remembering ids across one run.

    The first valid record of an id is loaded; a later one with other content is a
    `duplicate_id`, and one with identical content (an API that returns a record in two
    answers) is counted as `repeated`, not loaded twice. Rows get `_content_hash` (md5 of
    the record as received, under this version of the checks: `records.stored_hash`)
    plus the `stamp` columns. A record whose id (`records.record_id`) and stored hash are
    in `previous` (the raw rows before this run) goes to `tally.unchanged_ids` instead of
    the batch, without being checked again: dlt's normaliser and merge would only
    rewrite the same row.
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

    def forget(self) -> None:
        """Drop what was seen (ids and hashes): the records are all in, and a load's
        memory must not keep the whole window while dlt writes it out. The raw rows
        compared with that no record had are left in `tally.missed_ids`."""
        self._miss(self.previous)
        missed = self.tally.missed_ids
        self.tally.missed_ids = {i for i in missed if i not in self._loaded}
        self._loaded = {}
        self._quarantined = {}
        self.previous = {}

    def compare_with(self, previous: Mapping[str, str]) -> None:
        """The raw rows' hashes the next records are compared with (a chunk's)."""
        self._miss(self.previous)
        self.previous = previous

    def _miss(self, previous: Mapping[str, str]) -> None:
        # not loaded yet: a later chunk may still have it (chunks overlap by the slack,
        # and a slot may move), so `forget` filters them again
        loaded = self._loaded
        self.tally.missed_ids.update(i for i in previous if i not in loaded)

    def classify(self, page: Sequence[Any], window: Window | None = None) -> Batch:
        """Split `page`; with `window`, a record starting outside it is quarantined."""
        batch = Batch()
        self.tally.fetched += len(page)
        for record in page:
            md5 = records.content_hash(record)
            if self.previous and self._unchanged(record, md5, batch, window):
                continue
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
                checked["_content_hash"] = records.stored_hash(md5)
                checked.update(self.stamp)
                batch.rows.append(checked)
            elif known == md5:
                self.tally.repeated += 1
            else:
                why = records.Rejection(records.DUPLICATE_ID, f"id {checked['id']} seen before")
                self._quarantine(batch.bad, record, why, md5)
        return batch

    def _unchanged(self, record: Any, md5: str, batch: Batch, window: Window | None) -> bool:
        """True when `record` is the one its raw row was made from (same id, same stored
        hash), handled at the cost of that compare: the checks passed it before, under
        the same `CHECKS_VERSION`, so only the window (which slides) is checked again."""
        record_id = records.record_id(record)
        if record_id is None or record_id in self._loaded:
            return False
        if self.previous.get(record_id) != records.stored_hash(md5):
            return False
        if window is not None:
            outside = records.check_in_window(record, window.start, window.end)
            if outside is not None:
                self._quarantine(batch.bad, record, outside, md5)
                return True
        self._loaded[record_id] = md5
        self.tally.loaded += 1
        self.tally.unchanged_ids.append(record_id)
        # its project is still named by the window: looked up once per run too
        project_id = project_lookups.record_without_code(record)
        if isinstance(self.tally, SlotTally) and project_id is not None:
            self.tally.projects_without_code.add(project_id)
        return True

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


__all__ = [
    "Batch",
    "ChunkTally",
    "Classifier",
    "SlotTally",
    "Tally",
    "slot_classifier",
    "split_projects",
]
