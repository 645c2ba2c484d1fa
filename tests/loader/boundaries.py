"""Records on each side of every bound of `batisync/loader/bounds.py`, with the outcome
its documentation gives (`loaded`, or `quarantine:<reason>`), for the loader's parity
tests (`test_parity.py`). Built like the hostile corpus (`devstack/hostile.py`): each
from one healthy slot of the dataset, on a night minute of its own."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from batisync.loader import bounds
from batisync.loader.records import record_id
from batisync.loader.window import Window
from devstack import hostile
from devstack.fake_batisimply import Dataset

FIRST_ID = 700_000
# project ids of the project list's and of `GET /project/{id}`'s boundary records
LISTED, LOOKED_UP = 880_000, 881_000
INT64_MAX = bounds.INT64[1]


@dataclass(frozen=True)
class Boundary:
    bound: str  # the name in bounds.py
    name: str
    record: Any
    expect: str  # loaded | quarantine:<reason> | extra (kept in `_extra`) | dropped

    @property
    def slot_id(self) -> str | None:
        return record_id(self.record)


Change = Callable[[dict[str, Any]], None]


def _set(name: str, value: Any) -> Change:
    return lambda record: record.__setitem__(name, value)


def _extra_of_length(length: int) -> Change:
    # {"x":"aaa…"}: 8 characters around the value
    return _set("x", "a" * (length - 8))


def _slots(window: Window) -> list[tuple[str, str, Change, str]]:
    """(bound, name, change of a healthy slot, expected outcome)."""
    before, after = window.start - bounds.WINDOW_SLACK, window.end + bounds.WINDOW_SLACK
    second = timedelta(seconds=1)
    iso = "%Y-%m-%dT%H:%M:%SZ"
    return [
        ("MAX_ID_LENGTH", "id_64", _set("id", "i" * 64), "loaded"),
        ("MAX_ID_LENGTH", "id_65", _set("id", "i" * 65), "quarantine:bad_id"),
        ("MAX_ID_LENGTH", "user_id_64", _set("user", {"id": "u" * 64}), "loaded"),
        ("MAX_ID_LENGTH", "user_id_65", _set("user", {"id": "u" * 65}), "quarantine:bad_user"),
        ("INT64", "id_int64_max", _set("id", INT64_MAX), "loaded"),
        ("INT64", "id_int64_over", _set("id", INT64_MAX + 1), "quarantine:bad_id"),
        ("INT64", "slot_project_int64_max", _set("project", {"id": INT64_MAX}), "loaded"),
        (
            "INT64",
            "slot_project_int64_over",
            _set("project", {"id": INT64_MAX + 1}),
            "quarantine:bad_project",
        ),
        ("MAX_TEXT_LENGTH", "status_1000", _set("managementStatus", "S" * 1000), "loaded"),
        (
            "MAX_TEXT_LENGTH",
            "status_1001",
            _set("managementStatus", "S" * 1001),
            "quarantine:bad_status",
        ),
        ("MAX_TEXT_LENGTH", "comment_1000", _set("comment", "c" * 1000), "loaded"),
        ("MAX_TEXT_LENGTH", "comment_1001", _set("comment", "c" * 1001), "extra"),
        (
            "MAX_TEXT_LENGTH",
            "first_name_1001",
            _set("user", {"id": "u-1001", "firstName": "F" * 1001}),
            "dropped",
        ),
        (
            "MAX_TEXT_LENGTH",
            "slot_code_1001",
            _set("project", {"id": 4100, "projectCode": "P" * 1001}),
            "dropped",
        ),
        ("MAX_EXTRA_LENGTH", "extra_at_limit", _extra_of_length(bounds.MAX_EXTRA_LENGTH), "extra"),
        (
            "MAX_EXTRA_LENGTH",
            "extra_over_limit",
            _extra_of_length(bounds.MAX_EXTRA_LENGTH + 1),
            "extra",
        ),
        ("MAX_MINUTES", "minutes_zero", _set("totalTimeMinutes", 0), "loaded"),
        ("MAX_MINUTES", "minutes_max", _set("totalTimeMinutes", 1_000_000), "loaded"),
        (
            "MAX_MINUTES",
            "minutes_over",
            _set("totalTimeMinutes", 1_000_000.5),
            "quarantine:bad_minutes",
        ),
        (
            "MAX_MINUTES",
            "minutes_below_zero",
            _set("totalTimeMinutes", -0.001),
            "quarantine:bad_minutes",
        ),
        ("MAX_MINUTES", "minutes_text_40", _set("totalTimeMinutes", "0" * 38 + "90"), "loaded"),
        (
            "MAX_MINUTES",
            "minutes_text_41",
            _set("totalTimeMinutes", "0" * 39 + "90"),
            "quarantine:bad_minutes",
        ),
        (
            "MAX_DETAIL_LENGTH",
            "detail_clipped",
            _set("totalTimeMinutes", "x" * 500),
            "quarantine:bad_minutes",
        ),
        ("LATEST", "end_2099", _set("endDate", "2099-12-31T23:59:59Z"), "loaded"),
        ("LATEST", "end_2100", _set("endDate", "2100-01-01T00:00:00Z"), "quarantine:bad_end_date"),
        ("EARLIEST", "end_2000", _set("endDate", "2000-01-01T00:00:00Z"), "loaded"),
        (
            "EARLIEST",
            "end_1999",
            _set("endDate", "1999-12-31T23:59:59Z"),
            "quarantine:bad_end_date",
        ),
        # within the dates' bounds, then the window's: answered for a window of 2026
        (
            "EARLIEST",
            "start_2000",
            _set("startDate", "2000-01-01T00:00:00Z"),
            "quarantine:start_outside_window",
        ),
        (
            "EARLIEST",
            "start_1999",
            _set("startDate", "1999-12-31T23:59:59Z"),
            "quarantine:bad_start_date",
        ),
        ("WINDOW_SLACK", "start_slack_first", _set("startDate", f"{before:{iso}}"), "loaded"),
        (
            "WINDOW_SLACK",
            "start_before_slack",
            _set("startDate", f"{before - second:{iso}}"),
            "quarantine:start_outside_window",
        ),
        ("WINDOW_SLACK", "start_slack_last", _set("startDate", f"{after:{iso}}"), "loaded"),
        (
            "WINDOW_SLACK",
            "start_after_slack",
            _set("startDate", f"{after + second:{iso}}"),
            "quarantine:start_outside_window",
        ),
        # a slot naming a project the list does not give: asked by id (its answer below)
        ("MAX_CODE_LENGTH", "lookup_code_64", _set("project", {"id": LOOKED_UP + 64}), "loaded"),
        ("MAX_CODE_LENGTH", "lookup_code_65", _set("project", {"id": LOOKED_UP + 65}), "loaded"),
    ]


# the project list's records, and `GET /project/{id}`'s answers (id -> record)
PROJECTS: list[tuple[str, str, dict[str, Any], str]] = [
    ("MAX_CODE_LENGTH", "project_code_64", {"id": LISTED + 64, "projectCode": "C" * 64}, "loaded"),
    (
        "MAX_CODE_LENGTH",
        "project_code_65",
        {"id": LISTED + 65, "projectCode": "C" * 65},
        "quarantine:bad_project_code",
    ),
    ("INT64", "project_id_int64_max", {"id": INT64_MAX, "projectCode": "MAX"}, "loaded"),
    (
        "INT64",
        "project_id_int64_over",
        {"id": INT64_MAX + 1, "projectCode": "O"},
        "quarantine:bad_id",
    ),
    (
        "MAX_TEXT_LENGTH",
        "project_name_1001",
        {"id": LISTED + 1001, "projectCode": "N1001", "projectName": "n" * 1001},
        "dropped",
    ),
]
LOOKUPS = {
    LOOKED_UP + 64: {"id": LOOKED_UP + 64, "projectCode": "L" * 64, "projectName": "sixty-four"},
    LOOKED_UP + 65: {"id": LOOKED_UP + 65, "projectCode": "L" * 65, "projectName": "too long"},
}


def corpus(dataset: Dataset, window: Window) -> list[Boundary]:
    """Every boundary record: the slots first, then the project list's."""
    base = hostile.template(dataset)
    day = datetime.fromisoformat(base["startDate"][:10]).replace(tzinfo=UTC)
    entries = []
    for n, (bound, name, change, expect) in enumerate(_slots(window)):
        start = day + timedelta(hours=2, minutes=n)  # after the hostile corpus' minutes
        record = hostile.slot_at(base, FIRST_ID + n, start)
        change(record)
        entries.append(Boundary(bound, name, record, expect))
    entries += [Boundary(b, name, record, expect) for b, name, record, expect in PROJECTS]
    return entries


def install(dataset: Dataset, entries: list[Boundary]) -> None:
    """Serve the slots in every answer, the projects in the list, the lookups by id."""
    with dataset._lock:
        for entry in entries:
            if entry.name.startswith("project_"):
                dataset.project_records.append(copy.deepcopy(entry.record))
            else:
                dataset.served_always.append(copy.deepcopy(entry.record))
        dataset.unlisted_project_records.update(copy.deepcopy(LOOKUPS))
        dataset.touch()


__all__ = ["LOOKUPS", "PROJECTS", "Boundary", "corpus", "install"]
