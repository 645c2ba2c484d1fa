"""`batigest_heures_map` (staging PostgreSQL): what the project wrote in SuiviMO, per slot.

The DDL is fixed in docs/ARCHITECTURE.md (the seed's four columns plus the pushed
values, their hash, `pushed_at` and the run id); dbt's on-run-start hook creates the
same table. The map is the authority on which SuiviMO row belongs to which slot.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any

import sqlalchemy as sa

from batisync.core.connections import qualified
from batisync.export.model import Key, KeyNorm, MapRow, PushRow, identity_key, values_from_db

MAP_TABLE = "batigest_heures_map"


@cache
def map_table(schema: str = "public") -> sa.Table:
    return sa.Table(
        MAP_TABLE,
        sa.MetaData(),
        sa.Column("id_heure", sa.String, primary_key=True),
        sa.Column("code_chantier", sa.String, nullable=False),
        sa.Column("code_salarie", sa.String, nullable=False),
        sa.Column("date_sqlserver", sa.DateTime, nullable=False),
        sa.Column("nb_h0", sa.Numeric),
        sa.Column("nb_h3", sa.Integer),
        sa.Column("nb_h4", sa.Integer),
        sa.Column("values_hash", sa.String),
        sa.Column("pushed_at", sa.DateTime(timezone=True)),
        sa.Column("run_id", sa.String),
        schema=schema,
    )


def ensure_map(engine: sa.Engine, schema: str = "public") -> sa.Table:
    """Create the map if missing; add the columns a seed-era map (four columns) lacks."""
    table = map_table(schema)
    with engine.begin() as conn:
        conn.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
        table.create(conn, checkfirst=True)
        present = {c["name"] for c in sa.inspect(conn).get_columns(MAP_TABLE, schema=schema)}
        for column in table.columns:
            if column.name not in present:
                # ALTER TABLE … ADD COLUMN IF NOT EXISTS: staging is PostgreSQL only.
                kind = column.type.compile(dialect=conn.dialect)
                conn.exec_driver_sql(
                    f"alter table {qualified(conn, schema, MAP_TABLE)} "
                    f"add column if not exists {column.name} {kind}"
                )
    return table


def map_exists(engine: sa.Engine, schema: str = "public") -> bool:
    return sa.inspect(engine).has_table(MAP_TABLE, schema=schema)


def read_map(conn: sa.Connection, schema: str = "public") -> dict[str, MapRow]:
    """Every map row, by id_heure."""
    t = map_table(schema)
    rows = conn.execute(
        sa.select(
            t.c.id_heure,
            t.c.code_chantier,
            t.c.code_salarie,
            t.c.date_sqlserver,
            t.c.nb_h0,
            t.c.nb_h3,
            t.c.nb_h4,
            t.c.values_hash,
        )
    )
    return _by_id(rows)


def _by_id(rows: Iterable[Sequence[Any]]) -> dict[str, MapRow]:
    """Rows of `_COLUMNS` (id_heure, key, hours, values_hash) as map rows, by id_heure."""
    return {
        id_heure: MapRow(id_heure, (cc, cs, date), values_from_db(h0, h3, h4), values_hash)
        for id_heure, cc, cs, date, h0, h3, h4, values_hash in rows
    }


_COLUMNS = "id_heure, code_chantier, code_salarie, date_sqlserver, nb_h0, nb_h3, nb_h4, values_hash"


def read_map_of(
    conn: sa.Connection,
    schema: str,
    ids: Iterable[str],
    keys: Iterable[Key] = (),
    norm: KeyNorm = identity_key,
) -> dict[str, MapRow]:
    """The map rows of `ids`, and those holding one of `keys` as `norm` (the target's
    collation) compares them: what an export of these rows consults, not the history.

    A holder's CodeSalarie may differ from the key's (case, trailing spaces under SQL
    Server): the map's distinct codes are normalised here, in Python, as `norm` does, so
    that SQL narrows to those codes and dates and Python keeps the exact matches.
    `norm` keeps the date (every KeyNorm only folds the codes).
    """
    table = qualified(conn, schema, MAP_TABLE)
    wanted = {norm(k) for k in keys}
    listed = sorted(set(ids))
    sql = f"select {_COLUMNS} from {table} where id_heure = any(cast(:ids as text[]))"
    found = _select(conn, sql, listed, ids=listed)
    if wanted:
        names = {k[1] for k in wanted}
        everyone = conn.exec_driver_sql(f"select distinct code_salarie from {table}").scalars()
        codes = sorted(c for c in everyone if norm(("", c, datetime.min))[1] in names)
        # as text, which PostgreSQL casts (as write_map: psycopg's datetime arrays are slow)
        dates = sorted({k[2].isoformat() for k in wanted})
        sql = (
            f"select {_COLUMNS} from {table} where code_salarie = any(cast(:codes as text[])) "
            "and date_sqlserver = any(cast(:dates as timestamp[]))"
        )
        holders = _select(conn, sql, codes, codes=codes, dates=dates)
        found |= {i: m for i, m in holders.items() if norm(m.key) in wanted}
    return found


def count_map(conn: sa.Connection, schema: str = "public") -> int:
    return int(
        conn.exec_driver_sql(f"select count(*) from {qualified(conn, schema, MAP_TABLE)}").scalar()
    )


def _select(
    conn: sa.Connection, sql: str, listed: list[str], **params: object
) -> dict[str, MapRow]:
    """`sql` (`_COLUMNS`) ordered by id_heure; nothing to ask when `listed` is empty."""
    if not listed:
        return {}
    return _by_id(conn.execute(sa.text(sql + " order by id_heure"), params))


def map_row_for(row: PushRow) -> MapRow:
    return MapRow(row.id_heure, row.key, row.values, row.values_hash)


def is_recorded(current: MapRow | None, wanted: MapRow) -> bool:
    """The map already says exactly this (nothing to write)."""
    return current is not None and current == wanted


# One statement for a whole batch: the rows travel as one array per column (no per-row
# parameter set to prepare), unnest() turns them back into rows, one upsert writes them.
_UPSERT = """
insert into {table} (id_heure, code_chantier, code_salarie, date_sqlserver, nb_h0, nb_h3,
                     nb_h4, values_hash, pushed_at, run_id)
