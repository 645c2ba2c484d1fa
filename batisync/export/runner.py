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
from batisync.export.apply import is_row_error, run_batch
from batisync.export.batch_table import LoadRow, load_rows
from batisync.export.map_table import (
    count_map,
    ensure_map,
    map_exists,
    map_row_for,
    read_map_of,
    write_map,
)
from batisync.export.model import BadRow, GoneRow, KeyNorm, MapRow, sharing_parser
from batisync.export.options import DEFAULT_OPTIONS, ExportOptions
from batisync.export.plan import Action, Op, Resolved, RowPlan, plan_batch, reject
from batisync.export.rejections import rejections_by_reason
from batisync.export.report import ExportReport
from batisync.export.resolve import batches, group, resolve
from batisync.export.retract import plan_retract, retract_candidates, retract_refusal
from batisync.export.staging_io import Marts, read_gone, stream_to_push
from batisync.export.statements import BatchStatements

log = logging.getLogger(__name__)
T = TypeVar("T")


def run_export(
    staging_engine: sa.Engine,
    batigest_engine: sa.Engine,
    options: ExportOptions = DEFAULT_OPTIONS,
    *,
    marts: Marts | None = None,
    dry_run: bool = False,
    id_heure: str | None = None,
    force: bool = False,
    run_id: str | None = None,
    with_dbt_rejections: bool = False,
    progress: Callable[[int, int], None] | None = None,
    keep_plans: bool = True,
) -> ExportReport:
    """Apply `to_push` / `heures_gone` (read from staging, or `marts` when given) to
    SuiviMO and record the map.

    `to_push` is a hint: the old key comes from the map, and each batch checks the real
    SuiviMO rows (under lock) before writing. `on_gone='delete'` removes the rows of
    gone slots that the map says we wrote, unless that is more than `retract_max_share`
    of the mapped rows (then nothing is retracted, unless `force`). `id_heure` exports
    that slot only; `with_dbt_rejections` counts dbt's `heures_rejected` in the report
    (the sync's whole picture, so the export's own line and the run summary agree).
    `keep_plans=False` keeps in `report.plans` only a dry run's writes (see ExportReport).
    """
    schema = options.staging_schema
    report = ExportReport(run_id or new_run_id(), dry_run=dry_run, keep_plans=keep_plans)
    if marts is None or with_dbt_rejections:
        with staging_engine.connect() as conn:
            if marts is None:  # to_push parsed as it streams in: no dict per row held
                rows, bad = _parse(stream_to_push(conn, schema), sharing_parser())
                gone_rows, bad_gone = _parse(read_gone(conn, schema), GoneRow.from_mapping)
            if with_dbt_rejections:
                by_reason, new_by_reason = rejections_by_reason(conn, schema)
                report.rejected_by_dbt, report.rejected_new_by_dbt = by_reason, new_by_reason
    if marts is not None:
        rows, bad = _parse(marts.to_push, sharing_parser())
        gone_rows, bad_gone = _parse(marts.gone, GoneRow.from_mapping)
    norm = options.key_norm(batigest_engine.dialect.name)
    # all gone slots, even with --id-heure: their rows may be adopted by the one pushed
    all_gone_ids = {g.id_heure for g in gone_rows}
    if id_heure is not None:
        rows = [r for r in rows if r.id_heure == id_heure]
        gone_rows = [g for g in gone_rows if g.id_heure == id_heure]
        bad = [p for p in bad if p.id_heure == id_heure]
    for plan in bad_gone:
        log.warning("heures_gone row ignored: %s", plan.reason)

    # the map rows these rows and gone slots consult (their own, the holders of their
    # new keys), not the whole map; `unread`: how many map rows there are besides
    current_map: dict[str, MapRow] = {}
    unread = 0
    if not dry_run or map_exists(staging_engine, schema):
        if not dry_run:
            ensure_map(staging_engine, schema)
        with staging_engine.connect() as conn:
            total = count_map(conn, schema)
            if total:  # an empty map (a first run) has nothing to consult: no 100k-id query
                ids = {r.id_heure for r in rows} | all_gone_ids
                current_map = read_map_of(conn, schema, ids, [r.key for r in rows], norm)
            unread = total - len(current_map)

    # a deleted slot is retracted only once a later complete fetch confirmed it gone
    gone_ids = {g.id_heure for g in gone_rows if g.retractable}
    deleting = options.on_gone == "delete"
    if deleting and (waiting := len(gone_rows) - len(gone_ids)):
        log.info("%d deleted slot(s) kept until a later complete fetch confirms them", waiting)
    accepted, rejected = resolve(rows, current_map, all_gone_ids, norm)
    report.add(bad)
    report.add(rejected)

    statements = options.statements(batigest_engine.dialect.name)
    with batigest_engine.connect() as target, staging_engine.connect() as staging:
        pusher = _Pusher(target, staging, statements, norm, current_map, report, schema)
        done = 0
        for batch in batches(group(accepted, norm), options.batch_size):
            pusher.push(group(batch, norm))
            done += len(batch)
            if progress:
                progress(done, len(accepted))
        if deleting:
            pushed = {r.id_heure for r in rows} | {p.id_heure for p in bad}
            candidates = retract_candidates(gone_ids, current_map, pushed)
            share = options.retract_max_share
            # the pusher kept current_map in step with what it wrote, counting the slots
            # it mapped anew: with `unread`, the map's size now
            mapped = len(current_map) + pusher.added + unread
            refusal = retract_refusal(len(candidates), mapped, share, force)
            if refusal:
                log.warning("%s", refusal)
                report.warnings.append(refusal)
            else:
                for start in range(0, len(candidates), options.batch_size):
                    pusher.retract(candidates[start : start + options.batch_size])
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
        # slots mapped anew by this run, counted rather than kept in `map`: nothing after
        # their batch consults them (adopted and retracted ids are gone slots, never pushed)
        self.added = 0

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
            if m.id_heure in self.map:
                self.map[m.id_heure] = m
            else:
                self.added += 1

    def retract(self, mapped: Sequence[MapRow]) -> None:
        """One retraction batch (`devstack/reliability/crashing.py` counts these calls)."""
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
