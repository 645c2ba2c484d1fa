"""The drift stage's cache (issue 19): per employee, a digest of what `drift.decide` reads
on each side, so that a run where neither side changed skips that employee's comparison.

- Batigest: the SuiviMO rows of the window (heures_synced's first day to the day after
  its last), per `CodeSalarie`: their count and a sum of a hash of each row (key and
  values, the columns `heal.read_around` reads), aggregated by the server in one
  statement. An employee's rows that `decide` reads are among them, so an unchanged
  digest means they are unchanged (a change elsewhere in the window only costs a check).
- Staging: its heures_synced rows (id, key, values, values hash) and its map keys
  (history included: `moved_by_hand` reads them). Not the memory: `decide` reads it only
  for a slot it finds drifted, and a skipped employee has none.

Both are folded per employee as `drift.employee_code` sees codes (the key norm), so that
codes the collation takes for one employee share one digest on both sides. A row of
`batigest_heures_drift_digest` says: with these settings (`fingerprint`), this employee's
full check found nothing when the two sides had these digests. A
digest is only compared with its own earlier value, never across engines.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import sqlalchemy as sa

from batisync.core.connections import qualified, relation_exists
from batisync.export.drift import employee_code
from batisync.export.literals import literal
from batisync.export.map_table import MAP_TABLE
from batisync.export.model import KeyNorm
from batisync.export.statements import BatchStatements

DIGEST_TABLE = "batigest_heures_drift_digest"
VERSION = "3"  # change it when a digest's definition changes: every row then misses
_DDL = """
create table if not exists {table} (
  employee varchar primary key,
  batigest_digest varchar not null,
  staging_digest varchar not null,
  fingerprint varchar not null,
  run_id varchar,
  checked_at timestamptz not null
)
"""
# a 64-bit slice of the md5 of a PostgreSQL row's text (NULL and '' differ in it)
_PG_HASH = "cast(cast('x' || left(md5(cast({} as text)), 16) as bit(64)) as bigint)"
# staging's own, cheaper (PostgreSQL 11+): compared only with this server's earlier value
_STAGING_HASH = "hashtextextended(cast({} as text), 0)"


@dataclass(frozen=True)
class StagingSide:
    digest: str  # heures_synced rows and map keys of the employee
    synced: int  # its heures_synced rows: what a full check counts as checked
    unsafe: int  # memory rows of its slots whose map hash is not heures_synced's: never skipped


@dataclass(frozen=True)
class Cached:
    batigest_digest: str
    staging_digest: str


def staging_digests(
    conn: sa.Connection, schema: str, synced: str, memory: str | None, norm: KeyNorm
) -> tuple[dict[str, StagingSide], tuple[datetime, datetime] | None]:
    """Per employee, the staging side's digest; and the window (first day, day after the
    last) of heures_synced, None when it is empty. One statement."""
    columns = "t.id_heure, t.code_chantier, t.code_salarie, t.date_sqlserver, t.nb_h0, "
    columns += "t.nb_h3, t.nb_h4, t.values_hash"
    unsafe, join = "0", ""
    if memory is not None:
        # a clean check's outcome does not depend on the memory, but the memory it writes
        # back does: for a skipped slot, from the map's hash (`read_map_of`), which must
        # then be heures_synced's (not so for a seed-era row without a hash)
        unsafe = (
            "case when d.id_heure is not null and mp.values_hash is distinct from "
            "t.values_hash then 1 else 0 end"
        )
        join = (
            f"left join {memory} d on d.id_heure = t.id_heure "
            f"left join {qualified(conn, schema, MAP_TABLE)} mp on mp.id_heure = d.id_heure"
        )
    row = f"row({columns})"
    sql = (
        "select code, sum(n_synced), sum(h_synced), sum(n_map), sum(h_map), sum(n_unsafe), "
        "min(first_day), max(last_day) from ("
        f"select t.code_salarie as code, 1 as n_synced, {_STAGING_HASH.format(row)} as h_synced, "
        f"0 as n_map, cast(0 as bigint) as h_map, {unsafe} as n_unsafe, "
        "t.date_sqlserver as first_day, t.date_sqlserver as last_day "
        f"from {qualified(conn, schema, synced)} t {join} "
        "union all "
        "select t.code_salarie, 0, 0, 1, "
        f"{_STAGING_HASH.format('row(t.code_chantier, t.code_salarie, t.date_sqlserver)')}, 0, "
        f"null, null from {qualified(conn, schema, MAP_TABLE)} t"
        ") u group by code"
    )
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    first: datetime | None = None
    last: datetime | None = None
    for code, *numbers, low, high in conn.exec_driver_sql(sql):
        total = sums[employee_code(norm, code)]
        for i, n in enumerate(numbers):
            total[i] += int(n)
        if low is not None:
            first = low if first is None else min(first, low)
            last = high if last is None else max(last, high)
    sides = {
        name: StagingSide(f"{n_synced}.{h_synced}.{n_map}.{h_map}", n_synced, n_unsafe)
        for name, (n_synced, h_synced, n_map, h_map, n_unsafe) in sums.items()
    }
    if first is None or last is None:
        return sides, None
    return sides, (_day(first), _day(last) + timedelta(days=1))


def _day(moment: datetime) -> datetime:
    return datetime.combine(moment.date(), time())


def suivimo_digest_sql(statements: BatchStatements, first: datetime, last: datetime) -> str:
    """One aggregate over SuiviMO's rows in [first, last): per CodeSalarie, the rows'
    count and two sums of a hash of each (on SQL Server: two signed 32-bit slices of an
    MD5, summed as bigint, which cannot overflow below 2^31 rows)."""
    dialect = statements.dialect_name
    quote = statements.dialect.identifier_preparer.quote
    table = statements.dialect.identifier_preparer.format_table(statements.s)
    chantier, salarie, date = quote("CodeChantier"), quote("CodeSalarie"), quote("Date")
    values = ", ".join(f"{quote(c)}" for c in ("NbH0", "NbH3", "NbH4"))
    where = (
        f"where {date} >= {literal(first, dialect)} and {date} < {literal(last, dialect)} "
        f"group by {salarie}"
    )
    if dialect == "mssql":
        # grouped by the exact code (BIN2), folded by the key norm in Python: a bucket
        # then holds exactly the codes `decide` takes for its employee. CONCAT reads NULL
        # as '': the marker tells a NULL CodeChantier from ''; values as decimal(38, 10),
        # so that a float column is not cut to 6 digits (NULL above 1e27: no overflow)
        exact = f"{salarie} collate Latin1_General_BIN2"
        parts = [
            f"case when {chantier} is null then 'N' else 'V' end",
            chantier,
            salarie,
            f"convert(varchar(27), {date}, 121)",
            *(
                f"case when abs({quote(c)}) < 1e27 then cast({quote(c)} as decimal(38, 10)) end"
                for c in ("NbH0", "NbH3", "NbH4")
            ),
        ]
        md5 = "hashbytes('MD5', concat(" + ", '|', ".join(parts) + "))"
        slices = [f"sum(cast(cast(substring({md5}, {s}, 4) as int) as bigint))" for s in (1, 5)]
        where = (
            f"where {date} >= {literal(first, dialect)} and {date} < {literal(last, dialect)} "
            f"group by {exact}"
        )
        return f"select {exact}, count_big(*), {', '.join(slices)} from {table} {where}"
    row = f"row({chantier}, {salarie}, {date}, {values})"
    return (
        f"select {salarie}, count(*), sum(cast({_PG_HASH.format(row)} as numeric)), 0 "
        f"from {table} {where}"
    )


def batigest_digests(
    conn: sa.Connection,
    statements: BatchStatements,
    window: tuple[datetime, datetime],
    norm: KeyNorm,
) -> dict[str, str]:
    """Per employee (as `norm` compares codes), the digest of its SuiviMO rows in the
    window; an employee without rows there has none (`EMPTY`)."""
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for code, *numbers in conn.exec_driver_sql(suivimo_digest_sql(statements, *window)):
        total = sums[employee_code(norm, code)]
        for i, n in enumerate(numbers):
            total[i] += int(n or 0)
    return {name: ".".join(map(str, total)) for name, total in sums.items()}


EMPTY = "0.0.0"


def fingerprint(
    dialect_name: str, case_sensitive: bool, policy: str, window: tuple[datetime, datetime]
) -> str:
    """The settings a recorded digest holds for: another key norm, policy or window
    (the window slides by a day) makes every row miss once."""
    first, last = window
    return f"{VERSION}|{dialect_name}|cs={case_sensitive}|{policy}|{first:%Y-%m-%d}|{last:%Y-%m-%d}"


def read_cache(conn: sa.Connection, schema: str, fingerprint: str) -> dict[str, Cached]:
    """The employees recorded clean under these settings."""
    table = qualified(conn, schema, DIGEST_TABLE)
    if not relation_exists(conn, table):
        return {}
    rows = conn.execute(
        sa.text(
            f"select employee, batigest_digest, staging_digest from {table} "
            "where fingerprint = :fingerprint"
        ),
        {"fingerprint": fingerprint},
    )
    return {r[0]: Cached(r[1], r[2]) for r in rows}


def write_cache(
    conn: sa.Connection,
    schema: str,
    kept: list[str],
    clean: Mapping[str, Cached],
    fingerprint: str,
    run_id: str,
) -> None:
    """Keep the rows of `kept` (skipped this run: still true), replace the rest by
    `clean` (the employees this run checked in full and found clean)."""
    table = qualified(conn, schema, DIGEST_TABLE)
    conn.exec_driver_sql(_DDL.format(table=table))
    conn.execute(
        sa.text(f"delete from {table} where not (employee = any(cast(:kept as text[])))"),
        {"kept": kept},
    )
    if not clean:
        return
    names = sorted(clean)
    conn.execute(
        sa.text(
            f"insert into {table} (employee, batigest_digest, staging_digest, fingerprint, "
            "run_id, checked_at) select u.e, u.b, u.s, cast(:fingerprint as text), "
            "cast(:run_id as text), now() from unnest(cast(:e as text[]), "
            "cast(:b as text[]), cast(:s as text[])) as u(e, b, s)"
        ),
        {
            "e": names,
            "b": [clean[n].batigest_digest for n in names],
            "s": [clean[n].staging_digest for n in names],
            "fingerprint": fingerprint,
            "run_id": run_id,
        },
    )


__all__ = [
    "DIGEST_TABLE",
    "EMPTY",
    "VERSION",
    "Cached",
    "StagingSide",
    "batigest_digests",
    "fingerprint",
    "read_cache",
    "staging_digests",
    "suivimo_digest_sql",
    "write_cache",
]
