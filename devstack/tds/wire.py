"""TDS packet framing and the primitive encodings (B_VARCHAR, US_VARCHAR, ...).

A TDS message is one or more packets of `packet_size` bytes at most, each with an
8-byte header; the last one has the EOM status bit.
"""

from __future__ import annotations

import socket
import struct

# packet types (MS-TDS 2.2.3.1.1)
SQL_BATCH = 0x01
RPC = 0x03
REPLY = 0x04
ATTENTION = 0x06
BULK_LOAD = 0x07
TRANSACTION_MANAGER = 0x0E
LOGIN7 = 0x10
PRELOGIN = 0x12

HEADER = struct.Struct(">BBHHBB")
STATUS_EOM = 0x01


class ConnectionClosed(Exception):
    pass


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks = []
    while n:
        chunk = sock.recv(n)
        if not chunk:
            raise ConnectionClosed
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_message(sock: socket.socket) -> tuple[int, bytes]:
    """One whole message: (packet type, payload of all its packets)."""
    parts = []
    while True:
        kind, status, length, _spid, _pid, _win = HEADER.unpack(_recv_exact(sock, 8))
        parts.append(_recv_exact(sock, length - 8))
        if status & STATUS_EOM:
            return kind, b"".join(parts)


def write_message(sock: socket.socket, kind: int, payload: bytes, packet_size: int) -> None:
    """Send `payload` split into packets of at most `packet_size` bytes."""
    room = packet_size - 8
    out = bytearray()
    packet_id = 1
    offset = 0
    while True:
        chunk = payload[offset : offset + room]
        offset += room
        last = offset >= len(payload)
        out += HEADER.pack(kind, STATUS_EOM if last else 0, len(chunk) + 8, 0, packet_id, 0)
        out += chunk
        packet_id = (packet_id + 1) % 256
        if last:
            break
    sock.sendall(out)


def b_varchar(text: str) -> bytes:
    """Length in characters (1 byte), then UTF-16LE."""
    data = text.encode("utf-16-le")
    return bytes([len(data) // 2]) + data


def us_varchar(text: str) -> bytes:
    """Length in characters (2 bytes), then UTF-16LE."""
    data = text.encode("utf-16-le")
    return struct.pack("<H", len(data) // 2) + data


class Reader:
    """A cursor over a received payload."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError("truncated TDS message")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str) -> tuple:
        s = struct.Struct("<" + fmt)
        return s.unpack(self.take(s.size))

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return self.unpack("H")[0]

    def u32(self) -> int:
        return self.unpack("I")[0]

    def b_varchar(self) -> str:
        return self.take(self.u8() * 2).decode("utf-16-le")

    def us_varchar(self) -> str:
        return self.take(self.u16() * 2).decode("utf-16-le")

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def skip_all_headers(self) -> None:
        """SQL batch, RPC and TM requests start with ALL_HEADERS (TDS 7.2+)."""
        total = struct.unpack_from("<I", self.data, self.pos)[0]
        self.pos += total
