"""RPC requests: one or more procedure calls with typed parameters (MS-TDS 2.2.6.6)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from devstack.tds.values import TypeInfo, read_type_info, read_value
from devstack.tds.wire import Reader

# well-known procedure ids (ProcIDSwitch = 0xFFFF)
PROC_NAMES = {
    1: "sp_cursor",
    2: "sp_cursoropen",
    3: "sp_cursorprepare",
    4: "sp_cursorexecute",
    5: "sp_cursorprepexec",
    6: "sp_cursorunprepare",
    7: "sp_cursorfetch",
    8: "sp_cursoroption",
    9: "sp_cursorclose",
    10: "sp_executesql",
    11: "sp_prepare",
    12: "sp_execute",
    13: "sp_prepexec",
    14: "sp_prepexecrpc",
    15: "sp_unprepare",
}
BATCH_SEPARATORS = (0xFF, 0x80, 0xFE)


@dataclass
class Param:
    name: str
    output: bool
    type: TypeInfo
    value: Any


@dataclass
class Call:
    proc: str
    params: list[Param] = field(default_factory=list)


def parse_rpc(payload: bytes) -> list[Call]:
    """Every call of the request (drivers batch several, separated by 0xFF)."""
    r = Reader(payload)
    r.skip_all_headers()
    calls = []
    while not r.at_end():
        n = r.u16()
        proc = PROC_NAMES.get(r.u16(), "?") if n == 0xFFFF else r.take(2 * n).decode("utf-16-le")
        r.u16()  # option flags
        call = Call(proc.lower())
        while not r.at_end() and r.data[r.pos] not in BATCH_SEPARATORS:
            name = r.b_varchar()
            status = r.u8()
            t = read_type_info(r)
            call.params.append(Param(name, bool(status & 0x01), t, read_value(r, t)))
        calls.append(call)
        if not r.at_end():
            r.u8()  # the separator
    return calls
