"""TdsEndpoint: a TDS 7.4 server on 127.0.0.1 that runs what it receives on PostgreSQL."""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
from collections import Counter
from typing import Any

import sqlalchemy as sa

from devstack.tds import bulk, requests, wire
from devstack.tds import tokens as tk
from devstack.tds.attention import AttentionWatcher
from devstack.tds.login import ENCRYPT_NOT_SUP, parse_login7, prelogin_reply
from devstack.tds.session import Session
from devstack.tds.urls import dbapi_connect, driver_url

log = logging.getLogger(__name__)

KINDS = {
    wire.SQL_BATCH: "sql_batch",
    wire.RPC: "rpc",
    wire.TRANSACTION_MANAGER: "transaction",
    wire.BULK_LOAD: "bulk_load",
}


class RequestStats:
    """Round trips received, by kind (sql_batch, rpc, transaction, bulk_load); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def record(self, kind: str) -> None:
        with self._lock:
            self._counts[kind] += 1

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def by_kind(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def __repr__(self) -> str:
        return f"RequestStats(total={self.total}, {self.by_kind()})"


def pg_conninfo(pg_url: str) -> tuple[str, str]:
    """A libpq conninfo and the database name from a SQLAlchemy/psycopg URL."""
    url = sa.make_url(pg_url)
    parts = {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "dbname": url.database,
    }
    conninfo = " ".join(f"{k}='{v}'" for k, v in parts.items() if v is not None)
    return conninfo, url.database or ""


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        session: Session | None = None
        packet_size = 4096
        try:
            kind, payload = wire.read_message(sock)
            if kind == wire.PRELOGIN:
                wire.write_message(sock, wire.REPLY, prelogin_reply(ENCRYPT_NOT_SUP), packet_size)
                kind, payload = wire.read_message(sock)
            if kind != wire.LOGIN7:
                log.warning("expected LOGIN7, got packet type 0x%02X", kind)
                return
            login = parse_login7(payload)
            log.debug("login %r packet size %s", login, login.packet_size)
            packet_size = min(max(login.packet_size or 4096, 512), 32767)
            try:
                session = Session(self.server.conninfo, self.server.database)
            except Exception as e:  # tell the client why, as SQL Server does (login failed)
                log.exception("session setup failed")
                reply = tk.error(18456, f"Login failed: {e}", 14) + tk.done(status=tk.DONE_ERROR)
                wire.write_message(sock, wire.REPLY, reply, packet_size)
                return
            reply = _login_reply(login.tds_version, session.database, packet_size)
            wire.write_message(sock, wire.REPLY, reply, packet_size)
            while True:
                kind, payload = wire.read_message(sock)
                with AttentionWatcher(sock, session.cancel) as watcher:
                    reply = self._reply(session, kind, payload)
                if watcher.cancelled:  # the client gave up on this reply: acknowledge
                    reply = tk.done(status=tk.DONE_ATTN)
                wire.write_message(sock, wire.REPLY, reply, packet_size)
        except wire.ConnectionClosed:
            pass
        except Exception:
            log.exception("TDS connection failed")
        finally:
            if session is not None:
                session.close()

    def _reply(self, session: Session, kind: int, payload: bytes) -> bytes:
        if kind == wire.ATTENTION:  # it came after the reply was sent: acknowledge it
            return tk.done(status=tk.DONE_ATTN)
        if kind in KINDS:
            self.server.stats.record(KINDS[kind])
        try:
            if kind == wire.SQL_BATCH:
                return requests.sql_batch(session, payload)
            if kind == wire.RPC:
                return requests.rpc(session, payload)
            if kind == wire.BULK_LOAD:
                return bulk.load(session, payload)
            if kind == wire.TRANSACTION_MANAGER:
                return requests.transaction_manager(session, payload)
            text = f"TDS packet type 0x{kind:02X} is not supported by this endpoint"
        except Exception as e:
            log.exception("request failed")
            text = f"tds endpoint: {type(e).__name__}: {e}"
        return tk.error(50000, text) + tk.done(status=tk.DONE_ERROR)


def _login_reply(client_version: int, database: str, packet_size: int) -> bytes:
    version = tk.TDS74 if client_version >= tk.TDS74 else client_version
    return b"".join(
        [
            tk.envchange_text(tk.ENV_DATABASE, database, "master"),
            tk.info(5701, f"Changed database context to '{database}'."),
            tk.envchange_bytes(tk.ENV_COLLATION, tk.COLLATION),
            tk.envchange_text(tk.ENV_LANGUAGE, "us_english"),
            tk.info(5703, "Changed language setting to us_english."),
            tk.loginack(version),
            tk.envchange_text(tk.ENV_PACKET_SIZE, str(packet_size), str(packet_size)),
            tk.done(),
        ]
    )


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, conninfo: str, database: str, stats: RequestStats) -> None:
        self.conninfo, self.database, self.stats = conninfo, database, stats
        super().__init__(("127.0.0.1", port), _Handler)


class TdsEndpoint:
    """`with TdsEndpoint(pg_url) as ep:` a TDS server on ep.host:ep.port over `pg_url`."""

    host = "127.0.0.1"

    def __init__(self, pg_url: str, port: int = 0) -> None:
        self.pg_url = pg_url
        self.conninfo, self.database = pg_conninfo(pg_url)
        self.stats = RequestStats()
        self._server = _Server(port, self.conninfo, self.database, self.stats)
        self.port: int = self._server.server_address[1]
        self._thread: threading.Thread | None = None

    def start(self) -> TdsEndpoint:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() waits at most this long
            name=f"tds-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> TdsEndpoint:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def url(self, driver: str, **query: str) -> str:
        """A SQLAlchemy URL for `driver`: "mssqlpython" or "pyodbc-freetds"."""
        return driver_url(driver, self.host, self.port, self.database, **query)

    def connect(self, driver: str, *, autocommit: bool = True) -> Any:
        """A DBAPI connection with `driver` (mssql_python or pyodbc)."""
        return dbapi_connect(driver, self.host, self.port, self.database, autocommit=autocommit)
