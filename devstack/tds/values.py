"""TDS data types: decode RPC parameter values, encode result columns (MS-TDS 2.2.5)."""

from __future__ import annotations

import datetime as dt
import struct
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from devstack.tds.tokens import COLLATION
from devstack.tds.wire import Reader, b_varchar

EPOCH_DATE = dt.date(1, 1, 1)
EPOCH_DATETIME = dt.datetime(1900, 1, 1)
PLP_NULL = 0xFFFFFFFFFFFFFFFF

# type codes
INTN, BITN, FLTN, MONEYN, DATETIMN, GUIDTYPE = 0x26, 0x68, 0x6D, 0x6E, 0x6F, 0x24
DECIMALN, NUMERICN = 0x6A, 0x6C
DATEN, TIMEN, DATETIME2N, DATETIMEOFFSETN = 0x28, 0x29, 0x2A, 0x2B
BIGVARCHR, BIGCHAR, NVARCHAR, NCHAR, BIGVARBIN, BIGBINARY = 0xA7, 0xAF, 0xE7, 0xEF, 0xA5, 0xAD
TEXT, NTEXT, IMAGE = 0x23, 0x63, 0x22
FIXED = {0x1F: 0, 0x30: 1, 0x32: 1, 0x34: 2, 0x38: 4, 0x7F: 8, 0x3B: 4, 0x3E: 8, 0x3D: 8}
FIXED |= {0x3A: 4, 0x3C: 8, 0x7A: 4}


@dataclass
class TypeInfo:
    code: int
    size: int = 0
    precision: int = 0
    scale: int = 0
    collation: bytes = b""

    @property
    def plp(self) -> bool:
        return self.size == 0xFFFF and self.code in (BIGVARCHR, NVARCHAR, BIGVARBIN, NCHAR)


def read_type_info(r: Reader) -> TypeInfo:
    code = r.u8()
    if code in FIXED:
        return TypeInfo(code, FIXED[code])
    if code in (INTN, BITN, FLTN, MONEYN, DATETIMN, GUIDTYPE):
        return TypeInfo(code, r.u8())
    if code in (DECIMALN, NUMERICN):
        size, precision, scale = r.unpack("BBB")
        return TypeInfo(code, size, precision, scale)
    if code == DATEN:
        return TypeInfo(code)
    if code in (TIMEN, DATETIME2N, DATETIMEOFFSETN):
        return TypeInfo(code, scale=r.u8())
    if code in (BIGVARCHR, BIGCHAR, NVARCHAR, NCHAR):
        return TypeInfo(code, r.u16(), collation=r.take(5))
    if code in (BIGVARBIN, BIGBINARY):
        return TypeInfo(code, r.u16())
    if code in (TEXT, NTEXT):
        return TypeInfo(code, r.u32(), collation=r.take(5))
    if code == IMAGE:
        return TypeInfo(code, r.u32())
    raise NotImplementedError(f"TDS type 0x{code:02X} is not supported by this endpoint")


def _read_plp(r: Reader) -> bytes | None:
    total = r.unpack("Q")[0]
    if total == PLP_NULL:
        return None
    chunks = []
    while (n := r.u32()) != 0:
        chunks.append(r.take(n))
    return b"".join(chunks)


def _time_from(raw: bytes, scale: int) -> dt.time:
    micros = int.from_bytes(raw, "little") * 1_000_000 // 10**scale
    return (dt.datetime.min + dt.timedelta(microseconds=micros)).time()


def _date_from(raw: bytes) -> dt.date:
    return EPOCH_DATE + dt.timedelta(days=int.from_bytes(raw, "little"))


def read_value(r: Reader, t: TypeInfo) -> Any:
    """One parameter value of type `t` (None for NULL)."""
    code = t.code
    if code in FIXED:
        return _decode_fixed(code, r.take(t.size)) if code != 0x1F else None
    if t.plp:
        raw = _read_plp(r)
    elif code in (TEXT, NTEXT, IMAGE):
        n = r.u32()
        raw = None if n == 0xFFFFFFFF else r.take(n)
    elif code in (BIGVARCHR, BIGCHAR, NVARCHAR, NCHAR, BIGVARBIN, BIGBINARY):
        n = r.u16()
        raw = None if n == 0xFFFF else r.take(n)
    else:
        n = r.u8()
        raw = None if n == 0 else r.take(n)
    if raw is None:
        return None
    return _decode(t, raw)


def _decode_fixed(code: int, raw: bytes) -> Any:
    if code == 0x32:
        return raw[0] != 0
    if code in (0x30,):
        return raw[0]
    if code in (0x34, 0x38, 0x7F):
        return int.from_bytes(raw, "little", signed=True)
    if code == 0x3B:
        return struct.unpack("<f", raw)[0]
    if code == 0x3E:
        return struct.unpack("<d", raw)[0]
    return _decode(TypeInfo({0x3D: DATETIMN, 0x3A: DATETIMN}.get(code, MONEYN), len(raw)), raw)


