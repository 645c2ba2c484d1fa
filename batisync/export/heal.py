"""The drift stage's I/O: compare SuiviMO with the map after each sync, heal what the
seed promises (a row deleted or edited by hand), report the rest (`drift.decide`).

Cost: by groups of employees (`drift.employee_groups`, about `GROUP_ROWS` map rows each),
so that memory follows a group, not the window and its history. heures_synced and the
map's keys are streamed once, in group order (`drift_store.synced_by_group`); SuiviMO is
read once per group — one `SELECT` of the rows of its employees between its first and
last day, so that a row moved by hand to another hour is seen too; the memory table is
read once, and the map again only for remembered slots that left heures_synced.
Nothing to heal: that is all. Rows to heal go through the
exporter's own batches (`reconcile.write_back`, as `reconcile --repair`): each batch
re-reads its keys under lock and `plan.plan_batch` decides again on what it finds (a
key holding two rows by then is rejected, never collapsed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import sqlalchemy as sa

from batisync.core.errors import first_line
from batisync.export.apply import is_row_error
from batisync.export.drift import (
    DriftFinding,
    SuiviRow,
    decide,
    employee_code,
    employee_groups,
    remember,
    state_of,
)
from batisync.export.drift_cache import open_cache
from batisync.export.drift_report import DriftReport
from batisync.export.drift_store import (
    map_rows_by_code,
    read_memory,
    synced_by_group,
    synced_exists,
    write_memory,
)
from batisync.export.literals import MAX_VALUES_ROWS, literal
from batisync.export.map_table import read_map_of
from batisync.export.model import KeyNorm, MapRow, PushRow, values_from_db
from batisync.export.options import DEFAULT_OPTIONS, ExportOptions
from batisync.export.plan import Action, Resolved
from batisync.export.reconcile import write_back
from batisync.export.statements import BatchStatements
from batisync.export.suivimo import KEY_COLUMNS, VALUE_COLUMNS

log = logging.getLogger(__name__)
# map rows (history included) per group of employees: what one group holds in memory
GROUP_ROWS = 20_000


def check_drift(
    staging_engine: sa.Engine,
    batigest_engine: sa.Engine,
    options: ExportOptions = DEFAULT_OPTIONS,
    *,
    dry_run: bool = False,
    run_id: str = "",
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    group_rows: int = GROUP_ROWS,
    full: bool = False,
) -> DriftReport:
    """Compare, heal (`on_drift='repair'`, not a dry run), remember (not a dry run);
    employees are checked by groups of about `group_rows` map rows (the same report
    whatever the size: see `drift.employee_groups`). An employee whose two sides have
    the digests its last clean check recorded is counted, not compared again
    (`drift_cache`); `full` compares every employee (and records them afresh)."""
    policy, staging_schema = options.on_drift, options.staging_schema
    report = DriftReport(run_id, policy=policy, dry_run=dry_run)
    norm = options.key_norm(batigest_engine.dialect.name)
    statements = options.statements(batigest_engine.dialect.name)
    report_only = "HEURES_ON_DRIFT=report" if policy == "report" else ""
    report_only = "dry run: nothing written" if dry_run else report_only
    findings: list[DriftFinding] = []
    states: dict[str, str] = {}  # state_of each slot the memory needs (see remember)
    with staging_engine.connect() as conn, ExitStack() as stack:
        if not synced_exists(conn, staging_schema):
            report.note = "heures_synced is not built yet: the next complete run builds it"
            log.info("%s", report.summary_line())
            return report
        memory = read_memory(conn, staging_schema)
        # heures_synced reads the map: it exists
        counts = map_rows_by_code(conn, staging_schema)
        # read only: rolled back on return
        target = stack.enter_context(batigest_engine.connect())
        cache = open_cache(conn, target, statements, options, norm, full=full)
        report.checked += cache.skipped_rows
        counts = {c: n for c, n in counts.items() if employee_code(norm, c) not in cache.hits}
        groups = employee_groups(counts, norm, group_rows, MAX_VALUES_ROWS)
        # every employee skipped: heures_synced and the map are not read again
        for scope, mapped_keys in synced_by_group(conn, staging_schema, groups) if groups else ():
            if not scope:
                continue
            decision = decide(
                scope,
                mapped_keys,
                read_around(target, statements, scope, norm),
                memory,
                norm,
                report_only=report_only,
                accent_insensitive=options.accent_insensitive_keys,
            )
            report.checked += decision.checked
            findings += decision.findings
            noted = {f.id_heure for f in decision.findings} | memory.keys()
            states |= {m.id_heure: state_of(m) for m in scope if m.id_heure in noted}
        if not dry_run:  # the remembered slots that are mapped, but not synced now
            others = read_map_of(conn, staging_schema, memory.keys() - states.keys())
            states |= {i: state_of(m) for i, m in others.items()}
    # an employee with a finding is checked in full next time (healed ones too)
    cache.checked({employee_code(norm, c) for c in counts}, findings, norm)
    findings.sort(key=lambda f: f.id_heure)  # the order of a single group's decide
    if any(f.heal for f in findings):
        with batigest_engine.connect() as target:
            findings = _heal(target, statements, findings, norm, options.batch_size)
    report.findings = findings
    if not dry_run:
        with staging_engine.begin() as conn:
            write_memory(conn, staging_schema, remember(memory, findings, states, now()), run_id)
            cache.write(conn, run_id)
    for finding in findings:
        (log.info if finding.restored or not finding.new else log.warning)("%s", finding.describe())
    log.info("%s", report.summary_line())
    for line in report.kind_lines():
        log.info("drift %s", line)
    return report


def read_around(
    conn: sa.Connection, statements: BatchStatements, scope: Sequence[MapRow], norm: KeyNorm
) -> list[SuiviRow]:
    """The SuiviMO rows of the scope's employees (as `norm` compares codes) between its
    first and last day: one statement per 1,000 employee codes (literals, as every
    exporter read), in key order (so that a finding lists them the same every time)."""
    dialect = statements.dialect_name
    quote = statements.dialect.identifier_preparer.quote
    first = datetime.combine(min(m.key[2] for m in scope).date(), time())
    last = datetime.combine(max(m.key[2] for m in scope).date(), time()) + timedelta(days=1)
    codes = sorted({m.key[1] for m in scope})
    # the collation may match other codes too (an accented twin): not this scope's
    names = {employee_code(norm, c) for c in codes}
    columns = ", ".join(quote(c) for c in (*KEY_COLUMNS, *VALUE_COLUMNS))
    table = statements.dialect.identifier_preparer.format_table(statements.s)
    found: list[SuiviRow] = []
    for start in range(0, len(codes), MAX_VALUES_ROWS):
        listed = ", ".join(literal(c, dialect) for c in codes[start : start + MAX_VALUES_ROWS])
        sql = (
            f"select {columns} from {table} "
            f"where {quote('Date')} >= {literal(first, dialect)} "
            f"and {quote('Date')} < {literal(last, dialect)} "
            f"and {quote('CodeSalarie')} in ({listed})"
        )
        for r in conn.exec_driver_sql(sql):
            if employee_code(norm, r[1]) in names:
                found.append(SuiviRow((r[0], r[1], r[2]), values_from_db(r[3], r[4], r[5])))
    return sorted(found, key=_row_order)


def _row_order(r: SuiviRow) -> tuple[object, ...]:
    v = r.values
    return (r.key, *((x is None, x or 0) for x in (v.nb_h0, v.nb_h3, v.nb_h4)))


def _heal(
    target: sa.Connection,
    statements: BatchStatements,
    findings: list[DriftFinding],
    norm: KeyNorm,
    batch_size: int,
) -> list[DriftFinding]:
    """Write the healable findings back, batch by batch, each decided again on its locked
    re-read; a finding the re-read no longer confirms is dropped (someone fixed it)."""
    todo = [f for f in findings if f.heal]
    outcome: dict[str, DriftFinding | None] = {}
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        resolved = [Resolved(PushRow(f.id_heure, f.key, f.expected), None) for f in batch]
        try:
            plans = write_back(target, statements, resolved, norm)
        except sa.exc.DBAPIError as error:
            if not is_row_error(error):
                raise
            why = f"not restored: database: {first_line(error, with_type=False)}"
            outcome |= {f.id_heure: replace(f, heal=False, why=why) for f in batch}
            continue
        for f, plan in zip(batch, plans, strict=True):
            outcome[f.id_heure] = _after(f, plan.action, plan.reason)
    healed = [outcome.get(f.id_heure, f) for f in findings]
    return [f for f in healed if f is not None]


def _after(f: DriftFinding, action: Action, reason: str | None) -> DriftFinding | None:
    if action is Action.INSERT:
        return replace(f, kind="missing", restored=True)
    if action is Action.UPDATE:
        return replace(f, kind="changed", restored=True)
    if action is Action.REJECT:  # the locked re-read found two rows at the key
        return replace(f, kind="duplicated", heal=False, why=reason or "duplicate_key")
    return None  # unchanged: fixed meanwhile


__all__ = ["check_drift", "read_around"]
