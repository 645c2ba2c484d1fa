"""One TDS connection's state on PostgreSQL: statements, parameters, transactions.

Each method returns the reply's tokens. PostgreSQL runs in autocommit mode and this
class sends BEGIN/COMMIT itself, following T-SQL (@@TRANCOUNT, IMPLICIT_TRANSACTIONS).
Inside a transaction every statement runs under a savepoint, so a failed statement
leaves the transaction usable, as in SQL Server (PostgreSQL would abort it).
"""

from __future__ import annotations

import itertools
import logging
import re
import struct
from importlib.resources import files
from typing import Any

import psycopg

from devstack.tds import tokens as tk
from devstack.tds.catalog import Catalog
from devstack.tds.errors import sqlserver_error
from devstack.tds.results import colmetadata, columns_for, row_tokens
from devstack.tds.translate import Translated, TranslationError, render, translate
from devstack.tds.values import Column

log = logging.getLogger(__name__)

VERSION = (
    "Microsoft SQL Server 2022 (RTM) - 16.0.4096.0 (X64) \n\tTDS endpoint for tests "
    "(PostgreSQL behind)\n\tDeveloper Edition (64-bit)"
)
CURCMD = {"SELECT": 0xC1, "INSERT": 0xC3, "DELETE": 0xC4, "UPDATE": 0xC5}

_SET_FLAG = re.compile(r"^SET\s+(IMPLICIT_TRANSACTIONS|NOCOUNT)\s+(ON|OFF)$", re.I)
_SET_OTHER = re.compile(r"^SET\s+(?!@)", re.I)
_BEGIN = re.compile(r"^BEGIN\s+TRAN(SACTION)?(\s+\w+)?$", re.I)
_END = re.compile(
    r"^(IF\s+@@TRANCOUNT\s*>\s*0\s+)?(COMMIT|ROLLBACK)(\s+(TRAN|TRANSACTION|WORK))?(\s+\w+)?$",
    re.I,
)
_WAITFOR = re.compile(r"^WAITFOR\s+DELAY\s+'(\d+):(\d+):(\d+(?:\.\d+)?)'$", re.I)
_NOOP = re.compile(r"^(USE\s|PRINT\s|DBCC\s)", re.I)


class StatementError(Exception):
    def __init__(self, number: int, severity: int, text: str) -> None:
        super().__init__(text)
        self.number, self.severity, self.text = number, severity, text


