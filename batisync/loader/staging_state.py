"""The raw tables before and after a load: a snapshot of keys and content hashes in
temp tables of the load's own connection, and the counts (new, changed, deleted) against it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from batisync.core.connections import relation_exists
from batisync.loader.bounds import WINDOW_SLACK
from batisync.loader.classify import SlotTally, Tally
from batisync.loader.report import ChunkReport, ResourceCounts
from batisync.loader.row_generations import generation_of, snapshot_generations
from batisync.loader.tables import (
    CHANTIER_CHECK,
    CHANTIERS,
    PROJECT_LOOKUPS,
    PROJECTS_TABLE,
    QUARANTINE_TABLE,
    RAW_BATIGEST,
    RAW_BATISIMPLY,
    SALARIE_TABLE,
    SLOTS,
    SLOTS_TABLE,
)
from batisync.loader.window import Window

# temp table -> (query filling it from a raw table, the raw table); {generation} is the
# table's `_generation` column, or null on a table loaded before it existed
_SNAPSHOTS = {
    "prev_projects": (f"select id::text, _content_hash from {PROJECTS_TABLE}", PROJECTS_TABLE),
    "prev_salarie": (f"select code, _content_hash from {SALARIE_TABLE}", SALARIE_TABLE),
}


# live slots of the window (and the slack `check_in_window` allows), their start parsed
# once: one scan of the raw table, where counting and reading each chunk's took two
PREV_WINDOW = "prev_window"
# made by `create table as` (PostgreSQL's bulk insert: ~40% less than an insert into a
# table created before, at 100,000 rows); no slot table yet: the same columns, no row
_PREV_WINDOW = f"""
create temp table {PREV_WINDOW} as
select id::text as id, _content_hash::text as h, start_date::timestamptz as start_at
from {SLOTS_TABLE}
where _deleted_at is null and start_date::timestamptz between :lo and :hi
"""
_NO_PREV_WINDOW = f"create temp table {PREV_WINDOW} (id text, h text, start_at timestamptz)"
# the hashes the classifier compares, read chunk by chunk so that memory follows a
# chunk, not the window nor the history kept beside it
_LIVE_HASHES_DBAPI = f"select id, h from {PREV_WINDOW} where start_at between %(lo)s and %(hi)s"

# the small tables dbt reads besides the counted resources: (table, the columns that
# matter, never a timestamp of the load). One digest each, before and after a load.
REFERENCE_TABLES = {
    CHANTIERS: (f"{RAW_BATIGEST}.{CHANTIERS}", "code"),
    CHANTIER_CHECK: (f"{RAW_BATIGEST}.{CHANTIER_CHECK}", "is_on, detail"),
    PROJECT_LOOKUPS: (
        f"{RAW_BATISIMPLY}.{PROJECT_LOOKUPS}",
        "id, project_code, project_name, lookup_status",
    ),
}


@dataclass
class Before:
    """What raw held before this load."""

    live_slots: list[int]  # per chunk: slots not marked deleted
    quarantine_first_seen: dict[str, datetime]
    projects: int
    salarie: int
    # REFERENCE_TABLES: name -> digest of the content (None: no such table yet)
    references: dict[str, str | None] = field(default_factory=dict)


def read_before(conn: sa.Connection, chunks: list[Window]) -> Before:
    """Snapshot keys and content hashes in temp tables of this session, and counts."""
    conn.execute(sa.text(f"drop table if exists prev_slots, {', '.join(_SNAPSHOTS)}"))
    conn.execute(
        sa.text("create temp table prev_slots (id text primary key, h text, gone bool, g bigint)")
    )
    conn.execute(sa.text("create temp table prev_projects (key text, h text)"))
    conn.execute(sa.text("create temp table prev_salarie (key text, h text)"))
    for temp, (query, table) in _SNAPSHOTS.items():
        if relation_exists(conn, table):
            generation = generation_of(conn, table)
            conn.execute(sa.text(f"insert into {temp} {query.format(generation=generation)}"))
    snapshot_generations(conn)
    slots = relation_exists(conn, SLOTS_TABLE)
    _snapshot_window(conn, chunks if slots else [])
    before = Before(
        live_slots=[_live_slots(conn, chunk) for chunk in chunks],
        quarantine_first_seen=_quarantine_first_seen(conn),
        projects=conn.execute(sa.text("select count(*) from prev_projects")).scalar_one(),
        salarie=conn.execute(sa.text("select count(*) from prev_salarie")).scalar_one(),
        references=reference_digests(conn),
    )
    conn.commit()  # keep no lock on the raw tables while dlt alters them
    return before


# every slot row (history included), filled only when slot rows are written: the
# counts and `_generation` compare only the rows written with it, and a load that writes
# none (nothing new or changed) spares a copy of the whole table; our SQL writer names
# its rows, dlt's stream is not known in advance
_PREV_SLOTS = (
    f"insert into prev_slots select id, _content_hash, _deleted_at is not null, "
    f"{{generation}} from {SLOTS_TABLE}"
)
_PREV_SLOTS_OF = _PREV_SLOTS + " join unnest(cast(:ids as text[])) as w(id) using (id)"


def snapshot_slots(conn: sa.Connection, ids: list[str] | None = None) -> None:
    """Fill `prev_slots` (created empty by `read_before`) with every raw slot, or only
    those of `ids` (the rows about to be written): after the extract, before the write;
    nothing else writes the slots in between."""
    if relation_exists(conn, SLOTS_TABLE):
        generation = generation_of(conn, SLOTS_TABLE)
        if ids is None:
            conn.execute(sa.text(_PREV_SLOTS.format(generation=generation)))
        else:
            conn.execute(sa.text(_PREV_SLOTS_OF.format(generation=generation)), {"ids": ids})
    conn.commit()  # no lock on the raw table while dlt alters it


def _snapshot_window(conn: sa.Connection, chunks: list[Window]) -> None:
    conn.execute(sa.text(f"drop table if exists {PREV_WINDOW}"))
    if chunks:  # none when raw holds no slot table yet
        bounds = {"lo": chunks[0].start - WINDOW_SLACK, "hi": chunks[-1].end + WINDOW_SLACK}
        conn.execute(sa.text(_PREV_WINDOW), bounds)
    else:
        conn.execute(sa.text(_NO_PREV_WINDOW))
    conn.execute(sa.text(f"create index on {PREV_WINDOW} (start_at)"))


def chunk_hashes(conn: sa.Connection, chunk: Window) -> dict[str, str]:
    """id -> stored hash of the live slots a chunk's answer may hold (the snapshot's
    `prev_window`, a temp table of this session)."""
    bounds = {"lo": chunk.start - WINDOW_SLACK, "hi": chunk.end + WINDOW_SLACK}
    # the driver's own cursor, on the session of the temp table: half of SQLAlchemy's
    # time for its rows (a `Row` each; 0.1 s a run at 100,000 slots)
    if not conn.in_transaction():
        conn.begin()  # so that the commit below ends the cursor's transaction too
    with conn.connection.dbapi_connection.cursor() as cursor:  # type: ignore[union-attr]
        cursor.execute(_LIVE_HASHES_DBAPI, bounds)
        hashes = dict(cursor.fetchall())
    conn.commit()
    return hashes


def reference_digests(conn: sa.Connection) -> dict[str, str | None]:
    """One md5 per table of REFERENCE_TABLES over its rows' columns that matter."""
    digests: dict[str, str | None] = {}
    for name, (table, columns) in REFERENCE_TABLES.items():
        query = (
            "select md5(coalesce(string_agg(r::text, ',' order by r::text), '')) "
            f"from (select {columns} from {table}) r"
        )
        digests[name] = (
            conn.execute(sa.text(query)).scalar() if relation_exists(conn, table) else None
        )
    return digests


