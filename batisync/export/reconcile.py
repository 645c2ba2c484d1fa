"""Drift between the map (what we wrote) and SuiviMO (what is there now).

Every mapped row is checked at its mapped key and lands in exactly one class, so the
counts add up (`checked = ok + missing + changed + duplicated`): `duplicated` (more than
one row at the key), `missing` (deleted by hand), `changed` (values edited by hand), or
`ok`. Each finding carries the key, the values the map expects and the rows found.

`repair=True` writes the mapped values back (re-insert, update) with the exporter's own
batch statements. A duplicated key is repaired when the map says which row is ours (at
least one row there holds exactly the mapped values): the key's rows are replaced by
one row with those values, in one transaction. When none does, nothing tells which row
is ours: the finding lists the statements to run once a person has chosen.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

import sqlalchemy as sa

from batisync.export.apply import run_batch
from batisync.export.batch_table import load_rows
from batisync.export.map_table import map_exists, read_map
from batisync.export.model import KeyNorm, PushRow
from batisync.export.options import DEFAULT_OPTIONS, ExportOptions
from batisync.export.plan import Resolved, RowPlan, State, plan_batch
from batisync.export.reconcile_report import Finding, ReconcileReport, classify
from batisync.export.resolve import batches
from batisync.export.statements import BatchStatements

log = logging.getLogger(__name__)


def reconcile(
    staging_engine: sa.Engine,
    batigest_engine: sa.Engine,
    options: ExportOptions = DEFAULT_OPTIONS,
    *,
    repair: bool = False,
) -> ReconcileReport:
    report = ReconcileReport()
    if not map_exists(staging_engine, options.staging_schema):
        return report
    with staging_engine.connect() as conn:
        mapped = read_map(conn, options.staging_schema)
    norm = options.key_norm(batigest_engine.dialect.name)
    statements = options.statements(batigest_engine.dialect.name)
    checkable = []
    for m in sorted(mapped.values(), key=lambda m: m.id_heure):
        if m.values.complete:
            # the map row as a row to push at its own key: the plan says what differs
            checkable.append(Resolved(PushRow(m.id_heure, m.key, m.values), m.key))
        else:
            report.unverifiable.append(m.id_heure)
    findings: list[Finding] = []
    with batigest_engine.connect() as target:
        for batch in batches(([r] for r in checkable), options.batch_size):

            def check(state: State, batch: list[Resolved] = batch) -> list[RowPlan]:
                findings.extend(f for r in batch if (f := classify(r, state, norm)))
                return plan_batch(batch, state, norm)

            report.plans.extend(
                run_batch(target, statements, load_rows(batch), check, norm, write=False)
            )
        report.checked = len(checkable)
        report.ok = report.checked - len(findings)
        if repair:
            findings = _repair(target, statements, checkable, findings, norm, options.batch_size)
    table = statements.s
    report.findings = [
        f if f.repaired or f.resolvable else _with_statements(f, table, batigest_engine.dialect)
        for f in findings
    ]
    log.info("%s", report.summary_line())
    return report


def _repair(
    target: sa.Connection,
    statements: BatchStatements,
    checkable: Sequence[Resolved],
    findings: list[Finding],
    norm: KeyNorm,
    batch_size: int,
) -> list[Finding]:
    """Missing and changed rows through the exporter's batches (they re-read the state
    under lock); resolvable duplicates one key at a time (they are rare)."""
    by_id = {r.row.id_heure: r for r in checkable}
    plain = [by_id[f.id_heure] for f in findings if f.kind != "duplicated"]
    for batch in batches(([r] for r in plain), batch_size):
        write_back(target, statements, batch, norm)
    done = []
    for f in findings:
        if f.kind != "duplicated":
            done.append(replace(f, repaired=True))
        elif f.resolvable:
            with target.begin():
                for statement in _collapse(statements.s, f):
                    target.execute(statement)
            done.append(replace(f, repaired=True))
        else:
            done.append(f)
    return done


def write_back(
    target: sa.Connection, statements: BatchStatements, batch: list[Resolved], norm: KeyNorm
) -> list[RowPlan]:
    """Put each row of `batch` at its key with its values, as one exporter batch: decided
    by `plan_batch` on the locked re-read (a key holding two rows by then is rejected)."""
    return run_batch(
        target,
        statements,
        load_rows(batch),
        lambda state: plan_batch(batch, state, norm),
        norm,
        write=True,
    )


def _collapse(table: sa.Table, f: Finding) -> list[sa.Executable]:
    """Replace every row at the finding's key by one row holding the mapped values."""
    c = table.c
    at_key = sa.and_(c.CodeChantier == f.key[0], c.CodeSalarie == f.key[1], c.Date == f.key[2])
    values = {
        "CodeChantier": f.key[0],
        "CodeSalarie": f.key[1],
        "Date": f.key[2],
        "NbH0": f.expected.nb_h0,
        "NbH3": f.expected.nb_h3,
        "NbH4": f.expected.nb_h4,
    }
    return [sa.delete(table).where(at_key), sa.insert(table).values(**values)]


def _with_statements(f: Finding, table: sa.Table, dialect: sa.Dialect) -> Finding:
    """The statements that keep the synced values at the key, as SQL a person can run."""
    texts = []
    for statement in _collapse(table, f):
        compiled = statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        texts.append(" ".join(str(compiled).split()))
    return replace(f, statements=tuple(texts))


__all__ = ["reconcile", "write_back"]
