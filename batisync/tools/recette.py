"""The seed's recette tool: where is each hour, and what would the sync do with it?

    batisync debug-heures --days 7 --verbose
    batisync debug-heures --id-heure 12345 --update-codes --apply --verbose

(`make debug-heures` and the seed's `scripts/debug_heures.py` call it.)

Lists the slots of the last `--days` days (or the one of `--id-heure`) with their
state in staging (batigest_heures, to_push, heures_rejected, heures_gone), in the map
and in SuiviMO. `--update-codes` first reloads the projects, the Salarie and the
slots of that window, and rebuilds the dbt models. The export plan is always shown;
it is written to SuiviMO only with `--apply`. Runs against the configured systems
(the same settings as `make sync`), and takes the sync lock when it writes.

This module reads and decides; `batisync.cli.recette` parses the options and holds the
lock. Exit status: 0 done, 1 failed (or the slot is unknown), 2 configuration, 75 a sync runs.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import sql

from batisync.core.connections import make_batigest_engine, relation_exists
from batisync.core.logs import ProgressDisplay
from batisync.core.settings import Settings
from batisync.orchestrate.record import Recording
from batisync.transform.build import PUBLISH_SELECT, TRANSFORM_SELECT, adopt_old_table, dbt_env
from batisync.transform.build import build as dbt_build

log = logging.getLogger(__name__)

Key = tuple[str, str, datetime]
SuiviMO = dict[Key, list[tuple[Decimal, Decimal, Decimal]]]

# -- reading the state ------------------------------------------------------------------

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
            found[key].append((_dec(h0), _dec(h3), _dec(h4)))
    return found


def _dec(value: Any) -> Decimal:
    return Decimal(0) if value is None else Decimal(str(value)).quantize(Decimal("0.000001"))


# -- deciding what to say (pure) --------------------------------------------------------------


def mapped_key(row: Mapping[str, Any]) -> Key | None:
    if row.get("map_chantier") is None:
        return None
    return (row["map_chantier"], row["map_salarie"], row["map_date"])


def slot_state(row: Mapping[str, Any], suivimo: SuiviMO) -> str:
    """One line: where this slot stands, in the words of someone checking it."""
    key = mapped_key(row)
    if row.get("gone_reason"):
        kept = f"; its row {fmt_key(key)} stays (HEURES_ON_GONE=keep)" if key else ""
        return f"gone upstream: {row['gone_reason']}{kept}"
    if row.get("status_management") != "VALIDATED":
        return f"not validated ({row.get('status_management')}): not pushed"
    if row.get("rejected_reason"):
        return f"REJECTED {row['rejected_reason']}: {row.get('rejected_detail') or ''}".rstrip()
    if row.get("change_type"):
        new = (row["push_chantier"], row["push_salarie"], row["push_date"])
        moving = f" {fmt_key(key)} ->" if key and key != new else ""
        return f"to push ({row['change_type']}):{moving} {fmt_key(new)}"
    if key is None:
        return "not pushed yet (run the sync, or --update-codes)"
    rows = suivimo.get(key, [])
    if not rows:
        hint = "deleted in Batigest? the next sync restores it (drift stage)"
        return f"MISSING in SuiviMO at {fmt_key(key)} ({hint})"
    if len(rows) > 1:
        return f"DUPLICATED in SuiviMO: {len(rows)} rows at {fmt_key(key)}"
    expected = (_dec(row["map_nb_h0"]), _dec(row["map_nb_h3"]), _dec(row["map_nb_h4"]))
    if rows[0] != expected:
        return f"in SuiviMO at {fmt_key(key)} but values differ: {rows[0]} != {expected}"
    return f"in SuiviMO at {fmt_key(key)}, up to date"


def fmt_key(key: Key | None) -> str:
    return f"({key[0]}, {key[1]}, {key[2]:%Y-%m-%d %H:%M})" if key else "-"


def render(rows: Sequence[Mapping[str, Any]], suivimo: SuiviMO, verbose: bool) -> str:
    lines = [f"{'id_heure':<10} {'date_debut':<16} {'projet':<8} {'heures':>6}  state"]
    for row in rows:
        hours = f"{row['total_heure']:.2f}" if row.get("total_heure") is not None else "?"
        lines.append(
            f"{row['id_heure']:<10} {row['date_debut']:%Y-%m-%d %H:%M} "
            f"{row.get('code_projet') or '-':<8} {hours:>6}  {slot_state(row, suivimo)}"
        )
        if verbose:
            lines.append(
                f"{'':<12}user {row['id_utilisateur']} project {row['id_projet']} "
                f"panier {row['panier']} trajet {row['trajet']} sync {row['sync']}; "
                f"map {fmt_key(mapped_key(row))} pushed {row.get('pushed_at') or '-'} "
                f"run {row.get('run_id') or '-'}"
            )
    return "\n".join(lines)


# -- actions ------------------------------------------------------------------------------------


def load_window(settings: Settings, days: int) -> None:
    """Projects, Salarie and the slots of the last `days` days, like the sync's load."""
    from batisync.loader.config import load_with_settings
    from batisync.loader.window import sliding_window, utc_today

    window = sliding_window(days, utc_today())
    report = load_with_settings(settings, window, written_by="debug-heures --update-codes")
    for name, counts in report.to_dict()["resources"].items():
        print(
            f"reloaded {name}: fetched {counts['fetched']}, new {counts['new']}, "
            f"changed {counts['changed']}, deleted {counts['deleted']}"
        )