def reference_changes(conn: sa.Connection, before: Before) -> list[str]:
    """The tables of REFERENCE_TABLES whose content differs from the snapshot."""
    after = reference_digests(conn)
    return [name for name, digest in after.items() if digest != before.references.get(name)]


def _live_slots(conn: sa.Connection, chunk: Window) -> int:
    query = f"select count(*) from {PREV_WINDOW} where start_at between :lo and :hi"
    return conn.execute(sa.text(query), {"lo": chunk.start, "hi": chunk.end}).scalar_one()


def _quarantine_first_seen(conn: sa.Connection) -> dict[str, datetime]:
    if not relation_exists(conn, QUARANTINE_TABLE):
        return {}
    query = f"select quarantine_key, first_seen_at from {QUARANTINE_TABLE}"
    return {key: seen for key, seen in conn.execute(sa.text(query))}


# The slots fetched unchanged are not written (issue 19): `_fetched_at` is the fetch
# that last wrote a slot's row (one update stamping ~100,000 rows cost 0.8 s of every
# run at 100k, and as much again in the raw table's bloat), and deletion marking takes
# its candidates from the classifier (`SlotTally.missed_ids`), not from a table of the
# ids seen (sending 100,000 ids back cost 0.2 s). Only an unchanged slot the quarantine
# refused since it was written is stamped: int_time_slots_quarantined takes a refusal as
# lifted by a fetch of the slot after it (`fetched_at >= last_seen_at`). The slots with
# such a refusal are few: read, then kept when fetched unchanged.
_REFUSED_SINCE_WRITTEN = f"""
select t.id from {SLOTS_TABLE} t
join {QUARANTINE_TABLE} q on q.resource = :resource and q.record_id = t.id
where q.last_seen_at > t._fetched_at
"""
_STAMP = f"""
update {SLOTS_TABLE} t set _fetched_at = :fetched_at
where t.id = any(cast(:ids as text[]))
  and exists (select 1 from {QUARANTINE_TABLE} q
              where q.resource = :resource and q.record_id = t.id
                and q.last_seen_at > t._fetched_at)
returning t.id
"""


