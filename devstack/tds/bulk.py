"""Bulk copy (mssql-python's cursor.bulkcopy): metadata probe, INSERT BULK, BULK_LOAD.

The client first asks for the destination's columns (a fixed T-SQL batch ending in
sp_tablecollations_100), then sends `INSERT BULK table (...)`, then one BULK_LOAD
message: COLMETADATA, ROW tokens, DONE. Rows go into PostgreSQL with COPY.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg import sql

from devstack.tds import tokens as tk
from devstack.tds.errors import sqlserver_error
from devstack.tds.results import colmetadata, row_tokens
from devstack.tds.session import Session, StatementError
from devstack.tds.values import IMAGE, NTEXT, TEXT, Column, read_type_info, read_value
from devstack.tds.wire import Reader

_METADATA = re.compile(r"sp_tablecollations_100\s+N?'([^']+)'", re.I)
_INSERT_BULK = re.compile(r"^\s*INSERT\s+BULK\s+(\S+)", re.I)
_COLUMNS = """
select a.attname, a.atttypid, a.atttypmod from pg_attribute a
where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped order by a.attnum
"""
INT_SIZES = {21: 2, 23: 4, 20: 8}
SIMPLE = {1114: "datetime", 1184: "datetimeoffset", 1082: "date", 1083: "time", 16: "bit"}
SIMPLE |= {700: "float", 701: "float"}


def _relation(session: Session, name: str) -> tuple[str, str]:
    parts = [p.strip('[]"') for p in name.split(".")]
    session.catalog.refresh(session.conn)
    rel = session.catalog.relation(parts[-2] if len(parts) > 1 else None, parts[-1])
    if rel is None:
        raise StatementError(208, 16, f"Invalid object name '{name}'.")
    return rel.schema, rel.name


def _table_columns(session: Session, schema: str, table: str) -> list[Column]:
    regclass = sql.Identifier(schema, table).as_string(session.conn)
    cols = []
    for name, oid, typmod in session.conn.execute(_COLUMNS, (regclass,)):
        if oid in INT_SIZES:
            cols.append(Column(name, "int", size=INT_SIZES[oid]))
        elif oid == 1700:
            p, s = ((typmod - 4) >> 16, (typmod - 4) & 0xFFFF) if typmod > 0 else (38, 10)
            cols.append(Column(name, "decimal", precision=p, scale=s))
        elif oid in SIMPLE:
            cols.append(Column(name, SIMPLE[oid]))
        elif oid == 17:
            cols.append(Column(name, "binary", size=0xFFFF))
        elif oid in (1042, 1043) and 0 < typmod - 4 <= 4000:
            cols.append(Column(name, "text", size=2 * (typmod - 4)))
        else:
            cols.append(Column(name, "text", size=0xFFFF))
    return cols


def batch(session: Session, text: str) -> bytes | None:
    """The reply to a bulk copy's SQL batch, or None when `text` is something else."""
    try:
        if m := _METADATA.search(text):
            return _metadata(session, *_relation(session, m[1]))
        if m := _INSERT_BULK.match(text):
            session.bulk_target = _relation(session, m[1])
            return tk.done()
    except StatementError as e:
        return tk.error(e.number, e.text, e.severity) + tk.done(status=tk.DONE_ERROR)
    return None


def _metadata(session: Session, schema: str, table: str) -> bytes:
    """@@TRANCOUNT, the table's columns (FMTONLY: no rows), then their collations."""
    more = tk.DONE_MORE
    trancount = [Column("", "int", size=4)]
    out = colmetadata(trancount) + row_tokens(trancount, [(session.trancount,)])
    out += tk.done(status=more | tk.DONE_COUNT, rowcount=1, curcmd=0xC1)
    out += colmetadata(_table_columns(session, schema, table)) + tk.done(status=more)
    coll = [Column("colid", "int", size=4), Column("name", "text", size=256)]
    coll += [Column(f"tds_collation_{v}", "binary", size=5) for v in (28, 90, 100)]
    coll += [Column(f"collation_{v}", "text", size=256) for v in (28, 90, 100)]
    rows = []
    for i, c in enumerate(_table_columns(session, schema, table), start=1):
        textual = c.kind == "text"
        name = "Latin1_General_CI_AS" if textual else None
        rows.append((i, c.name, *([tk.COLLATION if textual else None] * 3), name, name, name))
    out += colmetadata(coll) + row_tokens(coll, rows)
    out += tk.done(tk.DONEINPROC, more | tk.DONE_COUNT, len(rows), 0xC1)
    return out + tk.returnstatus(0) + tk.done(tk.DONEPROC, more) + tk.done()  # batch's end


def load(session: Session, payload: bytes) -> bytes:
    """A BULK_LOAD message: its rows copied into the INSERT BULK table."""
    if session.bulk_target is None:
        return tk.error(4804, "BULK LOAD without INSERT BULK.") + tk.done(status=tk.DONE_ERROR)
    schema, table = session.bulk_target
    session.bulk_target = None
    names, rows = _parse(payload)
    columns = [session.catalog.relation(schema, table).columns.get(n.lower(), n) for n in names]
    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(schema, table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    savepoint = session.trancount > 0
    try:
        if savepoint:
            session.conn.execute("SAVEPOINT tds_bulk")
        with session.conn.cursor().copy(copy_sql) as copy:
            for row in rows:
                copy.write_row([int(v) if isinstance(v, bool) else v for v in row])
        if savepoint:
            session.conn.execute("RELEASE SAVEPOINT tds_bulk")
    except psycopg.Error as e:
        if savepoint:
            session.conn.execute("ROLLBACK TO SAVEPOINT tds_bulk")
        number, severity, text = sqlserver_error(e)
        return tk.error(number, text, severity) + tk.done(status=tk.DONE_ERROR)
    return tk.done(status=tk.DONE_COUNT | session.inxact(), rowcount=len(rows))


def _parse(payload: bytes) -> tuple[list[str], list[list[Any]]]:
    r = Reader(payload)
    if r.u8() != 0x81:
        raise ValueError("BULK_LOAD must start with COLMETADATA")
    types, names = [], []
    for _ in range(r.u16()):
        r.take(6)  # user type, flags
        t = read_type_info(r)
        if t.code in (TEXT, NTEXT, IMAGE):
            for _part in range(r.u8()):
                r.us_varchar()
        types.append(t)
        names.append(r.b_varchar())
    rows = []
    while not r.at_end():
        token = r.u8()
        if token == 0xD1:
            rows.append([read_value(r, t) for t in types])
        elif token == 0xD2:  # NBCROW: a bitmap of the NULL columns, then the others
            bitmap = r.take((len(types) + 7) // 8)
            rows.append(
                [
                    None if bitmap[i // 8] >> (i % 8) & 1 else read_value(r, t)
                    for i, t in enumerate(types)
                ]
            )
        else:  # DONE: the end
            break
    return names, rows
