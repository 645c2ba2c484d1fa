"""One load: BatiSimply and Batigest into the staging PostgreSQL, then deletion marking.

Order, so that a failure leaves the raw tables untouched:
0. increase the staging generation and commit (`generation.py`): whatever follows, a
   sync knows raw may have changed since its last complete run;
1. snapshot what raw holds (temp tables on our own connection: keys and content hashes,
   digests of the small reference tables);
2. read `Salarie` and `ChantierDef`, fetch and check the projects (short lists, fail
   fast);
3. fetch and classify the time slots chunk by chunk (`batches.py`), then the projects
   they name without a code, asked by id — a slot identical to its raw row (same md5
   under the same version of the checks, compared with the hashes of its chunk, read
   as the chunk comes) is not checked again nor written, only its id kept; from the
   first batch with a new or changed slot, quarantine row or lookup (`unchanged.py`),
   the rows are typed and COPYed into temp tables as they come (`sql_write.py`), unless
   one does not fit (then dlt is handed them all) — any API failure stops here, before
   any write to raw;
4. dlt runs (`dlt_write.py`, its imports with it) only for what our SQL does not write:
   the tables to create or complete (with the projects and no slot row), Batigest's
   changed `Salarie` or `ChantierDef`, rows that do not fit; the staged rows are applied
   in one transaction after `prev_slots` is filled (`Staged.apply`); a pipeline that
   did not run has its bookkeeping written by our SQL (`last_seen_at`, `looked_up_at`,
   `checked_at`, `_dlt_load_id`); the unchanged slots are not written
   (`_fetched_at` is the fetch that last wrote a slot: `stamp_refused`);
5. mark deleted the slots a fetched chunk no longer returns (guarded; the classifier
   knows which raw rows no record had: `SlotTally.missed_ids`), in one transaction;
   record the fetch (`last_fetch.py`: dbt's source freshness);
6. count new / changed / deleted (and deletions confirmed) against the snapshot.
"""

from __future__ import annotations

import functools
import itertools
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from batisync.core.connections import make_staging_engine
from batisync.core.errors import ConnectionLost, first_line, is_connection_loss
from batisync.loader import generation, sql_write, unchanged
from batisync.loader.api.auth import ApiCredentials
from batisync.loader.api.client import BatiSimplyClient, RetryPolicy
from batisync.loader.batches import slot_batches
from batisync.loader.batigest import ChantierCheck, read_chantiers, read_salarie
from batisync.loader.classify import Batch, SlotTally, Tally, split_projects
from batisync.loader.deletions import deletion_guarded, mark_deletions
from batisync.loader.last_fetch import record_fetch
from batisync.loader.pipelines_dir import PIPELINES_DIR_ENV, default_pipelines_dir
from batisync.loader.report import (
    ChunkReport,
    LoadError,
    LoadReport,
    ResourceCounts,
    api_errors,
    resources_text,
)
from batisync.loader.row_generations import stamp_generations
from batisync.loader.staging_state import (
    Before,
    chunk_hashes,
    read_before,
    reference_changes,
    replaced_counts,
    slot_counts,
    stamp_refused,
)
from batisync.loader.tables import (
    PROJECTS,
    PROJECTS_TABLE,
    RAW_BATIGEST,
    RAW_BATISIMPLY,
    SALARIE,
    SALARIE_TABLE,
    SLOTS,
    SLOTS_TABLE,
    slot_hints,
)
from batisync.loader.window import DEFAULT_CHUNK_DAYS, Window, chunk_window

log = logging.getLogger(__name__)


# -- the run -------------------------------------------------------------------------


def _read_salarie(
    batigest_url: str, schema: str, before: Before, report: LoadReport
) -> list[dict[str, Any]] | None:
    """Salarie rows, or None to keep raw_batigest.salarie as it is (suspiciously empty)."""
    try:
        rows = read_salarie(batigest_url, schema)
    except sa.exc.SQLAlchemyError as error:
        # a lost connection names its system for the run's one-line cause
        cause = ConnectionLost("Batigest", error) if is_connection_loss(error) else error
        raise LoadError(
            f"reading {schema}.Salarie from Batigest failed: {first_line(error)}"
        ) from cause
    if not rows and before.salarie:
        report.warn(
            f"Batigest Salarie is empty while {before.salarie} rows were loaded before: "
            f"{SALARIE_TABLE} is kept as it was"
        )
        return None
    return rows


