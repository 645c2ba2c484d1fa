"""Bounds on API values, checked before anything reaches a typed column, an index or a
Decimal: a value outside them is quarantined with its reason, never loaded.

They are wide on purpose (what no real record comes near); the plausibility rules of
what may reach the payroll (a day's minutes, the code length of Batigest, the known
statuses) are dbt's, configurable, and reported in `heures_rejected`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

# ids and user ids: integers or UUIDs in practice; PostgreSQL's btree index refuses
# a key beyond ~2.7 kB, so a 1 MB id would stop every load
MAX_ID_LENGTH = 64
# project codes: Batigest's column is 8 characters (dbt's `code_too_long`); beyond this
# bound a code is not even loaded
MAX_CODE_LENGTH = 64
MAX_TEXT_LENGTH = 1000  # a status, a name, a comment
MAX_DETAIL_LENGTH = 120  # how much of a bad value a quarantine detail quotes
MAX_EXTRA_LENGTH = 65_536  # the other fields of a record, as JSON text
# minutes: a few years of work; what a payroll may see (a day) is HEURES_MAX_MINUTES
MAX_MINUTES = 1_000_000.0
# dates: local time must stay far from year 10,000 (Python's limit) and year 1
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
# a slot answered for a window must start in it; one day of slack for time zones
WINDOW_SLACK = timedelta(days=1)
INT64 = (-(2**63), 2**63 - 1)


def clip(value: Any, limit: int = MAX_DETAIL_LENGTH) -> str:
    """`repr(value)` cut to `limit` characters, with the full length when cut."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} characters)"


def safe_text(value: Any, limit: int = MAX_TEXT_LENGTH) -> str | None:
    """`value` when it is a text PostgreSQL can store (no NUL) within `limit`, else None."""
    if isinstance(value, str) and len(value) <= limit and "\x00" not in value:
        try:
            value.encode("utf-8")  # a lone surrogate is no text PostgreSQL stores
        except UnicodeEncodeError:
            return None
        return value
    return None


def bounded_int(value: Any) -> int | None:
    """An integer (or a text of digits) that fits a bigint column, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text.isdigit() or len(text) > 19:
            return None
        value = int(text)
    if isinstance(value, int) and INT64[0] <= value <= INT64[1]:
        return value
    return None


def bounded_number(value: Any, low: float, high: float) -> float | None:
    """A finite number (or numeric text) within [low, high], else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        if len(value) > 40:
            return None
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond a double
        return None
    return number if math.isfinite(number) and low <= number <= high else None


def in_date_range(moment: datetime) -> bool:
    return EARLIEST <= moment < LATEST


def flag(value: Any) -> tuple[bool, bool | None]:
    """(acceptable, value) of a yes/no field: a bool, null, or the texts true/false."""
    if value is None or isinstance(value, bool):
        return True, value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return True, value.strip().lower() == "true"
    return False, None


def extra_json(fields: Mapping[str, Any]) -> str | None:
    """The fields a row has no column for, as JSON text (bounded), or None when none."""
    if not fields:
        return None
    try:
        text = orjson.dumps(fields).decode()
    except TypeError:  # an integer beyond 64 bits: not worth a column, say so
        return '{"_note": "fields not representable as JSON"}'
    if len(text) > MAX_EXTRA_LENGTH:
        return f'{{"_note": "{len(text)} characters of other fields, not kept"}}'
    return text


__all__ = [
    "EARLIEST",
    "LATEST",
    "MAX_CODE_LENGTH",
    "MAX_ID_LENGTH",
    "MAX_MINUTES",
    "MAX_TEXT_LENGTH",
    "WINDOW_SLACK",
    "bounded_int",
    "bounded_number",
    "clip",
    "extra_json",
    "flag",
    "in_date_range",
    "safe_text",
]
