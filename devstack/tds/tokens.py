"""Builders for the tokens of a server reply (MS-TDS 2.2.7)."""

from __future__ import annotations

import struct

from devstack.tds.wire import b_varchar, us_varchar

SERVER_NAME = "tds-endpoint"
# Latin1_General_CI_AS: LCID 0x0409, case-insensitive, accent-sensitive, sort id 52
COLLATION = b"\x09\x04\xd0\x00\x34"
TDS74 = 0x74000004

# DONE status bits
DONE_FINAL = 0x00
DONE_MORE = 0x01
DONE_ERROR = 0x02
DONE_INXACT = 0x04
DONE_COUNT = 0x10
DONE_ATTN = 0x20

DONE, DONEPROC, DONEINPROC = 0xFD, 0xFE, 0xFF

# ENVCHANGE types
ENV_DATABASE = 1
ENV_LANGUAGE = 2
ENV_PACKET_SIZE = 4
ENV_COLLATION = 7
ENV_BEGIN_TRAN = 8
ENV_COMMIT_TRAN = 9
ENV_ROLLBACK_TRAN = 10


def done(kind: int = DONE, status: int = 0, rowcount: int = 0, curcmd: int = 0) -> bytes:
    return struct.pack("<BHHQ", kind, status, curcmd, rowcount)


def envchange_text(env: int, new: str, old: str = "") -> bytes:
    body = bytes([env]) + b_varchar(new) + b_varchar(old)
    return struct.pack("<BH", 0xE3, len(body)) + body


def envchange_bytes(env: int, new: bytes, old: bytes = b"") -> bytes:
    body = bytes([env, len(new)]) + new + bytes([len(old)]) + old
    return struct.pack("<BH", 0xE3, len(body)) + body


def message(number: int, text: str, *, severity: int, state: int = 1, error: bool) -> bytes:
    """ERROR (severity > 10) or INFO token."""
    body = (
        struct.pack("<iBB", number, state, severity)
        + us_varchar(text)
        + b_varchar(SERVER_NAME)
        + b_varchar("")
        + struct.pack("<i", 1)
    )
    return struct.pack("<BH", 0xAA if error else 0xAB, len(body)) + body


def error(number: int, text: str, severity: int = 16, state: int = 1) -> bytes:
    return message(number, text, severity=severity, state=state, error=True)


def info(number: int, text: str) -> bytes:
    return message(number, text, severity=0, error=False)


def loginack(tds_version: int) -> bytes:
    body = (
        b"\x01"
        + struct.pack(">I", tds_version)
        + b_varchar("Microsoft SQL Server")
        + bytes([16, 0, 0x10, 0x00])  # 16.0.4096: SQL Server 2022
    )
    return struct.pack("<BH", 0xAD, len(body)) + body


def featureextack_empty() -> bytes:
    return b"\xae\xff"


def returnstatus(value: int) -> bytes:
    return struct.pack("<Bi", 0x79, value)