select u.*, cast(:pushed_at as timestamptz), cast(:run_id as text)
from unnest(cast(:id_heure as text[]), cast(:code_chantier as text[]),
            cast(:code_salarie as text[]), cast(:date_sqlserver as timestamp[]),
            cast(:nb_h0 as numeric[]), cast(:nb_h3 as integer[]), cast(:nb_h4 as integer[]),
            cast(:values_hash as text[])) as u
on conflict (id_heure) do update set
    code_chantier = excluded.code_chantier, code_salarie = excluded.code_salarie,
    date_sqlserver = excluded.date_sqlserver, nb_h0 = excluded.nb_h0, nb_h3 = excluded.nb_h3,
    nb_h4 = excluded.nb_h4, values_hash = excluded.values_hash,
    pushed_at = excluded.pushed_at, run_id = excluded.run_id
"""


def write_map(
    conn: sa.Connection,
    schema: str,
    *,
    upserts: Sequence[MapRow],
    drop_ids: Iterable[str],
    run_id: str,
    now: datetime | None = None,
) -> None:
    """Drop the map rows of `drop_ids`, then upsert `upserts` (two statements at most)."""
    table = qualified(conn, schema, MAP_TABLE)
    drop = sorted(set(drop_ids))
    if drop:  # one array parameter, not one per id
        delete = f"delete from {table} where id_heure = any(cast(:ids as text[]))"
        conn.execute(sa.text(delete), {"ids": drop})
    if not upserts:
        return
    columns = {
        "id_heure": [m.id_heure for m in upserts],
        "code_chantier": [m.key[0] for m in upserts],
        "code_salarie": [m.key[1] for m in upserts],
        # as text, which PostgreSQL casts: psycopg inspects each datetime / Decimal of
        # an array in Python, five times the cost of the upsert itself
        "date_sqlserver": [m.key[2].isoformat() for m in upserts],
        "nb_h0": [_text(m.values.nb_h0) for m in upserts],
        "nb_h3": [m.values.nb_h3 for m in upserts],
        "nb_h4": [m.values.nb_h4 for m in upserts],
        "values_hash": [m.values_hash for m in upserts],
    }
    statement = sa.text(_UPSERT.format(table=table))
    conn.execute(statement, {**columns, "pushed_at": now or datetime.now(UTC), "run_id": run_id})


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