def build(settings: Settings, select: Sequence[str], display: ProgressDisplay) -> None:
    adopt_old_table(settings)  # the old connector's batigest_heures, before dbt writes it
    with display.stage("dbt") as task:
        report = dbt_build(
            ["build", "--select", *select],
            dbt_env(settings),
            progress=lambda detail: task.update(detail=detail),
        )
    print(f"{report.command}: {report.passed} nodes passed")


def export(settings: Settings, id_heure: str | None, apply: bool) -> Any:
    from batisync.export.config import checked_options, engines_from_settings
    from batisync.export.runner import run_export

    with engines_from_settings(settings) as (staging, batigest):
        options = checked_options(settings, batigest)
        return run_export(staging, batigest, options, dry_run=not apply, id_heure=id_heure)


@dataclass(frozen=True)
class Options:
    days: int
    id_heure: str | None
    update_codes: bool
    apply: bool
    verbose: bool

    @property
    def writes(self) -> bool:
        return self.update_codes or self.apply


def run_recette(
    settings: Settings,
    options: Options,
    display: ProgressDisplay,
    recording: Recording | None = None,
) -> int:
    """Reload (`--update-codes`), plan or apply the export, then list each slot's state.
    With `recording` (`--apply`), the export's counts go to sync_runs."""
    if options.update_codes:
        load_window(settings, options.days)
        build(settings, [*TRANSFORM_SELECT, *PUBLISH_SELECT], display)

    report = export(settings, options.id_heure, options.apply)
    if recording is not None:
        recording.finish("success", "export", report)
    plans = [p for p in report.plans if p.action != "unchanged" or options.verbose]
    if options.id_heure is None:
        print(f"export plan: {len(plans)} slot(s) to write or reject in the whole window")
    mode = "applied" if options.apply else "plan (dry run, nothing written; --apply writes it)"
    print(f"export {mode}: {report.counts_text()}")
    for plan in plans[: 50 if options.id_heure is None else None]:
        print(f"  {plan.describe()}")
    if options.apply and (report.inserted or report.updated or report.moved):
        build(settings, list(PUBLISH_SELECT), display)  # batigest_heures.sync follows

    since = datetime.now(UTC).date() - timedelta(days=options.days)
    with psycopg.connect(**settings.staging.conninfo()) as conn:
        rows = read_slots(conn, settings.dbt_schema, since=since, id_heure=options.id_heure)
        if options.id_heure is not None and not rows:
            print(f"slot {options.id_heure}: {raw_trace(conn, options.id_heure)}")
            return 1
    keys = [k for r in rows if (k := mapped_key(r))]
    assert settings.batigest_url is not None
    engine = make_batigest_engine(settings.batigest_url.reveal())
    try:
        suivimo = read_suivimo(engine, settings.batigest_schema, keys)
    finally:
        engine.dispose()
    scope = f"slot {options.id_heure}" if options.id_heure else f"last {options.days} days"
    print(f"\n{len(rows)} slot(s), {scope}:")
    print(render(rows, suivimo, options.verbose))
    return 0


__all__ = ["Options", "read_slots", "render", "run_recette"]
