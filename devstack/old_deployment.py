"""An old connector's deployment as a site has it on the day it switches: its own
`batigest_heures` (`devstack/old_connector.py`'s DDL) filled the way it filled it, the
seed's `batigest_heures_map`, and the SuiviMO rows it pushed. Tests (and `make
reliability`) build one, then let batisync take it over in place."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import sqlalchemy as sa

from devstack.batigest import SCHEMA as BATIGEST_SCHEMA
from devstack.fake_batisimply import Dataset, parse_utc
from devstack.old_connector import old_deployment_ddl

Key = tuple[str, str, datetime]

# What an adoption may change in `public`: every relation with its kind, owner, grants,
# options, comment, definition and columns (type, not null), then the rules. Tests take
# it before and after a run to show what changed (nothing, when it is refused).
STAGING_CATALOG = """
select c.relname, c.relkind, pg_get_userbyid(c.relowner), c.relacl::text, c.reloptions::text,
       obj_description(c.oid, 'pg_class'),
       case when c.relkind in ('v', 'm') then pg_get_viewdef(c.oid) end,
       (select string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                          || case when a.attnotnull then ' not null' else '' end, ', '
                          order by a.attnum)
        from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped)
from pg_class c where c.relnamespace = 'public'::regnamespace
union all
select r.rulename, 'rule', r.tablename, null, null, null, r.definition, null
from pg_rules r where r.schemaname = 'public'
order by 1
"""


@dataclass(frozen=True)
class OldHeure:
    """One row of the old connector's `batigest_heures`."""

    id_heure: str
    date_debut: datetime  # local time, seconds :00, as the old connector stored it
    date_fin: datetime
    id_utilisateur: str  # a UUID: its column is `uuid`
    id_projet: int | None
    status_management: str | None
    total_heure: Decimal  # minutes, numeric(5,2)
    panier: bool
    trajet: bool
    code_projet: str | None
    sync: bool = False


def _local_minute(value: str, zone: ZoneInfo) -> datetime:
    moment = parse_utc(value)
    assert moment is not None, f"not a UTC date: {value!r}"
    return moment.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)


def old_heure(dataset: Dataset, slot_id: str, tz: str = "Europe/Paris") -> OldHeure:
    """What the old connector stored for the dataset's slot `slot_id` as it is now."""
    slot, zone = dataset.slots[slot_id], ZoneInfo(tz)
    project = dataset.project(slot["project"]["id"])
    return OldHeure(
        id_heure=slot_id,
        date_debut=_local_minute(slot["startDate"], zone),
        date_fin=_local_minute(slot["endDate"], zone),
        id_utilisateur=slot["user"]["id"],
        id_projet=slot["project"]["id"],
        status_management=slot["managementStatus"],
        total_heure=Decimal(slot["totalTimeMinutes"]).quantize(Decimal("0.01")),
        panier=bool(slot["hasPackedLunch"]),
        trajet=bool(slot["hasHomeToWorkJourney"]),
        code_projet=project.code if project else None,
    )


def suivimo_key(row: OldHeure, salarie: Mapping[str, str]) -> Key:
    """The SuiviMO key the old connector wrote for `row` (Salarie.Code by codebs)."""
    assert row.code_projet, f"{row.id_heure}: the old connector pushed only coded slots"
    return (row.code_projet, salarie[row.id_utilisateur], row.date_debut)


def write_old_deployment(
    staging: psycopg.Connection[Any],
    batigest: sa.Engine,
    rows: Iterable[OldHeure],
    salarie: Mapping[str, str],
    *,
    pushed: Iterable[str] = (),
    schema: str = "public",
) -> dict[str, Key]:
    """Create the old connector's tables in `schema` and fill them with `rows`; each slot
    of `pushed` gets the SuiviMO row and the map row the old connector wrote for it, and
    `sync` true. `salarie` maps a user id to its Salarie.Code. Returns id -> pushed key."""
    pushed_ids = set(pushed)
    table = [replace(r, sync=r.sync or r.id_heure in pushed_ids) for r in rows]
    keys = {r.id_heure: suivimo_key(r, salarie) for r in table if r.id_heure in pushed_ids}
    for ddl in old_deployment_ddl(schema):
        staging.execute(ddl)  # type: ignore[arg-type]
    with staging.cursor() as cur:
        cur.executemany(
            f"insert into {schema}.batigest_heures (id_heure, date_debut, date_fin, "
            "id_utilisateur, id_projet, status_management, total_heure, panier, trajet, "
            "code_projet, sync) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (r.id_heure, r.date_debut, r.date_fin, r.id_utilisateur, r.id_projet,
                 r.status_management, r.total_heure, r.panier, r.trajet, r.code_projet, r.sync)
                for r in table
            ],
        )  # fmt: skip
        cur.executemany(
            f"insert into {schema}.batigest_heures_map values (%s, %s, %s, %s)",
            [(i, *key) for i, key in keys.items()],
        )
    by_id = {r.id_heure: r for r in table}
    with batigest.begin() as conn:
        for slot_id, (chantier, salarie_code, date) in keys.items():
            row = by_id[slot_id]
            conn.execute(
                sa.text(
                    f'insert into {BATIGEST_SCHEMA}."SuiviMO" ("CodeChantier", "CodeSalarie", '
                    '"Date", "NbH0", "NbH3", "NbH4") values (:c, :s, :d, :h0, :h3, :h4)'
                ),
                {
                    "c": chantier,
                    "s": salarie_code,
                    "d": date,
                    "h0": row.total_heure / 60,
                    "h3": int(row.trajet),
                    "h4": int(row.panier),
                },
            )
    return keys


__all__ = ["STAGING_CATALOG", "OldHeure", "old_heure", "suivimo_key", "write_old_deployment"]