def _decode(t: TypeInfo, raw: bytes) -> Any:
    code = t.code
    if code == INTN:
        return int.from_bytes(raw, "little", signed=len(raw) > 1)
    if code == BITN:
        return raw[0] != 0
    if code == FLTN:
        return struct.unpack("<f" if len(raw) == 4 else "<d", raw)[0]
    if code in (DECIMALN, NUMERICN):
        magnitude = int.from_bytes(raw[1:], "little")
        value = Decimal(magnitude).scaleb(-t.scale)
        return value if raw[0] == 1 else -value
    if code == MONEYN:
        if len(raw) == 8:
            hi, lo = struct.unpack("<iI", raw)
            return Decimal((hi << 32) | lo).scaleb(-4)
        return Decimal(struct.unpack("<i", raw)[0]).scaleb(-4)
    if code == DATETIMN:
        if len(raw) == 8:
            days, ticks = struct.unpack("<iI", raw)
            return EPOCH_DATETIME + dt.timedelta(days=days, milliseconds=round(ticks * 10 / 3))
        days, minutes = struct.unpack("<HH", raw)
        return EPOCH_DATETIME + dt.timedelta(days=days, minutes=minutes)
    if code == GUIDTYPE:
        return str(uuid.UUID(bytes_le=raw))
    if code == DATEN:
        return _date_from(raw)
    if code == TIMEN:
        return _time_from(raw, t.scale)
    if code == DATETIME2N:
        time = _time_from(raw[:-3], t.scale)
        return dt.datetime.combine(_date_from(raw[-3:]), time)
    if code == DATETIMEOFFSETN:
        offset = struct.unpack("<h", raw[-2:])[0]
        utc = dt.datetime.combine(_date_from(raw[-5:-2]), _time_from(raw[:-5], t.scale))
        tz = dt.timezone(dt.timedelta(minutes=offset))
        return (utc + dt.timedelta(minutes=offset)).replace(tzinfo=tz)
    if code in (NVARCHAR, NCHAR, NTEXT):
        return raw.decode("utf-16-le")
    if code in (BIGVARCHR, BIGCHAR, TEXT):
        # collation flag 0x04 in byte 3 = UTF-8 collation, else assume the Latin-1 code page
        return raw.decode("utf-8" if len(t.collation) == 5 and t.collation[3] & 0x04 else "cp1252")
    return bytes(raw)


# -- result columns --------------------------------------------------------------------


@dataclass
class Column:
    """A result column: its name and how its values are written."""

    name: str
    kind: str  # int, bit, float, decimal, date, time, datetime, datetimeoffset, binary, text
    size: int = 8
    precision: int = 38
    scale: int = 0

    def metadata(self) -> bytes:
        flags = struct.pack("<IH", 0, 0x0001)  # user type 0, nullable
        return flags + self._type_info() + b_varchar(self.name)

    def _type_info(self) -> bytes:
        k = self.kind
        if k == "int":
            return bytes([INTN, self.size])
        if k == "bit":
            return bytes([BITN, 1])
        if k == "float":
            return bytes([FLTN, 8])
        if k == "decimal":
            return bytes([DECIMALN, 17, self.precision, self.scale])
        if k == "date":
            return bytes([DATEN])
        if k == "time":
            return bytes([TIMEN, 7])
        if k == "datetime":
            return bytes([DATETIME2N, 7])
        if k == "datetimeoffset":
            return bytes([DATETIMEOFFSETN, 7])
        if k == "binary":
            return bytes([BIGVARBIN]) + struct.pack("<H", self.size)
        return bytes([NVARCHAR]) + struct.pack("<H", self.size) + COLLATION

    def encode(self, v: Any) -> bytes:
        k = self.kind
        if k == "text" or k == "binary":
            if v is None:
                return struct.pack("<Q", PLP_NULL) if self.size == 0xFFFF else b"\xff\xff"
            data = v if k == "binary" else str(v).encode("utf-16-le")
            if self.size == 0xFFFF:
                body = struct.pack("<I", len(data)) + data if data else b""
                return struct.pack("<Q", len(data)) + body + b"\x00\x00\x00\x00"
            return struct.pack("<H", len(data)) + data
        if v is None:
            return b"\x00"
        if k == "int":
            return bytes([self.size]) + int(v).to_bytes(self.size, "little", signed=True)
        if k == "bit":
            return b"\x01" + bytes([1 if v else 0])
        if k == "float":
            return b"\x08" + struct.pack("<d", float(v))
        if k == "decimal":
            scaled = int(Decimal(v).scaleb(self.scale).to_integral_value())
            return b"\x11" + bytes([0 if scaled < 0 else 1]) + abs(scaled).to_bytes(16, "little")
        if k == "date":
            return b"\x03" + _date_bytes(v)
        if k == "time":
            return b"\x05" + _time_bytes(v)
        if k == "datetime":
            return b"\x08" + _time_bytes(v.time()) + _date_bytes(v.date())
        if k == "datetimeoffset":
            offset = v.utcoffset() or dt.timedelta()
            utc = (v - offset).replace(tzinfo=None)
            minutes = int(offset.total_seconds() // 60)
            raw = _time_bytes(utc.time()) + _date_bytes(utc.date()) + struct.pack("<h", minutes)
            return b"\x0a" + raw
        raise AssertionError(k)


def _date_bytes(d: dt.date) -> bytes:
    return (d - EPOCH_DATE).days.to_bytes(3, "little")


def _time_bytes(t: dt.time) -> bytes:
    micros = ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond
    return (micros * 10).to_bytes(5, "little")