class Session:
    _tx_ids = itertools.count(1)

    def __init__(self, conninfo: str, database: str) -> None:
        self.conn = psycopg.connect(conninfo, autocommit=True)
        self.conn.execute(files("devstack.tds").joinpath("compat.sql").read_text())
        self.conn.execute("set search_path to dbo, public")
        self.database = database
        self.catalog = Catalog()
        self.cache: dict[tuple[str, int], Translated] = {}
        self.trancount = 0
        self.tx_descriptor = b"\x00" * 8
        self.implicit = False
        self.nocount = False
        self.rowcount = 0
        self.prepared: dict[int, tuple[str, str]] = {}
        self._described: dict[tuple[str, ...], bytes] = {}
        self.bulk_target: tuple[str, str] | None = None  # (schema, table) of INSERT BULK

    def close(self) -> None:
        self.conn.close()

    def cancel(self) -> None:
        """Cancel the running query (called from the attention watcher's thread)."""
        self.conn.cancel_safe()

    # -- transactions ------------------------------------------------------------------
    def begin(self) -> bytes:
        self.trancount += 1
        if self.trancount > 1:
            return b""
        self.conn.execute("BEGIN")
        self.tx_descriptor = struct.pack("<Q", next(self._tx_ids))
        return tk.envchange_bytes(tk.ENV_BEGIN_TRAN, self.tx_descriptor)

    def end(self, commit: bool) -> bytes:
        if self.trancount == 0:
            verb = "COMMIT" if commit else "ROLLBACK"
            raise StatementError(
                3902 if commit else 3903,
                16,
                f"The {verb} TRANSACTION request has no corresponding BEGIN TRANSACTION.",
            )
        if commit and self.trancount > 1:
            self.trancount -= 1
            return b""
        self.trancount = 0
        self.conn.execute("COMMIT" if commit else "ROLLBACK")
        env = tk.ENV_COMMIT_TRAN if commit else tk.ENV_ROLLBACK_TRAN
        return tk.envchange_bytes(env, b"", self.tx_descriptor)

    # -- statements --------------------------------------------------------------------
    def run(self, tsql: str, params: dict[str, Any], done_kind: int, more: bool) -> bytes:
        """One statement: its tokens, ending with DONE/DONEINPROC (ERROR on failure)."""
        status = tk.DONE_MORE if more else 0
        try:
            out, count, cmd = self._run(tsql.strip().rstrip(";").strip(), params)
        except StatementError as e:
            return tk.error(e.number, e.text, e.severity) + tk.done(
                done_kind, status | tk.DONE_ERROR | self.inxact()
            )
        if count is not None and not self.nocount:
            status |= tk.DONE_COUNT
        return out + tk.done(done_kind, status | self.inxact(), count or 0, cmd)

    def inxact(self) -> int:
        return tk.DONE_INXACT if self.trancount else 0

    def _run(self, sql: str, params: dict[str, Any]) -> tuple[bytes, int | None, int]:
        if m := _SET_FLAG.match(sql):
            setattr(self, "implicit" if m[1].upper()[0] == "I" else "nocount", m[2].upper() == "ON")
            return b"", None, 0
        if _SET_OTHER.match(sql) or _NOOP.match(sql) or not sql:
            return b"", None, 0
        if m := _WAITFOR.match(sql):  # takes a while: what cancel tests need
            seconds = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
            self._execute(f"SELECT pg_sleep({seconds})", {}, b"")  # its row is not sent
            return b"", None, 0
        if _BEGIN.match(sql):
            return self.begin(), None, 0
        if m := _END.match(sql):
            if m[1] and self.trancount == 0:
                return b"", None, 0
            return self.end(m[2].upper() == "COMMIT"), None, 0
        env = self.begin() if self.implicit and self.trancount == 0 else b""
        return self._execute(sql, params, env)

    def _translate(self, sql: str) -> Translated:
        self.catalog.refresh(self.conn)
        key = (sql, self.catalog.version)
        if (t := self.cache.get(key)) is None:
            try:
                t = self.cache[key] = translate(sql, self.catalog)
            except (TranslationError, NotImplementedError) as e:
                raise StatementError(102, 15, f"Incorrect syntax (tds endpoint): {e}") from e
        return t

    def _execute(
        self, sql: str, params: dict[str, Any], env: bytes
    ) -> tuple[bytes, int | None, int]:
        t = self._translate(sql)
        values = {**self._globals(), **params}
        pg_sql = render(t, values)
        log.debug("T-SQL %r -> %r", sql, pg_sql)
        savepoint = self.trancount > 0
        try:
            if savepoint:
                self.conn.execute("SAVEPOINT tds_statement")
            cur = self.conn.execute(pg_sql)
            rows = cur.fetchall() if cur.description else []
            if savepoint:
                self.conn.execute("RELEASE SAVEPOINT tds_statement")
        except psycopg.Error as e:
            if savepoint:
                self.conn.execute("ROLLBACK TO SAVEPOINT tds_statement")
            log.debug("PostgreSQL error on %r: %s", pg_sql, e)
            raise StatementError(*sqlserver_error(e)) from e
        finally:
            if t.ddl:
                self.catalog.invalidate()
        cmd = CURCMD.get(sql.split(None, 1)[0].upper(), 0) if sql else 0
        if cur.description is None:
            self.rowcount = max(cur.rowcount, 0)
            # SELECT … INTO counts its rows, as SQL Server does; other DDL has no count
            counted = cmd in (0xC1, 0xC3, 0xC4, 0xC5) or (cur.rowcount >= 0 and not t.ddl)
            return env, self.rowcount if counted else None, cmd
        cols = columns_for(cur.description, t.names, rows)
        self.rowcount = len(rows)
        return env + colmetadata(cols) + row_tokens(cols, rows), len(rows), 0xC1

    def describe_parameters(self, names: list[str]) -> bytes:
        """sp_describe_undeclared_parameters: every parameter as nvarchar(4000).

        ODBC Driver 18 asks it (SQLDescribeParam) to bind NULLs; NULL needs no real type
        here, and answering it saves a failed round trip per parameter."""
        unique = tuple(dict.fromkeys(n.lower() for n in names))
        if (cached := self._described.get(unique)) is None:
            cached = self._described[unique] = self._describe(unique)
        return cached

    @staticmethod
    def _describe(unique: tuple[str, ...]) -> bytes:
        rows = [(i + 1, n, 231, "nvarchar(4000)", 8000, 0, 0, 231) for i, n in enumerate(unique)]
        cols = [
            Column("parameter_ordinal", "int", size=4),
            Column("name", "text", size=256),
            Column("suggested_system_type_id", "int", size=4),
            Column("suggested_system_type_name", "text", size=512),
            Column("suggested_max_length", "int", size=2),
            Column("suggested_precision", "int", size=1),
            Column("suggested_scale", "int", size=1),
            Column("suggested_user_type_id", "int", size=4),
        ]
        done = tk.done(tk.DONEINPROC, tk.DONE_MORE | tk.DONE_COUNT, len(rows), 0xC1)
        return colmetadata(cols) + row_tokens(cols, rows) + done

    def _globals(self) -> dict[str, Any]:
        return {
            "@@rowcount": self.rowcount,
            "@@trancount": self.trancount,
            "@@version": VERSION,
            "@@spid": self.conn.info.backend_pid % 32768,
            "@@servername": tk.SERVER_NAME,
            "@@servicename": "MSSQLSERVER",
            "@@language": "us_english",
            "@@identity": None,
            "@@error": 0,
            "@@options": 5496,
            "@@max_precision": 38,
            "@@microsoftversion": 0x10001000,
            "@@datefirst": 7,
            "@@lock_timeout": -1,
            "@@textsize": 2147483647,
        }
