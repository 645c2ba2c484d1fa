"""PRELOGIN and LOGIN7: the two messages before a session starts (MS-TDS 2.2.6.4-5)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from devstack.tds.wire import Reader

ENCRYPT_OFF, ENCRYPT_ON, ENCRYPT_NOT_SUP, ENCRYPT_REQ = 0, 1, 2, 3


def prelogin_options(payload: bytes) -> dict[int, bytes]:
    """Option token → its data."""
    options: dict[int, bytes] = {}
    pos = 0
    while pos < len(payload) and payload[pos] != 0xFF:
        token, offset, length = struct.unpack_from(">BHH", payload, pos)
        options[token] = payload[offset : offset + length]
        pos += 5
    return options


def prelogin_reply(encryption: int) -> bytes:
    """VERSION, ENCRYPTION, INSTOPT, THREADID, MARS; then their data."""
    items = [
        (0x00, bytes([16, 0, 0x10, 0x00, 0, 0])),  # 16.0.4096.0
        (0x01, bytes([encryption])),
        (0x02, b"\x00"),
        (0x03, b""),
        (0x04, b"\x00"),
    ]
    offset = len(items) * 5 + 1
    head, data = bytearray(), bytearray()
    for token, value in items:
        head += struct.pack(">BHH", token, offset + len(data), len(value))
        data += value
    return bytes(head) + b"\xff" + bytes(data)


@dataclass
class Login:
    tds_version: int
    packet_size: int
    user: str
    app: str
    database: str
    hostname: str
    feature_ext: bool

    def __repr__(self) -> str:  # the password is never kept, so it can't be logged
        return f"Login(user={self.user!r}, database={self.database!r}, app={self.app!r})"


def parse_login7(payload: bytes) -> Login:
    r = Reader(payload)
    _length, version, packet_size = r.unpack("III")
    r.take(12)  # client program version, pid, connection id
    _flags1, _flags2, _type_flags, flags3 = r.unpack("BBBB")
    r.take(8)  # time zone, LCID

    def text(index: int) -> str:
        offset, count = struct.unpack_from("<HH", payload, 36 + 4 * index)
        return payload[offset : offset + 2 * count].decode("utf-16-le")

    # offset table: host, user, password (never decoded), app, server, extension,
    # interface library, language, database
    return Login(
        tds_version=version,
        packet_size=packet_size,
        user=text(1),
        app=text(3),
        database=text(8),
        hostname=text(0),
        feature_ext=bool(flags3 & 0x10),
    )
