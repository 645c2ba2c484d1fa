"""Whether a row fits the table staging holds, and the column values dlt would store
(pure): a changed load whose every row fits is written by our own SQL (`sql_write.py`)
instead of dlt's normaliser and merge (issue 19).

dlt flattens a row (`user: {id}` -> `user__id`, camelCase -> snake_case), may create a
column the first time a field has a non-null value (an unhinted text that looks like an
ISO timestamp becomes a `timestamp with time zone` column: `created_at`), and puts a
value its column's type cannot take in a variant column (`created_at__v_text`). We do
none of that: a row with a key not named below, a value for a column staging lacks, or
a value its column's type does not take as dlt would is no fit, and the load goes
through dlt, which changes the schema as it always did.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

# a slot row's keys (rows.py, classify.py's stamp) -> dlt's column names
_SLOT_KEYS = {
    "id": "id",
    "startDate": "start_date",
    "endDate": "end_date",
    "managementStatus": "management_status",
    "totalTimeMinutes": "total_time_minutes",
    "hasPackedLunch": "has_packed_lunch",
    "hasHomeToWorkJourney": "has_home_to_work_journey",
    "comment": "comment",
    "createdAt": "created_at",
    "updatedAt": "updated_at",
    "_extra": "_extra",
    "_content_hash": "_content_hash",
    "_fetched_at": "_fetched_at",
    "_deleted_at": "_deleted_at",
    "_gone_confirmed_at": "_gone_confirmed_at",
}
_NESTED_KEYS = {
    "user": {"id": "user__id", "firstName": "user__first_name", "lastName": "user__last_name"},
    "project": {
        "id": "project__id",
        "projectCode": "project__project_code",
        "projectName": "project__project_name",
    },
}
# a project row's keys (records.check_project, classify.py) -> dlt's column names
_PROJECT_KEYS = {
    "id": "id",
    "projectCode": "project_code",
    "projectName": "project_name",
    "_extra": "_extra",
    "_content_hash": "_content_hash",
}
# the API's timestamp shape (records._ISO_UTC): dlt parses such a text for a timestamp
# column to the same instant; anything looser is left to dlt
_ISO_AWARE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})")
_TEXT = {"character varying", "text"}


class NoFit(Exception):
    """The row needs dlt (a column to create, a value to put in a variant column)."""


def slot_columns(row: Mapping[str, Any]) -> dict[str, Any]:
    """A slot row as dlt flattens it: column name -> value."""
    columns: dict[str, Any] = {}
    for key, value in row.items():
        if key in _NESTED_KEYS and isinstance(value, Mapping):
            names = _NESTED_KEYS[key]
            for inner, inner_value in value.items():
                if inner not in names:
                    raise NoFit(f"{key}.{inner}")
                columns[names[inner]] = inner_value
        elif key in _SLOT_KEYS:
            columns[_SLOT_KEYS[key]] = value
        else:
            raise NoFit(key)
    return columns


def project_columns(row: Mapping[str, Any]) -> dict[str, Any]:
    """A project row as dlt names its columns."""
    unknown = row.keys() - _PROJECT_KEYS.keys()
    if unknown:
        raise NoFit(", ".join(sorted(unknown)))
    return {_PROJECT_KEYS[key]: value for key, value in row.items()}


def _timestamp(value: Any) -> datetime:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value
    if isinstance(value, str) and _ISO_AWARE.fullmatch(value):
        try:
            return datetime.fromisoformat(value)
        except ValueError:  # right shape, impossible value
            pass
    raise NoFit(repr(value)[:40])


def stored_value(value: Any, data_type: str) -> Any:
    """`value` as its column (PostgreSQL's `data_type`) stores it, or NoFit."""
    if value is None:
        return None
    kind = type(value)
    if data_type in _TEXT and kind is str:
        return value
    if data_type == "bigint" and kind is int:
        return value
    if data_type == "double precision" and kind in (float, int):
        return float(value)
    if data_type == "boolean" and kind is bool:
        return value
    if data_type == "timestamp with time zone":
        return _timestamp(value)
    raise NoFit(f"{kind.__name__} for {data_type}")


def fitted(columns: Mapping[str, Any], table: Mapping[str, str]) -> dict[str, Any]:
    """`columns` (name -> value) typed for `table` (name -> data type), or NoFit: a
    non-null value needs its column (dlt creates none for a null)."""
    out: dict[str, Any] = {}
    for name, value in columns.items():
        if value is None:
            if name in table:
                out[name] = None
            continue
        if name not in table:
            raise NoFit(name)
        out[name] = stored_value(value, table[name])
    return out


__all__ = ["NoFit", "fitted", "project_columns", "slot_columns", "stored_value"]
