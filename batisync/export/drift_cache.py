"""Which employees the drift stage may skip this run, and what it records for the next
(issue 19; the digests: `drift_digest`).

An employee is skipped when its staging and Batigest digests both equal those its last
full check recorded, under the same settings: its full check would read the same rows
and decide the same: no finding, whatever the memory holds (a restore is kept until the
slot changes upstream; the memory is rewritten the same from the map's hashes). It is
recorded only after a full check that found nothing, with the digests read *before*
that check (a row edited by hand while the check runs then changes the digest the next
run reads, never the one recorded). Under an accent-insensitive collation no employee is
skipped: the stage cannot tell which codes SQL Server takes for one (a miss is safe).

Staging's digests are reused from the last run that computed them while the staging
token read before them is the same (`drift_staging`); Batigest's are read every run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa

from batisync.core.connections import qualified, relation_exists
from batisync.export.drift import DriftFinding, employee_code
from batisync.export.drift_digest import (
    EMPTY,
    Cached,
    StagingSide,
    batigest_digests,
    fingerprint,
    read_cache,
    staging_digests,
    write_cache,
)
from batisync.export.drift_staging import RecordedSide, read_sides, staging_token, write_sides
from batisync.export.drift_store import DRIFT_TABLE, SYNCED_VIEW
from batisync.export.model import KeyNorm
from batisync.export.options import ExportOptions
from batisync.export.statements import BatchStatements

log = logging.getLogger(__name__)


@dataclass
class DriftCache:
    enabled: bool = False  # digests read: the run records what it checks clean
    fingerprint: str = ""
    hits: set[str] = field(default_factory=set)  # employees skipped this run
    skipped_rows: int = 0  # their heures_synced rows (counted as checked)
    now: dict[str, Cached] = field(default_factory=dict)  # this run's digests
    clean: dict[str, Cached] = field(default_factory=dict)  # checked in full, nothing found
    schema: str = "public"  # the staging schema of the digest table
    staging: RecordedSide | None = None  # computed this run: recorded with its token

    def checked(
        self, employees: Iterable[str], findings: Iterable[DriftFinding], norm: KeyNorm
    ) -> None:
        """`employees` were checked in full; those without a finding are clean."""
        flagged = {employee_code(norm, f.key[1]) for f in findings}
        self.clean = {e: self.now[e] for e in employees if e in self.now and e not in flagged}

    def write(self, conn: sa.Connection, run_id: str) -> None:
        if self.enabled:
            hits = sorted(self.hits)
            write_cache(conn, self.schema, hits, self.clean, self.fingerprint, run_id)
        if self.staging is not None:
            write_sides(conn, self.schema, self.staging)


def open_cache(
    conn: sa.Connection,
    target: sa.Connection,
    statements: BatchStatements,
    options: ExportOptions,
    norm: KeyNorm,
    *,
    full: bool = False,
) -> DriftCache:
    """Both sides' digests (one statement each; staging's is reused while its token
    is the one recorded with it) and the employees they let skip (none when `full`:
    every employee is compared, and recorded afresh)."""
    if options.accent_insensitive_keys:
        return DriftCache()
    schema = options.staging_schema
    memory = _memory_table(conn, schema)
    # read before the digests: a change landing after it shows in the next token
    token = staging_token(conn, schema, SYNCED_VIEW, memory, norm)
    reused = None if full or token is None else read_sides(conn, schema, token)
    if reused is not None:
        sides, window = reused.sides, reused.window
        log.info("drift: staging unchanged since the last run (same token): its digests reused")
    else:
        sides, window = staging_digests(conn, schema, SYNCED_VIEW, memory, norm)
    if window is None:
        return DriftCache()
    computed = RecordedSide(token, sides, window) if token and reused is None else None
    batigest = batigest_digests(target, statements, window, norm)
    cache = DriftCache(
        enabled=True,
        fingerprint=fingerprint(
            statements.dialect_name, options.case_sensitive_keys, options.on_drift, window
        ),
        now={
            e: Cached(batigest.get(e, EMPTY), side.digest)
            for e, side in sides.items()
            if _may_record(side)
        },
        schema=schema,
        staging=computed,
    )
    recorded = {} if full else read_cache(conn, schema, cache.fingerprint)
    cache.hits = {e for e, digests in cache.now.items() if recorded.get(e) == digests}
    cache.skipped_rows = sum(sides[e].synced for e in cache.hits)
    if cache.hits:
        log.info(
            "drift: %d employees (%d slots) unchanged on both sides since their last "
            "clean check: not compared again",
            len(cache.hits),
            cache.skipped_rows,
        )
    return cache


def _may_record(side: StagingSide) -> bool:
    return side.synced > 0 and side.unsafe == 0


def _memory_table(conn: sa.Connection, schema: str) -> str | None:
    table = qualified(conn, schema, DRIFT_TABLE)
    return table if relation_exists(conn, table) else None


__all__ = ["DriftCache", "open_cache"]
