"""The drift stage's staging side, kept between runs (issue 19): a no-change sync reads a
cheap token instead of the per-employee digests of `drift_digest.staging_digests`.

The token says what those digests read, without reading it: for every table the synced
relation reads (found through its views' rewrite rules, recursively) and the map, its
oid, row count and a sum of a hash of each row's xmin. Any insert, update or delete
gives a row a new xmin (or changes the count), a dbt rebuild a new oid, and VACUUM or
FREEZE keep the raw xmin; hashed, so that transactions committing out of xid order
cannot cancel out in the sum. Views add their rule's text (`create or replace view` keeps
the oid). The memory table is rewritten by every real run (new xmins each time) and the
digest reads only its ids: those count, hashed. Then the digest version and the key norm.

The token is read *before* the digests it is recorded with: a change committed between
the two shows in the next run's token, never in the recorded one. A synced relation
whose views read the clock or call a volatile or user-defined function has no token (its
rows may change with nothing written): its side is computed every run.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from batisync.core.connections import qualified, relation_exists
from batisync.export.drift_digest import VERSION, StagingSide
from batisync.export.map_table import MAP_TABLE
from batisync.export.model import KeyNorm

log = logging.getLogger(__name__)

STAGING_TABLE = "batigest_heures_drift_staging"
TOKEN_VERSION = "1"  # change it when the token's definition changes
_DDL = """
create table if not exists {table} (
  token varchar not null,
  employee varchar primary key,
  digest varchar not null,
  synced bigint not null,
  unsafe bigint not null,
  first_day timestamp not null,
  last_day timestamp not null
)
"""
# built-in functions whose result moves with the clock or the session (PostgreSQL 16+
# calls a function for current_date and the like; 15 and older: SQLValueFunction)
_CLOCK = (
    "now",
    "transaction_timestamp",
    "statement_timestamp",
    "current_date",
    "current_time",
    "current_timestamp",
    "localtime",
    "localtimestamp",
    "age",
    "current_setting",
)
# FirstNormalObjectId: a function made after initdb may read tables pg_depend does not list
_FIRST_USER_OID = 16384
# closure: the synced relation and every relation its rules read, recursively; unsure:
# a relation the token cannot see (foreign...) or a call whose result may move with
# nothing written; states: per table its count and xmins, per view its rules
_TOKEN_SQL = """
with recursive closure(oid) as (
  select cast(to_regclass(:synced) as oid)
  union
  select d.refobjid from closure c
  join pg_rewrite r on r.ev_class = c.oid
  join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid
    and d.refclassid = 'pg_class'::regclass
),
relations as (
  select k.oid, k.relkind from pg_class k
  where k.oid in (select oid from closure union select cast(to_regclass(:map) as oid))
),
unsure as (
  select exists (select 1 from relations where relkind not in ('r', 'p', 'm', 'v'))
    or exists (
      select 1 from relations v join pg_rewrite r on r.ev_class = v.oid
      cross join lateral regexp_matches(r.ev_action::text, :calls, 'g') f
      join pg_proc p on p.oid = cast(f[1] as oid)
      where p.provolatile = 'v' or p.oid >= cast(:first_user_oid as oid)
        or p.proname = any(cast(:clock as text[]))
    )
    or exists (
      select 1 from relations v join pg_rewrite r on r.ev_class = v.oid
      where strpos(r.ev_action::text, '{SQLVALUEFUNCTION ') > 0
    ) as found
),
states as (
  select v.oid, v.relkind,
    case when v.relkind = 'v' then (
      select md5(string_agg(r.ev_action::text, ',' order by r.oid))
      from pg_rewrite r where r.ev_class = v.oid
    ) else (
      select (xpath('/row/n/text()', x))[1]::text || ':' || (xpath('/row/h/text()', x))[1]::text
      from query_to_xml(format(
        'select count(*) as n, coalesce(sum(hashint8extended(xmin::text::bigint, 0)), 0) '
        'as h from %s', cast(v.oid as regclass)), false, true, '') x
    ) end as state
  from relations v where not (select found from unsure)
)
select cast(oid as bigint), cast(relkind as text), state from states
union all
select null, 'unsure', cast(found as text) from unsure
union all
select null, 'memory', """
# the function calls of a view's rule (its stored node tree)
_CALLS = r":(?:funcid|opfuncid|aggfnoid|winfnoid) (\d+)"
_MEMORY = "(select count(*) || ':' || coalesce(sum(hashtextextended(id_heure, 0)), 0) from {})"


@dataclass(frozen=True)
class RecordedSide:
    """Staging's side as `staging_digests` gave it, after `token` was read."""

    token: str
    sides: dict[str, StagingSide]  # per employee
    window: tuple[datetime, datetime]  # heures_synced's first day, the day after its last


