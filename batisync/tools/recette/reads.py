"""What the recette tool reads: each slot's state in staging (batigest_heures, the map,
to_push, heures_rejected, heures_gone), why a slot is not there, and SuiviMO's rows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import sql

from batisync.core.connections import relation_exists
from batisync.tools.recette.verdict import Key, SuiviMO, as_decimal

_SLOTS_SQL = """
select h.id_heure, h.date_debut, h.date_fin, h.id_utilisateur, h.id_projet,
       h.status_management, h.total_heure, h.panier, h.trajet, h.code_projet, h.sync,
       m.code_chantier as map_chantier, m.code_salarie as map_salarie,
       m.date_sqlserver as map_date, m.nb_h0 as map_nb_h0, m.nb_h3 as map_nb_h3,
       m.nb_h4 as map_nb_h4, m.pushed_at, m.run_id,
       p.change_type, p.code_chantier as push_chantier, p.code_salarie as push_salarie,
       p.date_sqlserver as push_date, p.nb_h0 as push_nb_h0,
       r.reason as rejected_reason, r.detail as rejected_detail,
       g.reason as gone_reason
from {s}.batigest_heures h
left join {s}.batigest_heures_map m on m.id_heure = h.id_heure
left join {s}.to_push p on p.id_heure = h.id_heure
left join {s}.heures_rejected r on r.id_heure = h.id_heure
left join {s}.heures_gone g on g.id_heure = h.id_heure
where {where}
order by h.date_debut desc, h.id_heure
"""


def read_slots(
    conn: psycopg.Connection[Any], schema: str, *, since: date | None, id_heure: str | None
) -> list[dict[str, Any]]:
    where, params = (
        ("h.id_heure = %(id)s", {"id": id_heure})
        if id_heure is not None
        else ("h.date_debut >= %(since)s", {"since": since})
    )
    quoted = sql.Identifier(schema).as_string(conn)
    cursor = conn.execute(_SLOTS_SQL.format(s=quoted, where=where), params)  # type: ignore[arg-type]
    columns = [c.name for c in cursor.description or []]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def raw_trace(conn: psycopg.Connection[Any], id_heure: str) -> str:
    """Why a slot is not in batigest_heures: deleted upstream, refused, or never seen."""
    found = (
        conn.execute(
            "select start_date, management_status, _deleted_at from raw_batisimply.time_slots "
            "where id = %s",
            (id_heure,),
        ).fetchone()
        if relation_exists(conn, "raw_batisimply.time_slots")
        else None
    )
    if found and found[2] is not None:
        return f"deleted upstream (no longer returned since {found[2]:%Y-%m-%d %H:%M})"
    refused = (
        conn.execute(
            "select reason, last_seen_at from raw_batisimply.quarantine where record_id = %s "
            "order by last_seen_at desc limit 1",
            (id_heure,),
        ).fetchone()
        if relation_exists(conn, "raw_batisimply.quarantine")
        else None
    )
    if refused:
        return f"refused by the loader: {refused[0]} (last seen {refused[1]:%Y-%m-%d %H:%M})"
    if found:
        return f"loaded (start {found[0]}, {found[1]}) but not in batigest_heures: dbt build"
    return "never loaded: outside the window, or unknown to BatiSimply (try --update-codes)"


def read_suivimo(engine: sa.Engine, schema: str, keys: Sequence[Key]) -> SuiviMO:
    """SuiviMO rows on the days of `keys` (the only rows the listed slots can hold)."""
    found: SuiviMO = defaultdict(list)
    if not keys:
        return found
    low = min(k[2] for k in keys).replace(hour=0, minute=0, second=0, microsecond=0)
    high = max(k[2] for k in keys) + timedelta(days=1)
    prep = engine.dialect.identifier_preparer
    table = f"{prep.quote_schema(schema)}.{prep.quote('SuiviMO')}"
    columns = ", ".join(
        prep.quote(c) for c in ("CodeChantier", "CodeSalarie", "Date", "NbH0", "NbH3", "NbH4")
    )
    date = prep.quote("Date")
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(f"select {columns} from {table} where {date} >= :low and {date} < :high"),
            {"low": low, "high": high},
        )
        for chantier, salarie, moment, h0, h3, h4 in rows:
            key = (str(chantier).rstrip(), str(salarie).rstrip(), moment.replace(microsecond=0))
            found[key].append((as_decimal(h0), as_decimal(h3), as_decimal(h4)))
    return found


__all__ = ["raw_trace", "read_slots", "read_suivimo"]