def stamp_refused(conn: sa.Connection, unchanged: list[str], fetched_at: datetime) -> list[str]:
    """Stamp `_fetched_at` on the slots fetched `unchanged` that the quarantine refused
    since their row was written, in one transaction. Returns the ids it stamped."""
    if not unchanged:
        return []
    params = {"fetched_at": fetched_at, "resource": SLOTS}
    with conn.begin():
        if not relation_exists(conn, QUARANTINE_TABLE):
            return []
        refused = conn.execute(sa.text(_REFUSED_SINCE_WRITTEN), params).scalars().all()
        if not refused:
            return []
        ids = sorted(set(refused).intersection(unchanged))
        if not ids:
            return []
        return list(conn.execute(sa.text(_STAMP), {**params, "ids": ids}).scalars())


# the rows this run wrote, less the unchanged slots it stamped (a few ids: counted with
# the unchanged ones)
_SLOT_CHANGES = f"""
select count(*) filter (where p.id is null),
       count(*) filter (where p.id is not null
                              and (p.h is distinct from t._content_hash or p.gone)),
       count(*) filter (where p.id is not null and p.h = t._content_hash and not p.gone)
from {SLOTS_TABLE} t left join prev_slots p on p.id = t.id
where t._fetched_at = :fetched_at and not (t.id = any(cast(:stamped as text[])))
"""

# per key, the set of its rows' hashes: a project listed twice with two codes is two
# rows of one id, unchanged while both are
_REPLACED_CHANGES = """
with cur as (
    select {key} as key, array_agg(_content_hash::text order by _content_hash) as h
    from {table} group by 1),
prev as (select key, array_agg(h order by h) as h from {prev} group by 1)
select count(*) filter (where p.key is null),
       count(*) filter (where p.key is not null and c.key is not null and p.h is distinct from c.h),
       count(*) filter (where p.key is not null and c.key is not null and p.h = c.h),
       count(*) filter (where c.key is null)
from cur c full join prev p on p.key = c.key
"""


def slot_counts(
    conn: sa.Connection,
    tally: SlotTally,
    chunks: list[ChunkReport],
    fetched_at: datetime,
    stamped: list[str],
) -> ResourceCounts:
    """Counts of the slots this run wrote (`_fetched_at`, but the `stamped` ones: seen
    unchanged), against the snapshot (taken only when it wrote some), and of those it
    fetched unchanged."""
    new, changed, unchanged = 0, 0, len(tally.unchanged_ids)
    if tally.written:  # slot rows written: prev_slots was filled before them
        params = {"fetched_at": fetched_at, "stamped": stamped}
        new, changed, same = conn.execute(sa.text(_SLOT_CHANGES), params).one()
        unchanged += same
    return ResourceCounts(
        fetched=tally.fetched,
        new=new,
        changed=changed,
        unchanged=unchanged,
        deleted=sum(c.deleted for c in chunks),
        quarantined=sum(tally.quarantined.values()),
        repeated=tally.repeated,
        reasons=dict(tally.quarantined),
    )


def replaced_counts(
    conn: sa.Connection, tally: Tally, refreshed: bool, table: str, key: str, prev: str
) -> ResourceCounts:
    """Counts of a table replaced by this run (deleted: gone from the answer)."""
    counts = ResourceCounts(
        fetched=tally.fetched,
        quarantined=sum(tally.quarantined.values()),
        repeated=tally.repeated,
        reasons=dict(tally.quarantined),
        refreshed=refreshed,
    )
    if refreshed:
        query = _REPLACED_CHANGES.format(key=key, table=table, prev=prev)
        counts.new, counts.changed, counts.unchanged, counts.deleted = conn.execute(
            sa.text(query)
        ).one()
    return counts


__all__ = [
    "PREV_WINDOW",
    "REFERENCE_TABLES",
    "Before",
    "chunk_hashes",
    "read_before",
    "reference_changes",
    "reference_digests",
    "replaced_counts",
    "slot_counts",
    "snapshot_slots",
    "stamp_refused",
]
