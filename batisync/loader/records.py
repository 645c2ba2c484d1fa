"""Record checks (pure): an API record becomes a clean row or a quarantine reason.

Nothing here raises on bad input: every record ends either loaded or quarantined with
its payload and reason, so nothing is ever silently dropped.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from batisync.loader import bounds
from batisync.loader.bounds import clip
from batisync.loader.rows import kept_texts, slot_row

# The version of the checks below and of the bounds they apply (`bounds.py`, `rows.py`):
# bump it with any change to what they accept or to the row they make. It is part of the
# hash a raw row is stored with (`stored_hash`), which the loader compares to keep the
# raw row of a slot unchanged since the last load: after a bump, no hash matches, so
# every slot already in staging is stored again as the new checks make it (and counted
# changed: the sync then runs its transform), on the next load.
CHECKS_VERSION = 1

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
BAD_USER = "bad_user"
BAD_STATUS = "bad_status"
BAD_FLAG = "bad_flag"
BAD_PROJECT_CODE = "bad_project_code"
START_OUTSIDE_WINDOW = "start_outside_window"


@dataclass(frozen=True)
class Rejection:
    reason: str
    detail: str


def payload_json(record: Any) -> str:
    """The record as JSON text, as received (key order kept)."""
    try:
        return orjson.dumps(record).decode()
    except TypeError:  # an integer beyond 64 bits, a lone surrogate: the standard library
        # copes; ASCII escapes keep a lone surrogate storable in PostgreSQL
        return json.dumps(record, ensure_ascii=True)


def content_hash(record: Any) -> str:
    """md5 of the record's canonical JSON: equal for equal content, whatever the key order."""
    try:
        text = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        text = json.dumps(record, ensure_ascii=False, sort_keys=True).encode(
            "utf-8", "surrogatepass"
        )
    return hashlib.md5(text).hexdigest()


def stored_hash(content_md5: str) -> str:
    """A raw row's `_content_hash`: its record's md5 under this version of the checks
    (the md5 of `checks {CHECKS_VERSION}:{content_md5}`, its prefix hashed once)."""
    digest = _checks_prefix(CHECKS_VERSION).copy()
    digest.update(content_md5.encode())
    return digest.hexdigest()


@functools.lru_cache(maxsize=2)
def _checks_prefix(version: int) -> Any:
    return hashlib.md5(f"checks {version}:".encode())


def record_id(record: Any) -> str | None:
    """The record's id as text, or None when it has no usable one."""
    if type(record) is not dict and not isinstance(record, Mapping):  # dict: JSON's, fast
        return None
    value = record.get("id")
    if type(value) is int:  # the API's own shape, once per record and run: no text to check
        # (a bigint's digits are far within MAX_ID_LENGTH; a bool is no `int` here)
        return str(value) if bounds.INT64[0] <= value <= bounds.INT64[1] else None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        text = str(value) if bounds.bounded_int(value) is not None else ""
    elif isinstance(value, str):
        text = value.strip()
    else:
        return None
    # a huge or NUL-holding id has no usable id: keyed by its content instead
    return bounds.safe_text(text, bounds.MAX_ID_LENGTH) or None


def management_status(record: Any) -> str | None:
    """Best effort, for the quarantine table."""
    if isinstance(record, Mapping):
        return bounds.safe_text(record.get("managementStatus"), bounds.MAX_TEXT_LENGTH)
    return None


def parse_api_timestamp(value: Any) -> datetime | None:
    """An aware datetime for an API timestamp string, None for anything else."""
    if not isinstance(value, str) or not _ISO_UTC.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:  # right shape, impossible value (Feb 31st, hour 25...)
        return None


@functools.lru_cache(maxsize=8)
def _window_texts(start: datetime, end: datetime) -> tuple[str, str]:
    """The window and its slack as `YYYY-MM-DDTHH:MM:SSZ` texts, rounded inwards to the
    second: a text of that shape between them is a moment between them."""
    low = (start - bounds.WINDOW_SLACK).astimezone(UTC)
    high = (end + bounds.WINDOW_SLACK).astimezone(UTC)
    if low.microsecond:
        low = low.replace(microsecond=0) + timedelta(seconds=1)
    return f"{low:%Y-%m-%dT%H:%M:%SZ}", f"{high:%Y-%m-%dT%H:%M:%SZ}"


def _project_id(project: Any) -> tuple[bool, int | None]:
    """(acceptable, id): a slot may lack a project (dbt rejects it later), not have a bad one."""
    if project is None:
        return True, None
    if not isinstance(project, Mapping):
        return False, None
    value = project.get("id")
    if value is None:
        return True, None
    number = bounds.bounded_int(value)
    return number is not None, number


def _date(record: Mapping[str, Any], name: str, reason: str) -> datetime | Rejection:
    value = record.get(name)
    moment = parse_api_timestamp(value)
    if moment is None:
        return Rejection(reason, f"{name} {clip(value)}")
    if not bounds.in_date_range(moment):
        return Rejection(
            reason,
            f"{name} {clip(value)} is outside {bounds.EARLIEST:%Y-%m-%d}..{bounds.LATEST:%Y-%m-%d}",
        )
    return moment


