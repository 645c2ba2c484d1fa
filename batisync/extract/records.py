"""Record checks (pure): an API record becomes a clean row or a quarantine reason.

Nothing here raises on bad input: every record ends either loaded or quarantined with
its payload and reason, so nothing is ever silently dropped.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

# The API's shape (`...Z`, seconds vary); fractions and explicit offsets are tolerated.
_ISO_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})")

# Quarantine reasons (raw_batisimply.quarantine.reason)
NOT_AN_OBJECT = "not_an_object"
MISSING_ID = "missing_id"
BAD_ID = "bad_id"
BAD_START_DATE = "bad_start_date"
BAD_END_DATE = "bad_end_date"
BAD_MINUTES = "bad_minutes"
MISSING_USER = "missing_user"
BAD_PROJECT = "bad_project"
DUPLICATE_ID = "duplicate_id"


@dataclass(frozen=True)
class Rejection:
    reason: str
    detail: str


def payload_json(record: Any) -> str:
    """The record as JSON text, as received (key order kept)."""
    try:
        return orjson.dumps(record).decode()
    except TypeError:  # e.g. an integer beyond 64 bits: the standard library copes
        return json.dumps(record, ensure_ascii=False)


def content_hash(record: Any) -> str:
    """md5 of the record's canonical JSON: equal for equal content, whatever the key order."""
    try:
        text = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        text = json.dumps(record, ensure_ascii=False, sort_keys=True).encode()
    return hashlib.md5(text).hexdigest()


def record_id(record: Any) -> str | None:
    """The record's id as text, or None when it has no usable one."""
    if not isinstance(record, Mapping):
        return None
    value = record.get("id")
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def management_status(record: Any) -> str | None:
    """Best effort, for the quarantine table."""
    if isinstance(record, Mapping) and isinstance(record.get("managementStatus"), str):
        return record["managementStatus"]
    return None


def parse_api_timestamp(value: Any) -> datetime | None:
    """An aware datetime for an API timestamp string, None for anything else."""
    if not isinstance(value, str) or not _ISO_UTC.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:  # right shape, impossible value (Feb 31st, hour 25...)
        return None


def _minutes(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None


def _project_id(project: Any) -> tuple[bool, int | None]:
    """(acceptable, id): a slot may lack a project (dbt rejects it later), not have a bad one."""
    if project is None:
        return True, None
    if not isinstance(project, Mapping):
        return False, None
    value = project.get("id")
    if value is None:
        return True, None
    if isinstance(value, int) and not isinstance(value, bool):
        return True, value
    if isinstance(value, str) and value.strip().isdigit():
        return True, int(value.strip())
    return False, None


def check_slot(record: Any) -> dict[str, Any] | Rejection:
    """A clean copy of a time slot (id as text, minutes as float) or why it is rejected."""
    if not isinstance(record, Mapping):
        return Rejection(NOT_AN_OBJECT, f"expected a JSON object, got {type(record).__name__}")
    raw_id = record.get("id")
    slot_id = record_id(record)
    if slot_id is None:
        if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()):
            return Rejection(MISSING_ID, "no id")
        return Rejection(BAD_ID, f"id {raw_id!r} is neither an integer nor a text")
    start = parse_api_timestamp(record.get("startDate"))
    if start is None:
        return Rejection(BAD_START_DATE, f"startDate {record.get('startDate')!r}")
    if parse_api_timestamp(record.get("endDate")) is None:
        return Rejection(BAD_END_DATE, f"endDate {record.get('endDate')!r}")
    minutes = _minutes(record.get("totalTimeMinutes"))
    if minutes is None:
        return Rejection(BAD_MINUTES, f"totalTimeMinutes {record.get('totalTimeMinutes')!r}")
    user = record.get("user")
    user_id = user.get("id") if isinstance(user, Mapping) else None
    if not isinstance(user_id, str) or not user_id.strip():
        return Rejection(MISSING_USER, "no user.id")
    project = record.get("project")
    ok, project_id = _project_id(project)
    if not ok:
        return Rejection(BAD_PROJECT, f"project {project!r}")

    row = dict(record)
    row["id"] = slot_id
    row["totalTimeMinutes"] = minutes
    if project_id is not None and project["id"] != project_id:
        row["project"] = {**project, "id": project_id}
    return row


def check_project(record: Any) -> dict[str, Any] | Rejection:
    """A project with an integer id (every other field kept), or why it is rejected."""
    if not isinstance(record, Mapping):
        return Rejection(NOT_AN_OBJECT, f"expected a JSON object, got {type(record).__name__}")
    value = record.get("id")
    if value is None or (isinstance(value, str) and not value.strip()):
        return Rejection(MISSING_ID, "no id")
    if isinstance(value, int) and not isinstance(value, bool):
        return dict(record)
    if isinstance(value, str) and value.strip().isdigit():
        return {**record, "id": int(value.strip())}
    return Rejection(BAD_ID, f"id {value!r} is not an integer")


def quarantine_key(resource: str, record_id: str | None, payload_md5: str) -> str:
    """`<resource>:<id>`, or `<resource>:md5:<payload md5>` when the record has no id."""
    return f"{resource}:{record_id}" if record_id is not None else f"{resource}:md5:{payload_md5}"


def quarantine_row(
    resource: str,
    record: Any,
    reason: str,
    seen_at: datetime,
    *,
    detail: str | None = None,
    key: str | None = None,
    first_seen_at: datetime | None = None,
) -> dict[str, Any]:
    """A `raw_batisimply.quarantine` row: the payload as JSON text and the reason."""
    rid = record_id(record)
    payload = payload_json(record)
    return {
        "quarantine_key": key or quarantine_key(resource, rid, content_hash(record)),
        "resource": resource,
        "record_id": rid,
        "reason": reason,
        "detail": detail,
        "payload": payload,
        "management_status": management_status(record),
        "first_seen_at": first_seen_at or seen_at,
        "last_seen_at": seen_at,
    }


__all__ = [
    "BAD_END_DATE",
    "BAD_ID",
    "BAD_MINUTES",
    "BAD_PROJECT",
    "BAD_START_DATE",
    "DUPLICATE_ID",
    "MISSING_ID",
    "MISSING_USER",
    "NOT_AN_OBJECT",
    "Rejection",
    "check_project",
    "check_slot",
    "content_hash",
    "management_status",
    "parse_api_timestamp",
    "payload_json",
    "quarantine_key",
    "quarantine_row",
    "record_id",
]
