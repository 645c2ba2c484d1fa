"""Where each slot stands, in the words of someone checking it (pure: no I/O here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

Key = tuple[str, str, datetime]  # (CodeChantier, CodeSalarie, Date): a SuiviMO row's key
SuiviMO = dict[Key, list[tuple[Decimal, Decimal, Decimal]]]  # key -> (NbH0, NbH3, NbH4) rows


def as_decimal(value: Any) -> Decimal:
    """A SuiviMO hours value as compared (6 decimals; NULL is 0)."""
    return Decimal(0) if value is None else Decimal(str(value)).quantize(Decimal("0.000001"))


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
    expected = (
        as_decimal(row["map_nb_h0"]),
        as_decimal(row["map_nb_h3"]),
        as_decimal(row["map_nb_h4"]),
    )
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


__all__ = ["Key", "SuiviMO", "as_decimal", "fmt_key", "mapped_key", "render", "slot_state"]