def staging_token(
    conn: sa.Connection, schema: str, synced: str, memory: str | None, norm: KeyNorm
) -> str | None:
    """What `staging_digests(conn, schema, synced, memory, norm)` reads, as a short hash
    (one statement); None when the synced relation may change with nothing written."""
    # no memory table reads as an empty one, to the digest too
    sql = _TOKEN_SQL + (_MEMORY.format(memory) if memory else "'0:0'")
    rows = conn.execute(
        sa.text(sql),
        {
            "synced": qualified(conn, schema, synced),
            "map": qualified(conn, schema, MAP_TABLE),
            "calls": _CALLS,
            "first_user_oid": _FIRST_USER_OID,
            "clock": list(_CLOCK),
        },
    ).all()
    if any(kind == "unsure" and state == "true" for _, kind, state in rows):
        log.debug("drift: %s reads the clock or a function: no staging token", synced)
        return None
    parts = [f"{oid}:{kind}:{state}" for oid, kind, state in sorted(rows, key=_order)]
    norm_name = f"{norm.__module__}.{norm.__qualname__}"
    text = "|".join([TOKEN_VERSION, VERSION, norm_name, *parts])
    return hashlib.sha256(text.encode()).hexdigest()


def _order(row: tuple[int | None, str, str | None]) -> tuple[str, int]:
    return (row[1], row[0] or 0)


def read_sides(conn: sa.Connection, schema: str, token: str) -> RecordedSide | None:
    """The staging side recorded with `token`, or None."""
    table = qualified(conn, schema, STAGING_TABLE)
    if not relation_exists(conn, table):
        return None
    rows = conn.execute(
        sa.text(
            f"select employee, digest, synced, unsafe, first_day, last_day from {table} "
            "where token = :token"
        ),
        {"token": token},
    ).all()
    if not rows:
        return None
    sides = {r[0]: StagingSide(r[1], int(r[2]), int(r[3])) for r in rows}
    return RecordedSide(token, sides, (rows[0][4], rows[0][5]))


def write_sides(conn: sa.Connection, schema: str, side: RecordedSide) -> None:
    """Replace the recorded staging side by `side` (a few hundred rows: one per employee)."""
    table = qualified(conn, schema, STAGING_TABLE)
    conn.exec_driver_sql(_DDL.format(table=table))
    conn.exec_driver_sql(f"delete from {table}")
    sides, names = side.sides, sorted(side.sides)
    conn.execute(
        sa.text(
            f"insert into {table} (token, employee, digest, synced, unsafe, first_day, "
            "last_day) select cast(:token as text), u.e, u.d, u.n, u.x, "
            "cast(:first as timestamp), cast(:last as timestamp) from unnest("
            "cast(:e as text[]), cast(:d as text[]), cast(:n as bigint[]), "
            "cast(:x as bigint[])) as u(e, d, n, x)"
        ),
        {
            "token": side.token,
            "e": names,
            "d": [sides[n].digest for n in names],
            "n": [sides[n].synced for n in names],
            "x": [sides[n].unsafe for n in names],
            "first": side.window[0],
            "last": side.window[1],
        },
    )


__all__ = ["STAGING_TABLE", "RecordedSide", "read_sides", "staging_token", "write_sides"]
