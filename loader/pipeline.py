"""One load: BatiSimply and Batigest into the staging PostgreSQL, then deletion marking.

Order, so that a failure leaves the raw tables untouched:
1. snapshot what raw holds (temp tables on our own connection: keys and content hashes);
2. read `Salarie`, fetch and check the projects (short lists, fail fast);
3. extract the time slots (dlt streams them chunk by chunk) — any API failure stops here;
4. normalize and load both dlt pipelines;
5. mark deleted the slots a fetched chunk no longer returns (guarded), in one transaction;
6. count new / changed / deleted against the snapshot.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
import sqlalchemy as sa
from dlt.pipeline.exceptions import PipelineStepFailed

from loader.client import ApiCredentials, ApiError, BatiSimplyClient, RetryPolicy
from loader.source import (
    PROJECTS,
    QUARANTINE,
    SALARIE,
    SLOTS,
    SlotTally,
    Tally,
    batisimply,
    read_salarie,
    salarie_resource,
    split_projects,
)
from loader.window import DEFAULT_CHUNK_DAYS, Window, chunk_window

log = logging.getLogger("loader.pipeline")

RAW_BATISIMPLY = "raw_batisimply"
RAW_BATIGEST = "raw_batigest"
PIPELINE_BATISIMPLY = "batisync_batisimply"
PIPELINE_BATIGEST = "batisync_batigest"
PIPELINES_DIR_ENV = "LOADER_PIPELINES_DIR"


class LoadError(RuntimeError):
    """The load failed; raw tables hold what the previous successful load left."""


# -- report ----------------------------------------------------------------------------


@dataclass
class ResourceCounts:
    fetched: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    deleted: int = 0
    quarantined: int = 0
    repeated: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    refreshed: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "fetched": self.fetched,
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "quarantined": self.quarantined,
            "repeated": self.repeated,
            "quarantine_reasons": dict(sorted(self.reasons.items())),
            "refreshed": self.refreshed,
        }


@dataclass
class ChunkReport:
    window: Window
    fetched: int
    live_before: int
    guarded: bool = False
    deleted: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.window.api_params()["startDate"],
            "end": self.window.api_params()["endDate"],
            "fetched": self.fetched,
            "live_before": self.live_before,
            "guarded": self.guarded,
            "deleted": self.deleted,
        }


@dataclass
class LoadReport:
    window: Window
    fetched_at: datetime
    resources: dict[str, ResourceCounts] = field(default_factory=dict)
    chunks: list[ChunkReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    def warn(self, message: str) -> None:
        log.warning("%s", message)
        self.warnings.append(message)

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": self.window.api_params(),
            "fetched_at": self.fetched_at.isoformat(),
            "resources": {name: c.to_dict() for name, c in self.resources.items()},
            "chunks": [c.to_dict() for c in self.chunks],
            "warnings": list(self.warnings),
            "duration_s": round(self.duration_s, 3),
        }


# -- decisions (pure) ------------------------------------------------------------------


def deletion_guarded(fetched: int, live_before: int, ratio: float) -> str | None:
    """Why deletions must not be marked in a chunk, or None when it is safe to."""
    if fetched == 0:
        return "the answer holds no slot"
    if fetched < ratio * live_before:
        return f"the answer holds {fetched} records, fewer than {ratio:g} x {live_before} loaded"
    return None


def default_pipelines_dir(staging_url: str) -> Path:
    """`$LOADER_PIPELINES_DIR`, else a temp folder per staging database (dlt state is
    rebuilt from the destination, so losing it costs nothing)."""
    if env := os.environ.get(PIPELINES_DIR_ENV):
        return Path(env)
    url = sa.make_url(staging_url)
    identity = f"{url.host}:{url.port}/{url.database}".encode()
    return Path(tempfile.gettempdir()) / f"batisync-dlt-{hashlib.md5(identity).hexdigest()[:10]}"


def dlt_credentials(staging_url: str) -> str:
    """The staging URL as dlt's postgres credentials (psycopg2 DSN; password may be empty)."""
    url = sa.make_url(staging_url).set(drivername="postgresql")
    if url.password is None:
        url = url.set(password="")  # dlt requires the field, trust auth needs none
    return url.render_as_string(hide_password=False)


# -- the staging side (SQL) --------------------------------------------------------------

