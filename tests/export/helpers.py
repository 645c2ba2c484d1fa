"""Helpers for the exporter tests: the dbt marts as the exporter reads them, SuiviMO rows.

`create_marts` writes `to_push` / `heures_gone` with the columns of
docs/ARCHITECTURE.md as literal DDL (not through the exporter's own code), standing in
for the dbt models so that an exporter test needs no dbt build.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

MARTS_DDL = """
create table if not exists {schema}.to_push (
  id_heure text, code_chantier text, code_salarie text, date_sqlserver timestamp,
  nb_h0 numeric, nb_h3 integer, nb_h4 integer, values_hash text, change_type text,
  old_code_chantier text, old_code_salarie text, old_date_sqlserver timestamp
);
create table if not exists {schema}.heures_gone (
  id_heure text, code_chantier text, code_salarie text, date_sqlserver timestamp,
  reason text, gone_since timestamptz
);
"""

SuiviRow = tuple[str, str, datetime, Decimal | None, int | None, int | None]


def hours(minutes: int) -> Decimal:
    """minutes/60 with 10 decimals, as the dbt model gives it (≥ 6 decimals)."""
    return (Decimal(minutes) / Decimal(60)).quantize(Decimal("0.0000000001"))


def values_hash(cc: str, cs: str, date: datetime, nb_h0: Any, h3: int, h4: int) -> str:
    return hashlib.md5(f"{cc}|{cs}|{date:%Y-%m-%d %H:%M:%S}|{nb_h0}|{h3}|{h4}".encode()).hexdigest()


def push(
    id_heure: str,
    cc: str,
    cs: str,
    date: datetime,
    minutes: int = 60,
    h3: int = 0,
    h4: int = 0,
    *,
    old: tuple[str, str, datetime] | None = None,
    change_type: str | None = None,
) -> dict[str, Any]:
    """A to_push row as dbt would produce it."""
    nb_h0 = hours(minutes)
    return {
        "id_heure": id_heure,
        "code_chantier": cc,
        "code_salarie": cs,
        "date_sqlserver": date,
        "nb_h0": nb_h0,
        "nb_h3": h3,
        "nb_h4": h4,
        "values_hash": values_hash(cc, cs, date, nb_h0, h3, h4),
        "change_type": change_type or ("new" if old is None else "key_changed"),
        "old_code_chantier": old[0] if old else None,
        "old_code_salarie": old[1] if old else None,
        "old_date_sqlserver": old[2] if old else None,
    }


def gone(id_heure: str, key: tuple[str, str, datetime], reason: str = "deleted_upstream") -> dict:
    return {
        "id_heure": id_heure,
        "code_chantier": key[0],
        "code_salarie": key[1],
        "date_sqlserver": key[2],
        "reason": reason,
        "gone_since": None,
    }


def create_marts(engine: sa.Engine, schema: str = "public") -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(MARTS_DDL.format(schema=schema))


def write_marts(
    engine: sa.Engine,
    to_push: Iterable[Mapping[str, Any]],
    heures_gone: Iterable[Mapping[str, Any]] = (),
    schema: str = "public",
) -> None:
    """Replace the content of the two marts (create them if needed)."""
    create_marts(engine, schema)
    to_push, heures_gone = list(to_push), list(heures_gone)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"truncate {schema}.to_push, {schema}.heures_gone")
        for table, rows in (("to_push", to_push), ("heures_gone", heures_gone)):
            if rows:
                cols = list(rows[0])
                conn.execute(
                    sa.text(
                        f"insert into {schema}.{table} ({', '.join(cols)}) "
                        f"values ({', '.join(':' + c for c in cols)})"
                    ),
                    rows,
                )


def insert_suivimo(engine: sa.Engine, rows: Iterable[Iterable[Any]], libelle: str | None = None):
    """Rows written by someone else (a person, the ERP): (cc, cs, date, h0, h3, h4)."""
    params = [
        dict(zip(("cc", "cs", "d", "h0", "h3", "h4"), r, strict=True)) | {"lib": libelle}
        for r in rows
    ]
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                'insert into dbo."SuiviMO" ("CodeChantier", "CodeSalarie", "Date", "NbH0", '
                '"NbH3", "NbH4", "Libelle") values (:cc, :cs, :d, :h0, :h3, :h4, :lib)'
            ),
            params,
        )


def suivimo(engine: sa.Engine) -> list[SuiviRow]:
    """Every SuiviMO row, sorted, NbH0 as stored, NbH3/NbH4 as ints."""
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            'select "CodeChantier", "CodeSalarie", "Date", "NbH0", "NbH3", "NbH4" '
            'from dbo."SuiviMO"'
        ).all()
    out = [
        (
            r[0],
            r[1],
            r[2],
            r[3],
            None if r[4] is None else int(r[4]),
            None if r[5] is None else int(r[5]),
        )
        for r in rows
    ]
    return sorted(out, key=lambda r: (r[0], r[1], r[2], str(r[3:])))


def libelles(engine: sa.Engine) -> dict[tuple[str, str, datetime], str | None]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            'select "CodeChantier", "CodeSalarie", "Date", "Libelle" from dbo."SuiviMO"'
        ).all()
    return {(r[0], r[1], r[2]): r[3] for r in rows}


def row(cc: str, cs: str, date: datetime, minutes: int = 60, h3: int = 0, h4: int = 0) -> SuiviRow:
    """The SuiviMO row we expect for a slot (NbH0 rounded to the column's 6 decimals)."""
    return (cc, cs, date, hours(minutes).quantize(Decimal("0.000001")), h3, h4)


def map_rows(engine: sa.Engine, schema: str = "public") -> dict[str, tuple[str, str, datetime]]:
    """id_heure → mapped key."""
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            f"select id_heure, code_chantier, code_salarie, date_sqlserver "
            f"from {schema}.batigest_heures_map"
        ).all()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def map_full(engine: sa.Engine, schema: str = "public") -> list[tuple]:
    with engine.connect() as conn:
        return sorted(
            tuple(r)
            for r in conn.exec_driver_sql(f"select * from {schema}.batigest_heures_map").all()
        )


def drift_memory(engine: sa.Engine) -> list[tuple]:
    """The drift stage's memory (`batigest_heures_drift`), every column that matters."""
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "select id_heure, values_hash, restored_kind, restored_at, reported_kind, "
            "first_reported_at from batigest_heures_drift order by id_heure"
        )
        return [tuple(r) for r in rows]


def duplicate_keys(rows: Iterable[SuiviRow]) -> list[tuple[str, str, datetime]]:
    seen: dict[tuple[str, str, datetime], int] = {}
    for r in rows:
        seen[r[:3]] = seen.get(r[:3], 0) + 1
    return [k for k, n in seen.items() if n > 1]


def write_synced(engine: sa.Engine, schema: str = "public") -> None:
    """dbt's `heures_synced` (what the drift stage compares SuiviMO with) as every map row
    with values: a table standing in for the view, refreshed on each call."""
    with engine.begin() as conn:
        conn.exec_driver_sql(f"drop table if exists {schema}.heures_synced")
        conn.exec_driver_sql(
            f"create table {schema}.heures_synced as select id_heure, code_chantier, "
            "code_salarie, date_sqlserver, nb_h0, nb_h3, nb_h4, values_hash "
            f"from {schema}.batigest_heures_map where nb_h0 is not null"
        )
