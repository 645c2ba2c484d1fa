"""The three request kinds after login: SQL batch, RPC, transaction manager."""

from __future__ import annotations

import itertools
import logging
import re
import struct
from typing import Any

from devstack.tds import bulk
from devstack.tds import tokens as tk
from devstack.tds.rpc import Call, parse_rpc
from devstack.tds.session import Session
from devstack.tds.values import INTN
from devstack.tds.wire import Reader, b_varchar

log = logging.getLogger(__name__)
_PARAM_NAMES = re.compile(r"(@\w+)")
_handles = itertools.count(1)


def split_statements(text: str) -> list[str]:
    """Split on `;` outside quotes, brackets and comments."""
    parts, start, i, n = [], 0, 0, len(text)
    while i < n:
        c = text[i]
        if c in "'\"[":
            close = "]" if c == "[" else c
            i += 1
            while i < n and not (text[i] == close and text[i + 1 : i + 2] != close):
                i += 2 if text[i] == close else 1
        elif text.startswith("--", i):
            i = text.find("\n", i) if "\n" in text[i:] else n
        elif text.startswith("/*", i):
            i = text.find("*/", i) + 1 if "*/" in text[i:] else n
        elif c == ";":
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return [p for p in (s.strip() for s in parts) if p] or [""]


def sql_batch(session: Session, payload: bytes) -> bytes:
    r = Reader(payload)
    r.skip_all_headers()
    text = r.data[r.pos :].decode("utf-16-le")
    log.debug("SQL batch %r", text)
    if (reply := bulk.batch(session, text)) is not None:
        return reply
    statements = split_statements(text)
    out = bytearray()
    for i, stmt in enumerate(statements):
        reply = session.run(stmt, {}, tk.DONE, more=i < len(statements) - 1)
        out += reply
        if _failed(reply):  # the rest of the batch is not run
            break
    _mark_last(out)
    return bytes(out)


def _failed(reply: bytes) -> bool:
    return bool(struct.unpack_from("<H", reply, len(reply) - 12)[0] & tk.DONE_ERROR)


def _mark_last(out: bytearray) -> None:
    """The last DONE of a reply must not say MORE."""
    status = struct.unpack_from("<H", out, len(out) - 12)[0]
    struct.pack_into("<H", out, len(out) - 12, status & ~tk.DONE_MORE)


def rpc(session: Session, payload: bytes) -> bytes:
    calls = parse_rpc(payload)
    log.debug("RPC %s", [(c.proc, [p.name for p in c.params]) for c in calls])
    out = bytearray()
    for i, call in enumerate(calls):
        out += _call(session, call, more=i < len(calls) - 1)
    return bytes(out)


def _call(session: Session, call: Call, more: bool) -> bytes:
    p = call.params
    values = [x.value for x in p]
    out = bytearray()
    handle: int | None = None
    if call.proc == "sp_executesql":
        sql, defs, args = values[0], values[1] if len(p) > 1 else "", p[2:]
    elif call.proc in ("sp_prepexec", "sp_prepare"):
        handle = next(_handles)
        session.prepared[handle] = (values[2], values[1] or "")
        sql, defs, args = values[2], values[1] or "", p[3:]
    elif call.proc == "sp_execute":
        sql, defs = session.prepared.get(values[0], ("", ""))
        args = p[1:]
    elif call.proc == "sp_unprepare":
        session.prepared.pop(values[0], None)
        sql, defs, args = None, "", []
    elif call.proc == "sp_describe_undeclared_parameters":
        return session.describe_parameters(_PARAM_NAMES.findall(values[0] or "")) + _proc_done(
            session, more
        )
    else:
        text = f"Could not find stored procedure '{call.proc}'."
        flags = tk.DONE_ERROR | (tk.DONE_MORE if more else 0)
        return tk.error(2812, text) + tk.done(tk.DONEPROC, flags)
    failed = False
    if sql and call.proc != "sp_prepare":
        params = _bind(defs, args)
        for stmt in split_statements(sql):
            reply = session.run(stmt, params, tk.DONEINPROC, more=True)
            out += reply
            if failed := _failed(reply):
                break
    out += tk.returnstatus(1 if failed else 0)
    if handle is not None:
        out += _return_int(p[0].name, handle)
    status = (tk.DONE_MORE if more else 0) | (tk.DONE_ERROR if failed else 0)
    return bytes(out) + tk.done(tk.DONEPROC, status | session.inxact())


def _proc_done(session: Session, more: bool) -> bytes:
    status = (tk.DONE_MORE if more else 0) | session.inxact()
    return tk.returnstatus(0) + tk.done(tk.DONEPROC, status)


def _bind(defs: str, args: list) -> dict[str, Any]:
    """Parameter values by lower-case name; unnamed ones take the names in `defs`."""
    names = _PARAM_NAMES.findall(defs or "")
    bound: dict[str, Any] = {}
    for i, a in enumerate(args):
        name = a.name or (names[i] if i < len(names) else f"@p{i + 1}")
        bound[name.lower()] = a.value
    for i, a in enumerate(args):  # '?' markers left in the text bind by position
        bound[f"?{i}"] = a.value
    return bound


def _return_int(name: str, value: int) -> bytes:
    """RETURNVALUE of an output int parameter (the prepared handle)."""
    return (
        b"\xac"
        + struct.pack("<H", 0)
        + b_varchar(name)
        + b"\x01"
        + struct.pack("<IH", 0, 0)
        + bytes([INTN, 4, 4])
        + struct.pack("<i", value)
    )


def transaction_manager(session: Session, payload: bytes) -> bytes:
    """TM_BEGIN_XACT (5), TM_COMMIT_XACT (7), TM_ROLLBACK_XACT (8), TM_SAVE_XACT (9)."""
    r = Reader(payload)
    r.skip_all_headers()
    request = r.u16()
    env = b""
    try:
        if request == 5:
            env = session.begin()
        elif request in (7, 8):
            if session.trancount:
                env = session.end(commit=request == 7)
            r.b_varchar()  # transaction name
            if not r.at_end() and r.u8() & 0x01:  # fBeginXact: start the next one at once
                env += session.begin()
    except Exception as e:
        return tk.error(3903, str(e)) + tk.done(status=tk.DONE_ERROR)
    return env + tk.done(status=session.inxact())