SLOTS_TABLE = f"{RAW_BATISIMPLY}.{SLOTS}"
PROJECTS_TABLE = f"{RAW_BATISIMPLY}.{PROJECTS}"
QUARANTINE_TABLE = f"{RAW_BATISIMPLY}.{QUARANTINE}"
SALARIE_TABLE = f"{RAW_BATIGEST}.{SALARIE}"

# temp table -> (query filling it from a raw table, the raw table)
_SNAPSHOTS = {
    "prev_slots": (
        f"select id, _content_hash, _deleted_at is not null from {SLOTS_TABLE}",
        SLOTS_TABLE,
    ),
    "prev_projects": (f"select id::text, _content_hash from {PROJECTS_TABLE}", PROJECTS_TABLE),
    "prev_salarie": (f"select code, _content_hash from {SALARIE_TABLE}", SALARIE_TABLE),
}


@dataclass
class _Before:
    """What raw held before this load."""

    live_slots: list[int]  # per chunk: slots not marked deleted
    quarantine_first_seen: dict[str, datetime]
    projects: int
    salarie: int


def _exists(conn: sa.Connection, table: str) -> bool:
    return conn.execute(sa.text("select to_regclass(:t)"), {"t": table}).scalar() is not None


def _read_before(conn: sa.Connection, chunks: list[Window]) -> _Before:
    """Snapshot keys and content hashes in temp tables of this session, and counts."""
    conn.execute(sa.text(f"drop table if exists {', '.join(_SNAPSHOTS)}"))
    conn.execute(sa.text("create temp table prev_slots (id text primary key, h text, gone bool)"))
    conn.execute(sa.text("create temp table prev_projects (key text, h text)"))
    conn.execute(sa.text("create temp table prev_salarie (key text, h text)"))
    for temp, (query, table) in _SNAPSHOTS.items():
        if _exists(conn, table):
            conn.execute(sa.text(f"insert into {temp} {query}"))
    slots = _exists(conn, SLOTS_TABLE)
    before = _Before(
        live_slots=[_live_slots(conn, chunk) if slots else 0 for chunk in chunks],
        quarantine_first_seen=_quarantine_first_seen(conn),
        projects=conn.execute(sa.text("select count(*) from prev_projects")).scalar_one(),
        salarie=conn.execute(sa.text("select count(*) from prev_salarie")).scalar_one(),
    )
    conn.commit()  # keep no lock on the raw tables while dlt alters them
    return before


def _live_slots(conn: sa.Connection, chunk: Window) -> int:
    query = (
        f"select count(*) from {SLOTS_TABLE} where _deleted_at is null "
        "and start_date::timestamptz between :lo and :hi"
    )
    return conn.execute(sa.text(query), {"lo": chunk.start, "hi": chunk.end}).scalar_one()


def _quarantine_first_seen(conn: sa.Connection) -> dict[str, datetime]:
    if not _exists(conn, QUARANTINE_TABLE):
        return {}
    query = f"select quarantine_key, first_seen_at from {QUARANTINE_TABLE}"
    return {key: seen for key, seen in conn.execute(sa.text(query))}


_MARK_DELETED = f"""
update {SLOTS_TABLE} t set _deleted_at = :now
where t._deleted_at is null
  and t._fetched_at <> :fetched_at
  and t.start_date::timestamptz between :lo and :hi
  and not exists (
    select 1 from {QUARANTINE_TABLE} q
    where q.resource = :resource and q.record_id = t.id and q.last_seen_at = :fetched_at)
"""


def _mark_deleted(conn: sa.Connection, chunk: Window, fetched_at: datetime, now: datetime) -> int:
    """Slots of `chunk` loaded before, alive, and absent from this run's answers (where a
    quarantined record with their id counts as present: it exists upstream)."""
    params = {"now": now, "fetched_at": fetched_at, "lo": chunk.start, "hi": chunk.end}
    return conn.execute(sa.text(_MARK_DELETED), {**params, "resource": SLOTS}).rowcount


_SLOT_CHANGES = f"""
select count(*) filter (where p.id is null),
       count(*) filter (where p.id is not null
                              and (p.h is distinct from t._content_hash or p.gone)),
       count(*) filter (where p.id is not null and p.h = t._content_hash and not p.gone)
from {SLOTS_TABLE} t left join prev_slots p on p.id = t.id
where t._fetched_at = :fetched_at
"""

