"""Drift between the map (what we wrote) and SuiviMO (what is there now).

Every mapped row is checked at its mapped key: `missing` (deleted by hand), `changed`
(values edited by hand), `duplicated` (more than one row at the key). `repair=True`
writes the mapped values back (re-insert, update) with the exporter's own batch
statements; duplicates are reported only, since nothing tells which row is ours.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from batisync.export.apply import BatchStatements, load_rows, run_batch
from batisync.export.map_table import map_exists, read_map
from batisync.export.model import PushRow, key_norm_for
from batisync.export.plan import Action, Resolved, RowPlan, batches, plan_batch

log = logging.getLogger("export.reconcile")


@dataclass
class ReconcileReport:
    checked: int = 0
    ok: int = 0
    missing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unverifiable: list[str] = field(default_factory=list)  # seed-era map rows, no values
    repaired: int = 0
    plans: list[RowPlan] = field(default_factory=list)

    @property
    def drift(self) -> int:
        return len(self.missing) + len(self.changed) + len(self.duplicated)

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "ok": self.ok,
            "missing": list(self.missing),
            "changed": list(self.changed),
            "duplicated": list(self.duplicated),
            "unverifiable": list(self.unverifiable),
            "repaired": self.repaired,
        }


def reconcile(
    staging_engine: sa.Engine,
    batigest_engine: sa.Engine,
    *,
    schema: str = "dbo",
    staging_schema: str = "public",
    repair: bool = False,
    batch_size: int = 1000,
    row_by_row: bool = False,
    case_sensitive_keys: bool = False,
) -> ReconcileReport:
    report = ReconcileReport()
    if not map_exists(staging_engine, staging_schema):
        return report
    with staging_engine.connect() as conn:
        mapped = read_map(conn, staging_schema)
    norm = key_norm_for(batigest_engine.dialect.name, case_sensitive=case_sensitive_keys)
    statements = BatchStatements(batigest_engine.dialect.name, schema, row_by_row=row_by_row)
    checkable = []
    for m in sorted(mapped.values(), key=lambda m: m.id_heure):
        if m.values.complete:
            # the map row as a row to push at its own key: the plan says what differs
            checkable.append(Resolved(PushRow(m.id_heure, m.key, m.values), m.key))
        else:
            report.unverifiable.append(m.id_heure)
    with batigest_engine.connect() as target:
        for batch in batches(([r] for r in checkable), batch_size):
            plans = run_batch(
                target,
                statements,
                load_rows(batch),
                lambda state, batch=batch: _check(batch, state, norm, report),
                norm,
                write=repair,
            )
            report.plans.extend(plans)
    report.checked = len(checkable)
    for plan in report.plans:
        if plan.action is Action.INSERT:
            report.missing.append(plan.id_heure)
        elif plan.action is Action.UPDATE:
            report.changed.append(plan.id_heure)
        else:
            report.ok += 1
    if repair:
        report.repaired = len(report.missing) + len(report.changed)
    log.info(
        "reconcile: %d checked, %d ok, %d missing, %d changed, %d duplicated%s",
        report.checked,
        report.ok,
        len(report.missing),
        len(report.changed),
        len(report.duplicated),
        f", {report.repaired} repaired" if repair else "",
    )
    return report


def _check(batch: list[Resolved], state: Any, norm: Any, report: ReconcileReport) -> list[RowPlan]:
    for r in batch:
        if len(state.at(norm(r.row.key))) > 1:
            report.duplicated.append(r.row.id_heure)
    return plan_batch(batch, state, norm)
