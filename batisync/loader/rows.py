"""The row a checked API record becomes: the fields the project uses, as columns, and
every other one, as JSON text, in `_extra` — so that no field an API invents can add a
column, a child table, or a value of an unexpected type to the raw tables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from batisync.loader import bounds

# the fields a slot row keeps as columns; any other goes, as JSON text, to `_extra`
_SLOT_FIELDS = {
    "id",
    "startDate",
    "endDate",
    "user",
    "project",
    "managementStatus",
    "totalTimeMinutes",
    "hasPackedLunch",
    "hasHomeToWorkJourney",
}
# other fields kept as text columns when they are short texts (the fake API's shape)
_TEXT_FIELDS = {"comment", "createdAt", "updatedAt"}
_USER_TEXT_FIELDS = {"firstName", "lastName"}
_PROJECT_TEXT_FIELDS = {"projectCode", "projectName"}


def kept_texts(record: Mapping[str, Any], names: set[str]) -> dict[str, str | None]:
    """The fields of `names` that are null or a short text (the others go to `_extra`)."""
    return {
        name: record[name]
        for name in names
        if name in record and (record[name] is None or bounds.safe_text(record[name]))
    }


def slot_row(record: Mapping[str, Any], slot_id: str, minutes: float, **typed: Any) -> dict:
    """The row loaded for a slot: its checked fields, short texts, the rest as JSON text."""
    user, project = record["user"], record.get("project")
    row: dict[str, Any] = {
        "id": slot_id,
        "startDate": record["startDate"],
        "endDate": record["endDate"],
        "user": {"id": user["id"], **kept_texts(user, _USER_TEXT_FIELDS)},
        "managementStatus": typed["status"],
        "totalTimeMinutes": minutes,
        "hasPackedLunch": typed["lunch"],
        "hasHomeToWorkJourney": typed["journey"],
        **kept_texts(record, _TEXT_FIELDS),
    }
    if isinstance(project, Mapping) and typed["project_id"] is not None:
        row["project"] = {"id": typed["project_id"], **kept_texts(project, _PROJECT_TEXT_FIELDS)}
    extra = {k: v for k, v in record.items() if k not in _SLOT_FIELDS and k not in row}
    if (extra_text := bounds.extra_json(extra)) is not None:
        row["_extra"] = extra_text
    return row


__all__ = ["kept_texts", "slot_row"]