_REPLACED_CHANGES = """
with cur as (select {key} as key, _content_hash as h from {table})
select count(*) filter (where p.key is null),
       count(*) filter (where p.key is not null and c.key is not null and p.h is distinct from c.h),
       count(*) filter (where p.key is not null and c.key is not null and p.h = c.h),
       count(*) filter (where c.key is null)
from cur c full join {prev} p on p.key = c.key
"""


def _slot_counts(
    conn: sa.Connection, tally: SlotTally, chunks: list[ChunkReport], fetched_at: datetime
) -> ResourceCounts:
    """Counts of the slots this run loaded (`_fetched_at`), against the snapshot."""
    new, changed, unchanged = conn.execute(sa.text(_SLOT_CHANGES), {"fetched_at": fetched_at}).one()
    return ResourceCounts(
        fetched=tally.fetched,
        new=new,
        changed=changed,
        unchanged=unchanged,
        deleted=sum(c.deleted for c in chunks),
        quarantined=sum(tally.quarantined.values()),
        repeated=tally.repeated,
        reasons=dict(tally.quarantined),
    )


def _replaced_counts(
    conn: sa.Connection, tally: Tally, refreshed: bool, table: str, key: str, prev: str
) -> ResourceCounts:
    """Counts of a table replaced by this run (deleted: gone from the answer)."""
    counts = ResourceCounts(
        fetched=tally.fetched,
        quarantined=sum(tally.quarantined.values()),
        repeated=tally.repeated,
        reasons=dict(tally.quarantined),
        refreshed=refreshed,
    )
    if refreshed:
        query = _REPLACED_CHANGES.format(key=key, table=table, prev=prev)
        counts.new, counts.changed, counts.unchanged, counts.deleted = conn.execute(
            sa.text(query)
        ).one()
    return counts


# -- dlt -----------------------------------------------------------------------------


def _pipeline(name: str, dataset: str, staging_url: str, pipelines_dir: Path) -> dlt.Pipeline:
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")  # no phoning home
    # dlt gzips its intermediate files by default: a third of the run for nothing here
    os.environ.setdefault("DATA_WRITER__DISABLE_COMPRESSION", "true")
    pipeline = dlt.pipeline(
        pipeline_name=name,
        pipelines_dir=str(pipelines_dir),
        destination=dlt.destinations.postgres(credentials=dlt_credentials(staging_url)),
        dataset_name=dataset,
        progress=None,
    )
    _abort_pending(pipeline)
    return pipeline


def _abort_pending(pipeline: dlt.Pipeline) -> None:
    # a package left by a failed run is stale: every run fetches its whole window again
    if pipeline.has_pending_data:
        pipeline.abort_packages()


