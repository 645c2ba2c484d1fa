"""`sync_runs` rows for the commands that are not a sync but act on the same systems:
`reconcile` and `debug-heures --apply`. Run while the caller holds the sync lock.

The command sets its outcome with `Recording.finish`; an exception (a failure, or
SIGTERM / SIGINT, which raise `Interrupted` inside the block) is recorded as `failed` /
`interrupted` and raised again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from batisync.core.errors import first_line
from batisync.core.ids import new_run_id
from batisync.core.logs import redact
from batisync.orchestrate import runs
from batisync.orchestrate.interrupt import interruptible
from batisync.orchestrate.summary import RunSummary, StageReport, StageResult

log = logging.getLogger(__name__)


@dataclass
class Recording:
    command: str
    run_id: str
    started_at: datetime
    dry_run: bool
    now: Callable[[], datetime]
    summary: RunSummary | None = None

    def finish(
        self, status: str, stage: str, report: StageReport | None, error: str | None = None
    ) -> RunSummary:
        """The command's outcome: one stage (named as the summary reads it: `export`
        for debug-heures, so its SuiviMO counts land in the counts columns)."""
        finished = self.now()
        duration = (finished - self.started_at).total_seconds()
        result = StageResult(stage, "failed" if error else "ok", duration, report, error)
        self.summary = RunSummary(
            self.run_id,
            status,
            self.started_at,
            finished,
            [result],
            error=error,
            dry_run=self.dry_run,
            command=self.command,
        )
        return self.summary


@contextlib.contextmanager
def recorded(
    conninfo: Mapping[str, Any],
    schema: str,
    command: str,
    *,
    dry_run: bool = False,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Iterator[Recording]:
    started = now()
    recording = Recording(command, new_run_id(started), started, dry_run, now)
    params = {k: v for k, v in conninfo.items() if v is not None}
    with psycopg.connect(autocommit=True, **params) as conn:
        runs.ensure_table(conn, schema)
        runs.mark_abandoned(conn, schema)
        runs.start_run(
            conn,
            schema,
            run_id=recording.run_id,
            started_at=started,
            host=socket.gethostname(),
            pid=os.getpid(),
            dry_run=dry_run,
            command=command,
        )
        try:
            with interruptible():
                yield recording
        except BaseException as error:
            interrupted = isinstance(error, KeyboardInterrupt)
            cause = f"interrupted by {error}" if interrupted else redact(first_line(error))
            summary = recording.finish(
                "interrupted" if interrupted else "failed", command, None, cause
            )
            _finish(conn, schema, summary)
            raise
        summary = recording.summary or recording.finish("success", command, None)
        _finish(conn, schema, summary)


def _finish(conn: psycopg.Connection[Any], schema: str, summary: RunSummary) -> None:
    try:
        runs.finish_run(conn, schema, summary)
    except psycopg.Error as error:  # the command is done; only its record is lost
        log.warning("could not record the run in sync_runs: %s", first_line(error))


__all__ = ["Recording", "recorded"]