def _read_chantiers(batigest_url: str, schema: str) -> ChantierCheck:
    engine = sa.create_engine(batigest_url)
    try:
        return read_chantiers(engine, schema)
    finally:
        engine.dispose()


def _refresh_projects(rows: list[dict[str, Any]], before: Before, report: LoadReport) -> bool:
    """False to keep raw_batisimply.projects as it is (no usable project in the answer)."""
    if rows or not before.projects:
        return True
    report.warn(
        f"the projects answer holds no usable project while {before.projects} were loaded "
        f"before: {PROJECTS_TABLE} is kept as it was"
    )
    return False


def _read_until_write(
    batches: Iterator[Batch], stored: unchanged.Stored, seen: list[Batch]
) -> bool:
    """`unchanged.read_until_write`, an API failure reported as dlt's extract reports it."""
    with api_errors():
        return unchanged.read_until_write(batches, stored, seen)


def run_load(
    *,
    staging_url: str,
    credentials: ApiCredentials,
    window: Window,
    chunk_days: int = DEFAULT_CHUNK_DAYS,
    delete_guard_ratio: float = 0.5,
    batigest_url: str | None = None,
    batigest_schema: str = "dbo",
    pipelines_dir: str | Path | None = None,
    retry: RetryPolicy | None = None,
    client: BatiSimplyClient | None = None,
    progress: Callable[[int, str], None] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    written_by: str = "load",
    always_dlt: bool = False,
    on_writing: Callable[[], None] | None = None,
) -> LoadReport:
    """Load `window` of time slots, the projects and (with `batigest_url`) `Salarie`.

    Raises `LoadError` or `ApiError` on failure. A failure while fetching (API, Batigest)
    leaves every raw table untouched; a failure in dlt's load step itself may leave one
    dataset loaded and not the other, which the next run repairs (it fetches the whole
    window again). `progress(records_fetched, detail)` is called as slots arrive.
    `written_by` (the command) is kept with the staging generation this load commits
    before anything else. `always_dlt` writes through dlt even what staging already
    holds (the tests compare both ways). `on_writing()` is called once, as soon as the
    load knows it writes (its first record to write: the fetch goes on); the sync starts
    dbt's worker then.
    """
    began = time.monotonic()
    fetched_at = now()
    report = LoadReport(window=window, fetched_at=fetched_at)
    chunks = chunk_window(window, chunk_days)
    workdir = Path(pipelines_dir) if pipelines_dir else default_pipelines_dir(staging_url)
    client = client or BatiSimplyClient(credentials, retry)

    engine = make_staging_engine(staging_url)
    try:
        with engine.connect() as conn:
            report.generation = this_load = generation.advance(conn, written_by)
            before = read_before(conn, chunks)
            # short lists first: a Batigest or API failure shows before the long fetch
            salarie = None
            chantiers: ChantierCheck | None = None
            if batigest_url:
                salarie = _read_salarie(batigest_url, batigest_schema, before, report)
                chantiers = _read_chantiers(batigest_url, batigest_schema)
                log.info("unknown_chantier: %s", chantiers.detail)
            projects, project_tally = split_projects(
                client.projects(), fetched_at, before.quarantine_first_seen
            )
            refresh_projects = _refresh_projects(projects.rows, before, report)

            tally = SlotTally()
            batches = slot_batches(
                client,
                chunks,
                fetched_at,
                tally,
                projects=projects,
                project_tally=project_tally,
                quarantine_first_seen=before.quarantine_first_seen,
                progress=progress,
                previous_slots=lambda chunk: chunk_hashes(conn, chunk),
            )
            stored = unchanged.read_stored(conn)
            project_rows = projects.rows if refresh_projects else None
            seen: list[Batch] = []
            # a table to create or complete: dlt creates it (no slot row), our SQL fills it
            to_create = not unchanged.batisimply_complete(stored, project_rows)
            new_projects = unchanged.batisimply_writes(stored, project_rows)
            api_writes = always_dlt or new_projects or _read_until_write(batches, stored, seen)
            erp_writes = chantiers is not None and (
                always_dlt or unchanged.batigest_writes(stored, salarie, chantiers)
            )
            if (api_writes or erp_writes) and on_writing is not None:
                on_writing()  # at the first record to write: the fetch goes on
            slot_rows = lambda: tally.written > 0  # noqa: E731
            api_batches = itertools.chain(seen, batches) if api_writes else None
            staged = None
            if api_batches is not None and not always_dlt:
                # our SQL, rows COPYed as they come (sql_write.py); dlt writes the
                # projects of a table to create
                by_sql = project_rows if new_projects and not to_create else None
                columns = sql_write.planned_columns(stored.columns, stored.complete)
                staged, api_batches = sql_write.stage(
                    conn, api_batches, columns, fetched_at, by_sql
                )
            if staged is not None and not to_create:
                staged.apply(
                    refresh_projects=refresh_projects,
                    slot_rows=slot_rows,
                    generation=this_load.after,
                )
            creates = staged is not None and to_create
            dlt_batches = [Batch()] if creates else api_batches  # [Batch()]: tables only
            if dlt_batches is not None or erp_writes:
                from batisync.loader import dlt_write  # dlt's imports only for a write

                write_by_dlt = functools.partial(
                    dlt_write.write,
                    conn,
                    staging_url=staging_url,
                    workdir=workdir,
                    fetched_at=fetched_at,
                )
                write_by_dlt(
                    batches=dlt_batches,
                    projects=project_rows,
                    slot_rows=lambda: api_batches is not None and slot_rows(),
                    salarie=salarie,
                    chantiers=chantiers if erp_writes else None,
                    slot_hints=slot_hints(stored.columns.get(SLOTS_TABLE, {})),
                )
            if staged is not None and creates:
                if staged.as_created():
                    staged.apply(
                        refresh_projects=False, slot_rows=slot_rows, generation=this_load.after
                    )
                else:  # dlt made a column otherwise: it writes the rows too
                    write_by_dlt(
                        batches=staged.read_back(),
                        projects=None,
                        slot_rows=slot_rows,
                        salarie=None,
                        chantiers=None,
                    )
            if not api_writes:
                unchanged.mark_batisimply_seen(conn, seen, fetched_at, refresh_projects)
            if chantiers is not None and not erp_writes:
                unchanged.mark_batigest_seen(conn, salarie is not None, chantiers, fetched_at)
            # the unchanged slots are not written: only those refused since (a few)
            stamped = stamp_refused(conn, tally.unchanged_ids, fetched_at)
            # the rows dlt wrote get their `_generation` (row_generations.py), the deletion
            # marks this load's one
            stamp_generations(conn, this_load.after)
            mark_deletions(
                conn,
                tally,
                before,
                delete_guard_ratio,
                fetched_at,
                report,
                now(),
                this_load.after,
            )
            record_fetch(conn, window, fetched_at, tally.fetched)
            report.resources[SLOTS] = slot_counts(conn, tally, report.chunks, fetched_at, stamped)
            report.resources[PROJECTS] = replaced_counts(
                conn, project_tally, refresh_projects, PROJECTS_TABLE, "id::text", "prev_projects"
            )
            if batigest_url:
                n = len(salarie or [])
                report.resources[SALARIE] = replaced_counts(
                    conn,
                    Tally(fetched=n, loaded=n),
                    salarie is not None,
                    SALARIE_TABLE,
                    "code",
                    "prev_salarie",
                )
            report.reference_changed = reference_changes(conn, before)
            conn.commit()
    finally:
        engine.dispose()
    report.duration_s = time.monotonic() - began
    log.info("load done in %.1f s: %s", report.duration_s, resources_text(report))
    return report


__all__ = [
    "PIPELINES_DIR_ENV",
    "RAW_BATIGEST",
    "RAW_BATISIMPLY",
    "ChunkReport",
    "LoadError",
    "LoadReport",
    "ResourceCounts",
    "deletion_guarded",
    "run_load",
]