def _root_cause(error: BaseException) -> BaseException:
    """The first ApiError (or the innermost error) under dlt's wrappers."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        if isinstance(current, ApiError):
            return current
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen[-1]


def _extract(pipeline: dlt.Pipeline, data: Any, what: str) -> None:
    # default file format (insert_values): dlt's csv would load "" as NULL
    try:
        pipeline.extract(data)
    except PipelineStepFailed as error:
        _abort_pending(pipeline)
        cause = _root_cause(error)
        raise LoadError(f"{what}: {cause}") from cause


def _load(pipeline: dlt.Pipeline, what: str) -> None:
    try:
        pipeline.normalize()
        pipeline.load(raise_on_failed_jobs=True)
    except PipelineStepFailed as error:
        _abort_pending(pipeline)
        cause = _root_cause(error)
        raise LoadError(f"{what}: {type(cause).__name__}: {cause}") from cause


# -- the run -------------------------------------------------------------------------


def _read_salarie(
    batigest_url: str, schema: str, before: _Before, report: LoadReport
) -> list[dict[str, Any]] | None:
    """Salarie rows, or None to keep raw_batigest.salarie as it is (suspiciously empty)."""
    try:
        rows = read_salarie(batigest_url, schema)
    except sa.exc.SQLAlchemyError as error:
        cause = getattr(error, "orig", None) or error
        first = (str(cause).strip().splitlines() or [""])[0]
        raise LoadError(
            f"reading {schema}.Salarie from Batigest failed: {type(cause).__name__}: {first}"
        ) from error
    if not rows and before.salarie:
        report.warn(
            f"Batigest Salarie is empty while {before.salarie} rows were loaded before: "
            f"{SALARIE_TABLE} is kept as it was"
        )
        return None
    return rows


def _refresh_projects(rows: list[dict[str, Any]], before: _Before, report: LoadReport) -> bool:
    """False to keep raw_batisimply.projects as it is (no usable project in the answer)."""
    if rows or not before.projects:
        return True
    report.warn(
        f"the projects answer holds no usable project while {before.projects} were loaded "
        f"before: {PROJECTS_TABLE} is kept as it was"
    )
    return False


def _mark_deletions(
    conn: sa.Connection,
    tally: SlotTally,
    before: _Before,
    guard_ratio: float,
    fetched_at: datetime,
    report: LoadReport,
    now: datetime,
) -> None:
    with conn.begin():
        for chunk_tally, live in zip(tally.chunks, before.live_slots, strict=True):
            chunk = ChunkReport(chunk_tally.window, chunk_tally.fetched, live)
            report.chunks.append(chunk)
            if why := deletion_guarded(chunk.fetched, live, guard_ratio):
                chunk.guarded = True
                report.warn(f"no deletion marked in {chunk.window}: {why}")
            else:
                chunk.deleted = _mark_deleted(conn, chunk.window, fetched_at, now)


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
) -> LoadReport:
    """Load `window` of time slots, the projects and (with `batigest_url`) `Salarie`.

    Raises `LoadError` or `ApiError` on failure. A failure while fetching (API, Batigest)
    leaves every raw table untouched; a failure in dlt's load step itself may leave one
    dataset loaded and not the other, which the next run repairs (it fetches the whole
    window again). `progress(records_fetched, detail)` is called as slots arrive.
    """
    began = time.monotonic()
    fetched_at = now()
    report = LoadReport(window=window, fetched_at=fetched_at)
    chunks = chunk_window(window, chunk_days)
    workdir = Path(pipelines_dir) if pipelines_dir else default_pipelines_dir(staging_url)
    client = client or BatiSimplyClient(credentials, retry)

    engine = sa.create_engine(staging_url)
    try:
        with engine.connect() as conn:
            before = _read_before(conn, chunks)
            # short lists first: a Batigest or API failure shows before the long fetch
            salarie = None
            if batigest_url:
                salarie = _read_salarie(batigest_url, batigest_schema, before, report)
            projects, project_tally = split_projects(
                client.projects(), fetched_at, before.quarantine_first_seen
            )
            refresh_projects = _refresh_projects(projects.rows, before, report)

            tally = SlotTally()
            source = batisimply(
                client,
                chunks,
                fetched_at,
                tally,
                quarantine_first_seen=before.quarantine_first_seen,
                projects=projects.rows if refresh_projects else None,
                quarantined=projects.bad,
                progress=progress,
            )
            api_pipeline = _pipeline(PIPELINE_BATISIMPLY, RAW_BATISIMPLY, staging_url, workdir)
            _extract(api_pipeline, source, "BatiSimply extract failed")
            erp_pipeline = None
            if salarie is not None:
                erp_pipeline = _pipeline(PIPELINE_BATIGEST, RAW_BATIGEST, staging_url, workdir)
                _extract(erp_pipeline, salarie_resource(salarie), "Batigest extract failed")

            _load(api_pipeline, f"loading {RAW_BATISIMPLY} failed")
            if erp_pipeline is not None:
                _load(erp_pipeline, f"loading {RAW_BATIGEST} failed")

            _mark_deletions(conn, tally, before, delete_guard_ratio, fetched_at, report, now())
            report.resources[SLOTS] = _slot_counts(conn, tally, report.chunks, fetched_at)
            report.resources[PROJECTS] = _replaced_counts(
                conn, project_tally, refresh_projects, PROJECTS_TABLE, "id::text", "prev_projects"
            )
            if batigest_url:
                n = len(salarie or [])
                report.resources[SALARIE] = _replaced_counts(
                    conn,
                    Tally(fetched=n, loaded=n),
                    salarie is not None,
                    SALARIE_TABLE,
                    "code",
                    "prev_salarie",
                )
            conn.commit()
    finally:
        engine.dispose()
    report.duration_s = time.monotonic() - began
    log.info("load done in %.1f s: %s", report.duration_s, report.to_dict()["resources"])
    return report


__all__ = [
    "PIPELINES_DIR_ENV",
    "RAW_BATIGEST",
    "RAW_BATISIMPLY",
    "ChunkReport",
    "LoadError",
    "LoadReport",
    "ResourceCounts",
    "default_pipelines_dir",
    "deletion_guarded",
    "dlt_credentials",
    "run_load",
]
