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
from batisync.loader.staging_state import PREV_WINDOW, Before
from batisync.loader.tables import QUARANTINE_TABLE, SLOTS, SLOTS_TABLE
from batisync.loader.window import Window


def deletion_guarded(fetched: int, live_before: int, ratio: float) -> str | None:
    """Why deletions must not be marked in a chunk, or None when it is safe to."""
    if fetched == 0:
        return "the answer holds no slot"
    if fetched < ratio * live_before:
        return f"the answer holds {fetched} records, fewer than {ratio:g} x {live_before} loaded"
    return None


# the chunks a statement covers: (index, lo, hi), compared with every row in one scan
# of the raw table (one statement per chunk scanned it once per chunk: 2 x 6 scans of
# the window and its history at 100,000 slots); chunks never overlap (chunk_window)
_CHUNKS = """
chunks(i, lo, hi) as (
    select * from unnest(cast(:i as int[]), cast(:lo as timestamptz[]),
                         cast(:hi as timestamptz[])))"""

_NOT_SEEN_AS_QUARANTINED = f"""
    select 1 from {QUARANTINE_TABLE} q
    where q.resource = :resource and q.record_id = t.id and q.last_seen_at = :fetched_at"""

# the snapshot's slots of the chunks' span among those missed: the snapshot has a day of
# slack around the window too (a record may start there), which the API is not asked for
_IN_SPAN = f"""
select p.id from unnest(cast(:ids as text[])) as m(id) join {PREV_WINDOW} p using (id)
where p.start_at between :first and :last
"""

_MARK_DELETED = f"""
with {_CHUNKS},
absent(id) as (select unnest(cast(:absent as text[]))),
marked as (
    update {SLOTS_TABLE} t set _deleted_at = :now, _generation = :generation
    from chunks c, absent a
    where t.id = a.id
      and t._deleted_at is null
      and t._fetched_at <> :fetched_at
      and t.start_date::timestamptz between c.lo and c.hi
      and not exists ({_NOT_SEEN_AS_QUARANTINED})
    returning c.i)
select i, count(*) from marked group by i
"""


_CONFIRM_DELETED = f"""
with {_CHUNKS},
confirmed as (
    update {SLOTS_TABLE} t set _gone_confirmed_at = :now, _generation = :generation
    from chunks c
    where t._deleted_at is not null
      and t._deleted_at < :fetched_at
      and t._gone_confirmed_at is null
      and t._fetched_at <> :fetched_at
      -- the span of all chunks first: a history row is parsed once, not per chunk
      and t.start_date::timestamptz between :first and :last
      and t.start_date::timestamptz between c.lo and c.hi
      and not exists ({_NOT_SEEN_AS_QUARANTINED})
    returning c.i)
select i, count(*) from confirmed group by i
"""


def _per_chunk(
    conn: sa.Connection,
    statement: str,
    chunks: list[Window],
    fetched_at: datetime,
    now: datetime,
    generation: int,
    **extra: object,
) -> list[int]:
    """Rows `statement` changed in each of `chunks`, in one statement for them all."""
    if not chunks:
        return []
    params = {
        **_span(chunks),
        "i": list(range(len(chunks))),
        "lo": [chunk.start for chunk in chunks],
        "hi": [chunk.end for chunk in chunks],
        "now": now,
        "fetched_at": fetched_at,
        "generation": generation,  # a mark is a change of the row (row_generations.py)
        "resource": SLOTS,
        **extra,
    }
    counts = dict(conn.execute(sa.text(statement), params).all())
    return [counts.get(i, 0) for i in range(len(chunks))]


def _span(chunks: list[Window]) -> dict[str, datetime]:
    return {"first": min(c.start for c in chunks), "last": max(c.end for c in chunks)}


def _confirm_deleted(
    conn: sa.Connection, chunks: list[Window], fetched_at: datetime, now: datetime, generation: int
) -> list[int]:
    """Slots marked deleted by an earlier run and missed again by this complete fetch."""
    return _per_chunk(conn, _CONFIRM_DELETED, chunks, fetched_at, now, generation)


def _mark_deleted(
    conn: sa.Connection,
    chunks: list[Window],
    missed: set[str],
    fetched_at: datetime,
    now: datetime,
    generation: int,
) -> list[int]:
    """Slots of `chunks` loaded before, alive, and absent from this run's answers (where
    a quarantined record with their id counts as present: it exists upstream). `missed`:
    the live raw slots of the run's snapshot that no valid record had (the classifier's:
    nothing else writes the raw slots during a load), the only rows a mark can take; the
    statement keeps those of `chunks` (the snapshot has the slack around each too)."""
    if not chunks:
        return []
    absent: list[str] = []
    if missed:  # those of the chunks' span (the snapshot's start is parsed already)
        params = {**_span(chunks), "ids": sorted(missed)}
        absent = list(conn.execute(sa.text(_IN_SPAN), params).scalars())
    if not absent:  # every live slot of the chunks was fetched again
        return [0] * len(chunks)
    return _per_chunk(conn, _MARK_DELETED, chunks, fetched_at, now, generation, absent=absent)


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
        # the marks join this run's seen ids with the snapshot's (as many), then the raw
        # slots: the planner, which cannot estimate a parsed start's range, took a nested
        # loop over both at 20,000 slots (10 s); a hash join is right at any size
        conn.execute(sa.text("set local enable_nestloop = off"))
        marked: list[ChunkReport] = []
        for chunk_tally, live in zip(tally.chunks, before.live_slots, strict=True):
            chunk = ChunkReport(chunk_tally.window, chunk_tally.fetched, live)
            report.chunks.append(chunk)
            if why := deletion_guarded(chunk.fetched, live, guard_ratio):
                chunk.guarded = True
                report.warn(f"no deletion marked in {chunk.window}: {why}")
            else:
                marked.append(chunk)
        windows = [chunk.window for chunk in marked]
        counts = _mark_deleted(conn, windows, tally.missed_ids, fetched_at, now, generation)
        for chunk, n in zip(marked, counts, strict=True):
            chunk.deleted = n
        if not any(chunk.guarded for chunk in report.chunks):
            # a complete picture: every chunk answered in full
            windows = [chunk.window for chunk in report.chunks]
            confirmed = _confirm_deleted(conn, windows, fetched_at, now, generation)
            for chunk, n in zip(report.chunks, confirmed, strict=True):
                chunk.confirmed = n


__all__ = ["deletion_guarded", "mark_deletions"]