def check_slot(record: Any) -> dict[str, Any] | Rejection:
    """A clean, bounded copy of a time slot (id as text, minutes as float) or why it is
    rejected. Every value of the row is within `bounds`: no record can stop a load."""
    if not isinstance(record, Mapping):
        return Rejection(NOT_AN_OBJECT, f"expected a JSON object, got {type(record).__name__}")
    raw_id = record.get("id")
    slot_id = record_id(record)
    if slot_id is None:
        if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()):
            return Rejection(MISSING_ID, "no id")
        return Rejection(
            BAD_ID,
            f"id {clip(raw_id)} is neither an integer nor a text of at most "
            f"{bounds.MAX_ID_LENGTH} characters",
        )
    for name, reason in (("startDate", BAD_START_DATE), ("endDate", BAD_END_DATE)):
        if isinstance(checked := _date(record, name, reason), Rejection):
            return checked
    raw_minutes = record.get("totalTimeMinutes")
    minutes = bounds.bounded_number(raw_minutes, 0.0, bounds.MAX_MINUTES)
    if minutes is None:
        return Rejection(
            BAD_MINUTES,
            f"totalTimeMinutes {clip(raw_minutes)} is not a number in 0..{bounds.MAX_MINUTES:.0f}",
        )
    user = record.get("user")
    user_id = user.get("id") if isinstance(user, Mapping) else None
    if not isinstance(user_id, str) or not user_id.strip():
        return Rejection(MISSING_USER, "no user.id")
    if bounds.safe_text(user_id, bounds.MAX_ID_LENGTH) is None:
        return Rejection(BAD_USER, f"user.id {clip(user_id)}")
    project = record.get("project")
    ok, project_id = _project_id(project)
    if not ok:
        return Rejection(BAD_PROJECT, f"project {clip(project)}")
    status = record.get("managementStatus")
    if status is not None and bounds.safe_text(status, bounds.MAX_TEXT_LENGTH) is None:
        return Rejection(BAD_STATUS, f"managementStatus {clip(status)}")
    flags = {}
    for name in ("hasPackedLunch", "hasHomeToWorkJourney"):
        ok, flags[name] = bounds.flag(record.get(name))
        if not ok:
            return Rejection(BAD_FLAG, f"{name} {clip(record.get(name))} is not true or false")
    return slot_row(
        record,
        slot_id,
        minutes,
        status=status,
        project_id=project_id,
        lunch=flags["hasPackedLunch"],
        journey=flags["hasHomeToWorkJourney"],
    )


def check_in_window(row: Mapping[str, Any], start: datetime, end: datetime) -> Rejection | None:
    """A slot answered for the window [start, end] must start in it (a day of slack)."""
    value = row.get("startDate")
    if type(value) is str and len(value) == 20 and value[19] == "Z":
        # the API's own shape: its text sorts as its moment, no datetime to build (a
        # text of that shape that does not parse passes below too: same answer)
        low, high = _window_texts(start, end)
        if low <= value <= high:
            return None
    moment = parse_api_timestamp(value)
    if moment is None or start - bounds.WINDOW_SLACK <= moment <= end + bounds.WINDOW_SLACK:
        return None
    return Rejection(
        START_OUTSIDE_WINDOW,
        f"startDate {clip(row.get('startDate'))} answered for the window "
        f"{start:%Y-%m-%d}..{end:%Y-%m-%d}",
    )


def check_project(record: Any) -> dict[str, Any] | Rejection:
    """A project with an integer id and a bounded code, or why it is rejected."""
    if not isinstance(record, Mapping):
        return Rejection(NOT_AN_OBJECT, f"expected a JSON object, got {type(record).__name__}")
    value = record.get("id")
    if value is None or (isinstance(value, str) and not value.strip()):
        return Rejection(MISSING_ID, "no id")
    project_id = bounds.bounded_int(value)
    if project_id is None:
        return Rejection(BAD_ID, f"id {clip(value)} is not an integer")
    code = record.get("projectCode")
    if isinstance(code, int) and not isinstance(code, bool) and abs(code) < 10**12:
        code = str(code)  # a numeric code is still a code
    if code is not None and bounds.safe_text(code, bounds.MAX_CODE_LENGTH) is None:
        return Rejection(
            BAD_PROJECT_CODE,
            f"projectCode {clip(code)} is not a text of at most "
            f"{bounds.MAX_CODE_LENGTH} characters",
        )
    row = {"id": project_id, "projectCode": code, **kept_texts(record, {"projectName"})}
    extra = {k: v for k, v in record.items() if k not in row and k != "projectName"}
    if (extra_text := bounds.extra_json(extra)) is not None:
        row["_extra"] = extra_text
    return row


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
        "detail": None if detail is None else detail[:1000],
        "payload": payload,
        "management_status": management_status(record),
        "first_seen_at": first_seen_at or seen_at,
        "last_seen_at": seen_at,
    }


__all__ = [
    "BAD_END_DATE",
    "BAD_FLAG",
    "BAD_ID",
    "BAD_MINUTES",
    "BAD_PROJECT",
    "BAD_PROJECT_CODE",
    "BAD_START_DATE",
    "BAD_STATUS",
    "BAD_USER",
    "CHECKS_VERSION",
    "DUPLICATE_ID",
    "MISSING_ID",
    "MISSING_USER",
    "NOT_AN_OBJECT",
    "START_OUTSIDE_WINDOW",
    "Rejection",
    "check_in_window",
    "check_project",
    "check_slot",
    "content_hash",
    "management_status",
    "parse_api_timestamp",
    "payload_json",
    "quarantine_key",
    "quarantine_row",
    "record_id",
    "stored_hash",
]
