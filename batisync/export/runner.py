"""One export run: `to_push` (+ `heures_gone`) → SuiviMO, then the map.

Order of each batch: one SuiviMO transaction (see `apply`), then one staging
transaction for the map. A crash between the two leaves the map behind SuiviMO; the
next run reads the real SuiviMO state again (the row already sits at its new key with
its values: `unchanged`) and records it, so it converges.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa

from batisync.core.errors import first_line
from batisync.core.ids import new_run_id
from batisync.export.apply import BatchStatements, LoadRow, load_rows, run_batch
from batisync.export.map_table import ensure_map, map_exists, map_row_for, read_map, write_map
from batisync.export.model import BadRow, GoneRow, KeyNorm, MapRow, PushRow, key_norm_for
from batisync.export.plan import (
    Action,
    Op,
    Resolved,
    RowPlan,
    batches,
    group,
    plan_batch,
    reject,
    resolve,
)
from batisync.export.report import ExportReport
from batisync.export.retract import plan_retract, retract_candidates, retract_refusal
from batisync.export.staging_io import read_gone, read_to_push

log = logging.getLogger(__name__)

# Errors that come from the data of a row (too long, overflow, constraint): the batch is
# retried group by group so the other rows get written. Anything else (connection lost,
# a bug) stops the run: what was committed is consistent and the next run converges.
ROW_ERRORS = (sa.exc.DataError, sa.exc.IntegrityError)
# The same errors as SQL Server words them (msg 8152/2628 truncation, 8115 overflow, 515
# NULL, 245/241 conversion): drivers do not agree on their class (mssql-python raises
# msg 2628 as a ProgrammingError, pyodbc as a DataError), so the text decides too.
ROW_ERROR_TEXTS = (
    "would be truncated",
    "arithmetic overflow",
    "cannot insert the value null",
    "conversion failed",
)


def is_row_error(error: sa.exc.DBAPIError) -> bool:
    """Whether `error` comes from the data of a row rather than from the run."""
    if isinstance(error, ROW_ERRORS):
        return True
    text = str(error.orig if error.orig is not None else error).lower()
    return any(marker in text for marker in ROW_ERROR_TEXTS)


ON_GONE = ("keep", "delete")
T = TypeVar("T")


def run_export(
    staging_engine: sa.Engine,
    batigest_engine: sa.Engine,
    *,
    schema: str = "dbo",
    staging_schema: str = "public",
    batch_size: int = 1000,
    on_gone: str = "keep",
    retract_max_share: float = 0.1,
    force: bool = False,
    dry_run: bool = False,
    id_heure: str | None = None,
    run_id: str | None = None,
    row_by_row: bool = False,
    case_sensitive_keys: bool = False,
    rejected_by_dbt: Mapping[str, int] | None = None,
    rejected_new_by_dbt: Mapping[str, int] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExportReport:
    """Read `to_push` and `heures_gone` from staging and export them (see `export_rows`)."""
    with staging_engine.connect() as conn:
        to_push = read_to_push(conn, staging_schema)
        gone = read_gone(conn, staging_schema)
    return export_rows(
        staging_engine,
        batigest_engine,
        to_push,
        gone,
        schema=schema,
        staging_schema=staging_schema,
        batch_size=batch_size,
        on_gone=on_gone,
        retract_max_share=retract_max_share,
        force=force,
        dry_run=dry_run,
        id_heure=id_heure,
        run_id=run_id,
        row_by_row=row_by_row,
        case_sensitive_keys=case_sensitive_keys,
        rejected_by_dbt=rejected_by_dbt,
        rejected_new_by_dbt=rejected_new_by_dbt,
        progress=progress,
    )


def export_rows(
    staging_engine: sa.Engine,
    batigest_engine: sa.Engine,
    to_push: Iterable[Mapping[str, Any]],
    gone: Iterable[Mapping[str, Any]] = (),
    *,
    schema: str = "dbo",
    staging_schema: str = "public",
    batch_size: int = 1000,
    on_gone: str = "keep",
    retract_max_share: float = 0.1,
    force: bool = False,
    dry_run: bool = False,
    id_heure: str | None = None,
    run_id: str | None = None,
    row_by_row: bool = False,
    case_sensitive_keys: bool = False,
    rejected_by_dbt: Mapping[str, int] | None = None,
    rejected_new_by_dbt: Mapping[str, int] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExportReport:
    """Apply rows shaped like `to_push` / `heures_gone` to SuiviMO and record the map.

    `to_push` is a hint: the old key comes from the map, and each batch checks the real
    SuiviMO rows (under lock) before writing. `on_gone='delete'` removes the rows of
    gone slots that the map says we wrote, unless that is more than `retract_max_share`
    of the mapped rows (then nothing is retracted, unless `force`). `row_by_row` writes
    one SuiviMO row per statement (SuiviMO has triggers); `case_sensitive_keys` compares
    keys as a case-sensitive collation does (both from the Batigest inspection).
    """
    if on_gone not in ON_GONE:
        raise ValueError(f"on_gone must be one of {ON_GONE}, got {on_gone!r}")
    report = ExportReport(run_id or new_run_id(), dry_run=dry_run)
    # dbt's rejections (heures_rejected) are known before the export: with them, the
    # export's own line and the run summary print the same counts
    report.rejected_by_dbt = dict(rejected_by_dbt or {})
    report.rejected_new_by_dbt = dict(rejected_new_by_dbt or {})
    norm = key_norm_for(batigest_engine.dialect.name, case_sensitive=case_sensitive_keys)
    statements = BatchStatements(batigest_engine.dialect.name, schema, row_by_row=row_by_row)

    rows, bad = _parse(to_push, PushRow.from_mapping)
    gone_rows, bad_gone = _parse(gone, GoneRow.from_mapping)
    # all gone slots, even with --id-heure: their rows may be adopted by the one pushed
    all_gone_ids = {g.id_heure for g in gone_rows}
    if id_heure is not None:
        rows = [r for r in rows if r.id_heure == id_heure]
        gone_rows = [g for g in gone_rows if g.id_heure == id_heure]
        bad = [p for p in bad if p.id_heure == id_heure]
    for plan in bad_gone:
        log.warning("heures_gone row ignored: %s", plan.reason)

    if dry_run and not map_exists(staging_engine, staging_schema):
        current_map: dict[str, MapRow] = {}
    else:
        if not dry_run:
            ensure_map(staging_engine, staging_schema)
        with staging_engine.connect() as conn:
            current_map = read_map(conn, staging_schema)

    # a deleted slot is retracted only once a later complete fetch confirmed it gone
    gone_ids = {g.id_heure for g in gone_rows if g.retractable}
    if on_gone == "delete" and (waiting := len(gone_rows) - len(gone_ids)):
        log.info("%d deleted slot(s) kept until a later complete fetch confirms them", waiting)
    accepted, rejected = resolve(rows, current_map, all_gone_ids, norm)
    report.add(bad)
    report.add(rejected)

    with batigest_engine.connect() as target, staging_engine.connect() as staging:
        pusher = _Pusher(target, staging, statements, norm, current_map, report, staging_schema)
        done = 0
        for batch in batches(group(accepted, norm), batch_size):
            pusher.push(group(batch, norm))
            done += len(batch)
            if progress:
                progress(done, len(accepted))
        if on_gone == "delete":
            pushed = {r.id_heure for r in rows} | {p.id_heure for p in bad}
            candidates = retract_candidates(gone_ids, current_map, pushed)
            refusal = retract_refusal(len(candidates), len(current_map), retract_max_share, force)
            if refusal:
                log.warning("%s", refusal)
                report.warnings.append(refusal)
            else:
                for start in range(0, len(candidates), batch_size):
                    pusher.retract(candidates[start : start + batch_size])
    log.info("%s", report.summary_line())
    return report


def _parse(
    rows: Iterable[Mapping[str, Any]], parse: Callable[[Mapping[str, Any]], T]
) -> tuple[list[T], list[RowPlan]]:
    good: list[T] = []
    bad: list[RowPlan] = []
    for row in rows:
        try:
            good.append(parse(row))
        except BadRow as error:
            bad.append(reject(str(row.get("id_heure") or "?"), str(error)))
    return good, bad


class _Pusher:
    """Applies batches on one Batigest and one staging connection, keeping the map
    (in memory and, unless dry run, in staging) in step with what was committed."""

    def __init__(
        self,
        target: sa.Connection,
        staging: sa.Connection,
        statements: BatchStatements,
        norm: KeyNorm,
        current_map: dict[str, MapRow],
        report: ExportReport,
        staging_schema: str,
    ) -> None:
        self.target = target
        self.staging = staging
        self.statements = statements
        self.norm = norm
        self.map = current_map
        self.report = report
        self.staging_schema = staging_schema
        self.write = not report.dry_run

    def push(self, groups: Sequence[list[Resolved]]) -> None:
        """One transaction for these groups; on a data error, one per group."""
        batch = [r for g in groups for r in g]
        try:
            plans = run_batch(
                self.target,
                self.statements,
                load_rows(batch),
                lambda state: plan_batch(batch, state, self.norm),
                self.norm,
                write=self.write,
            )
        except sa.exc.DBAPIError as error:
            if not is_row_error(error):
                raise
            if len(groups) > 1:
                log.info("batch of %d rows failed; retrying it group by group", len(batch))
                for g in groups:
                    self.push([g])
                return
            reason = f"database: {first_line(error, with_type=False)}"
            log.warning("rejected %s: %s", ", ".join(r.row.id_heure for r in batch), reason)
            self.report.add(reject(r.row.id_heure, reason) for r in batch)
            return
        self.report.batches += 1
        for plan in plans:
            if plan.action is Action.REJECT:  # a duplicated key: a person must look
                log.warning("rejected %s: %s", plan.id_heure, plan.reason)
        self._record(batch, plans)
        self.report.add(plans)

    def _record(self, batch: Sequence[Resolved], plans: Sequence[RowPlan]) -> None:
        """Bring the map in line with what this batch committed."""
        upserts = []
        drops = {a for p in plans for a in p.adopts}
        # a slot the plan rejected (a duplicated key) wrote nothing: its map row stays
        rejected = {p.id_heure for p in plans if p.action is Action.REJECT}
        for r in batch:
            if r.row.id_heure in rejected:
                continue
            wanted = map_row_for(r.row)
            if self.map.get(r.row.id_heure) != wanted:
                upserts.append(wanted)
        if self.write and (upserts or drops):
            with self.staging.begin():
                write_map(
                    self.staging,
                    self.staging_schema,
                    upserts=upserts,
                    drop_ids=drops,
                    run_id=self.report.run_id,
                )
        for a in drops:
            self.map.pop(a, None)
        for m in upserts:
            self.map[m.id_heure] = m

    def retract(self, mapped: Sequence[MapRow]) -> None:
        rows = [LoadRow(m.id_heure, None, m.key, Op.RETRACT) for m in mapped]
        plans = run_batch(
            self.target,
            self.statements,
            rows,
            lambda state: plan_retract(mapped, state, self.norm),
            self.norm,
            write=self.write,
        )
        self.report.batches += 1
        ids = [p.id_heure for p in plans if p.action is Action.RETRACT]
        if self.write:
            with self.staging.begin():
                write_map(self.staging, self.staging_schema, upserts=(), drop_ids=ids, run_id="")
        for i in ids:
            self.map.pop(i, None)
        self.report.add(plans)
