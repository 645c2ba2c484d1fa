"""One sync at a time, across hosts: a PostgreSQL advisory lock on the staging database.

The lock is a session lock held by a dedicated connection for the whole run, so it
goes away by itself if the process dies (the server ends the session). A second
run does not wait: it raises `LockBusy` naming the holder (its `application_name`,
client address and backend start, read from `pg_locks` and `pg_stat_activity`).
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from batisync.core.errors import EXIT_BUSY, BatisyncError

# The two int4 keys of pg_try_advisory_lock(int, int): a namespace and the lock itself.
# In pg_locks a two-key advisory lock shows as classid=key1, objid=key2, objsubid=2.
LOCK_NAMESPACE = 0x62617469  # "bati"
SYNC_LOCK = 1


@dataclass(frozen=True)
class LockHolder:
    pid: int
    application_name: str
    client_addr: str | None
    backend_start: datetime | None

    def describe(self) -> str:
        parts = [f"server pid {self.pid}", f"from {self.client_addr or 'a local socket'}"]
        if self.backend_start:
            parts.append(f"connected since {self.backend_start:%Y-%m-%d %H:%M:%S%z}")
        return f"'{self.application_name or '?'}' ({', '.join(parts)})"


class LockBusy(BatisyncError):
    """Another sync holds the lock; nothing was done."""

    exit_code = EXIT_BUSY

    def __init__(self, holder: LockHolder | None) -> None:
        who = holder.describe() if holder else "a session that just ended"
        super().__init__(f"another sync holds the lock: {who}")
        self.holder = holder


def application_name(command: str = "sync") -> str:
    """How this process shows in pg_stat_activity (max 63 bytes)."""
    return f"batisync {command}@{socket.gethostname()} pid {os.getpid()}"[:63]


_HOLDER_SQL = """
select a.pid, coalesce(a.application_name, ''), host(a.client_addr), a.backend_start
from pg_locks l
join pg_stat_activity a on a.pid = l.pid
where l.locktype = 'advisory' and l.granted
  and l.database = (select oid from pg_database where datname = current_database())
  and l.classid = %s and l.objid = %s and l.objsubid = 2
"""


def lock_holder(conn: psycopg.Connection[Any], key: int = SYNC_LOCK) -> LockHolder | None:
    row = conn.execute(_HOLDER_SQL, (LOCK_NAMESPACE, key)).fetchone()
    if row is None:
        return None
    return LockHolder(pid=row[0], application_name=row[1], client_addr=row[2], backend_start=row[3])


@contextlib.contextmanager
def sync_lock(
    conninfo: Mapping[str, Any],
    *,
    key: int = SYNC_LOCK,
    name: str | None = None,
) -> Iterator[psycopg.Connection[Any]]:
    """Hold the sync lock for the `with` block, or raise `LockBusy` at once.

    `conninfo` holds psycopg connect keywords (host, port, user, password, dbname).
    Yields the lock's own connection (autocommit): use it for nothing long-running.
    """
    params = {k: v for k, v in conninfo.items() if v is not None}
    params.setdefault("application_name", name or application_name())
    # keepalives: a holder whose host vanished is noticed and its lock released
    params.setdefault("keepalives", 1)
    params.setdefault("keepalives_idle", 60)
    conn = psycopg.connect(autocommit=True, **params)
    try:
        got = conn.execute("select pg_try_advisory_lock(%s, %s)", (LOCK_NAMESPACE, key)).fetchone()
        if not got or not got[0]:
            raise LockBusy(lock_holder(conn, key))
        try:
            yield conn
        finally:
            with contextlib.suppress(psycopg.Error):
                conn.execute("select pg_advisory_unlock(%s, %s)", (LOCK_NAMESPACE, key))
    finally:
        conn.close()


__all__ = ["LockBusy", "LockHolder", "application_name", "lock_holder", "sync_lock"]
