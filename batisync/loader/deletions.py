"""Deletion marking: a slot loaded before, alive, in a chunk this run fetched, and absent
from every answer of the run, is marked `_deleted_at` — unless the answer looks truncated
(the guard).

A deletion is trusted for retraction (HEURES_ON_GONE=delete) only from a consistent
picture: a slot edited during a fetch can move into a chunk already fetched and be
missed by both. So a marked slot gets `_gone_confirmed_at` only when a later run's fetch
is complete (no chunk guarded) and still misses it; a slot seen again, in any chunk, is
alive again (the loader writes both columns null) and is never retracted.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from batisync.loader.classify import SlotTally
from batisync.loader.report import ChunkReport, LoadReport
from batisync.loader.staging_state import Before
from batisync.loader.tables import QUARANTINE_TABLE, SLOTS, SLOTS_TABLE
from batisync.loader.window import Window


def deletion_guarded(fetched: int, live_before: int, ratio: float) -> str | None:
    """Why deletions must not be marked in a chunk, or None when it is safe to."""
    if fetched == 0:
        return "the answer holds no slot"
    if fetched < ratio * live_before:
        return f"the answer holds {fetched} records, fewer than {ratio:g} x {live_before} loaded"
    return None


_MARK_DELETED = f"""
update {SLOTS_TABLE} t set _deleted_at = :now, _generation = :generation
where t._deleted_at is null
  and t._fetched_at <> :fetched_at
  and t.start_date::timestamptz between :lo and :hi
  and not exists (
    select 1 from {QUARANTINE_TABLE} q
    where q.resource = :resource and q.record_id = t.id and q.last_seen_at = :fetched_at)
"""


_CONFIRM_DELETED = f"""
update {SLOTS_TABLE} t set _gone_confirmed_at = :now, _generation = :generation
where t._deleted_at is not null
  and t._deleted_at < :fetched_at
  and t._gone_confirmed_at is null
  and t._fetched_at <> :fetched_at
  and t.start_date::timestamptz between :lo and :hi
  and not exists (
    select 1 from {QUARANTINE_TABLE} q
    where q.resource = :resource and q.record_id = t.id and q.last_seen_at = :fetched_at)
"""


def _confirm_deleted(
    conn: sa.Connection, chunk: Window, fetched_at: datetime, now: datetime, generation: int
) -> int:
    """Slots marked deleted by an earlier run and missed again by this complete fetch."""
    params = {"now": now, "fetched_at": fetched_at, "lo": chunk.start, "hi": chunk.end}
    params["generation"] = generation  # a mark is a change of the row (row_generations.py)
    return conn.execute(sa.text(_CONFIRM_DELETED), {**params, "resource": SLOTS}).rowcount


def _mark_deleted(
    conn: sa.Connection, chunk: Window, fetched_at: datetime, now: datetime, generation: int
) -> int:
    """Slots of `chunk` loaded before, alive, and absent from this run's answers (where a
    quarantined record with their id counts as present: it exists upstream)."""
    params = {"now": now, "fetched_at": fetched_at, "lo": chunk.start, "hi": chunk.end}
    params["generation"] = generation  # a mark is a change of the row (row_generations.py)
    return conn.execute(sa.text(_MARK_DELETED), {**params, "resource": SLOTS}).rowcount


def mark_deletions(
    conn: sa.Connection,
    tally: SlotTally,
    before: Before,
    guard_ratio: float,
    fetched_at: datetime,
    report: LoadReport,
    now: datetime,
    generation: int,
) -> None:
    with conn.begin():
        for chunk_tally, live in zip(tally.chunks, before.live_slots, strict=True):
            chunk = ChunkReport(chunk_tally.window, chunk_tally.fetched, live)
            report.chunks.append(chunk)
            if why := deletion_guarded(chunk.fetched, live, guard_ratio):
                chunk.guarded = True
                report.warn(f"no deletion marked in {chunk.window}: {why}")
            else:
                chunk.deleted = _mark_deleted(conn, chunk.window, fetched_at, now, generation)
        if not any(chunk.guarded for chunk in report.chunks):
            # a complete picture: every chunk answered in full
            for chunk in report.chunks:
                chunk.confirmed = _confirm_deleted(conn, chunk.window, fetched_at, now, generation)


__all__ = ["deletion_guarded", "mark_deletions"]
