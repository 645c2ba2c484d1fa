"""The hostile corpus: malformed, absurd and oversized records an API could send.

Each entry is a time slot (or any JSON value) built from one healthy slot of a dataset,
with what must become of it: `quarantine:<reason>` (the loader refuses it),
`rejected:<reason>` (dbt's `heures_rejected` reports it) or `pushed` (odd but valid: it
reaches SuiviMO). `install` serves them on the fake API in every answer, whatever the
window, so that even a slot dated in year 9999 reaches the loader. Used by the tests
(`tests/orchestrate/test_hostile.py`) and by `make reliability`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from batisync.loader.records import record_id
from devstack.fake_batisimply import Dataset

MB = 1_048_576
FIRST_ID = 900_000
# projects the corpus adds: listed twice with two codes, a code longer than SuiviMO's
# CodeChantier (8), a 1 MB code
TWO_CODES, LONG_CODE, HUGE_CODE = 990_001, 990_002, 990_003


@dataclass(frozen=True)
class Hostile:
    name: str
    record: Any
    expect: str  # quarantine:<reason> | rejected:<reason> | pushed

    @property
    def slot_id(self) -> str | None:
        """The id the loader keys it by, when it has a usable one."""
        return record_id(self.record)


def _set(name: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda record: record.__setitem__(name, value)


def _drop(name: str) -> Callable[[dict[str, Any]], None]:
    return lambda record: record.pop(name, None)


def _project(project_id: int) -> Callable[[dict[str, Any]], None]:
    return _set("project", {"id": project_id})


def _deep(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        value = {"nested": value}
    return value


# (name, change of the healthy slot, expected fate)
MUTATIONS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    # the three records that stopped every run (issue 12)
    ("start_year_9999", _set("startDate", "9999-12-31T23:30:00Z"), "quarantine:bad_start_date"),
    ("id_1mb", _set("id", "x" * MB), "quarantine:bad_id"),
    ("minutes_1e300", _set("totalTimeMinutes", 1e300), "quarantine:bad_minutes"),
    # absurd slots that were pushed
    ("minutes_1e12", _set("totalTimeMinutes", 10**12), "quarantine:bad_minutes"),
    ("start_year_1", _set("startDate", "0001-01-01T08:00:00Z"), "quarantine:bad_start_date"),
    ("project_two_codes", _project(TWO_CODES), "rejected:project_two_codes"),
    # accepted without a reason
    ("status_lowercase", _set("managementStatus", "validated"), "rejected:unknown_status"),
    ("status_padded", _set("managementStatus", " VALIDATED"), "rejected:unknown_status"),
    ("status_other", _set("managementStatus", "ARCHIVED"), "rejected:unknown_status"),
    ("code_too_long", _project(LONG_CODE), "rejected:code_too_long"),
    # its project list record is refused, and so is GET /project/{id}'s answer (issue 17:
    # the same bounds): quarantined bad_project_code both times, its slots have no code
    ("code_1mb", _project(HUGE_CODE), "rejected:no_project_code"),
    # plausibility
    ("minutes_1441", _set("totalTimeMinutes", 1441), "rejected:too_many_minutes"),
    ("minutes_100000", _set("totalTimeMinutes", 100_000), "rejected:too_many_minutes"),
    ("end_before_start", None, "rejected:end_not_after_start"),  # set in corpus()
    ("end_equals_start", None, "rejected:end_not_after_start"),
    ("start_2015", _set("startDate", "2015-06-01T08:00:00Z"), "rejected:start_outside_window"),
    # ids
    ("id_nul", _set("id", "12\x003"), "quarantine:bad_id"),
    ("id_float", _set("id", 1.5), "quarantine:bad_id"),
    ("id_bool", _set("id", True), "quarantine:bad_id"),
    ("id_list", _set("id", [1]), "quarantine:bad_id"),
    ("id_object", _set("id", {"id": 1}), "quarantine:bad_id"),
    ("id_10e30", _set("id", 10**30), "quarantine:bad_id"),
    ("id_missing", _drop("id"), "quarantine:missing_id"),
    ("id_blank", _set("id", "   "), "quarantine:missing_id"),
    # dates
    ("start_garbage", _set("startDate", "not-a-date"), "quarantine:bad_start_date"),
    ("start_feb_31", _set("startDate", "2026-02-31T07:00:00Z"), "quarantine:bad_start_date"),
    ("start_epoch_number", _set("startDate", 1_700_000_000), "quarantine:bad_start_date"),
    ("start_null", _set("startDate", None), "quarantine:bad_start_date"),
    ("start_1mb", _set("startDate", "2" * MB), "quarantine:bad_start_date"),
    ("end_year_9999", _set("endDate", "9999-12-31T23:59:00Z"), "quarantine:bad_end_date"),
    ("end_garbage", _set("endDate", {"when": "later"}), "quarantine:bad_end_date"),
    # minutes
    ("minutes_negative", _set("totalTimeMinutes", -5), "quarantine:bad_minutes"),
    ("minutes_text", _set("totalTimeMinutes", "abc"), "quarantine:bad_minutes"),
    ("minutes_null", _set("totalTimeMinutes", None), "quarantine:bad_minutes"),
    ("minutes_bool", _set("totalTimeMinutes", True), "quarantine:bad_minutes"),
    ("minutes_10e400", _set("totalTimeMinutes", 10**400), "quarantine:bad_minutes"),
    ("minutes_list", _set("totalTimeMinutes", [60]), "quarantine:bad_minutes"),
    # user, project, status, flags
    ("user_missing", _drop("user"), "quarantine:missing_user"),
    ("user_text", _set("user", "u-1"), "quarantine:missing_user"),
    ("user_id_1mb", _set("user", {"id": "u" * MB}), "quarantine:bad_user"),
    ("user_id_nul", _set("user", {"id": "ab\x00cd"}), "quarantine:bad_user"),
    ("project_text", _set("project", "P1"), "quarantine:bad_project"),
    ("project_id_float", _set("project", {"id": 1.5}), "quarantine:bad_project"),
    ("project_id_10e30", _set("project", {"id": 10**30}), "quarantine:bad_project"),
    ("status_1mb", _set("managementStatus", "V" * MB), "quarantine:bad_status"),
    ("status_object", _set("managementStatus", {"code": "VALIDATED"}), "quarantine:bad_status"),
    ("lunch_yes", _set("hasPackedLunch", "yes"), "quarantine:bad_flag"),
    ("journey_object", _set("hasHomeToWorkJourney", {"a": 1}), "quarantine:bad_flag"),
    # odd but valid: pushed
    ("fields_3000", None, "pushed"),
    ("nested_200", _set("extra", _deep(200)), "pushed"),
    ("comment_1mb", _set("comment", "c" * MB), "pushed"),
    ("comment_nul", _set("comment", "a\x00b"), "pushed"),
    ("comment_unicode", _set("comment", "chantier é 漢字 🚧"), "pushed"),
    ("keys_clashing", _set("Id", "other"), "pushed"),
    ("minutes_as_text", _set("totalTimeMinutes", "90"), "pushed"),
    ("minutes_full_day", _set("totalTimeMinutes", 1440), "pushed"),
    ("flags_as_text", _set("hasPackedLunch", "true"), "pushed"),
    ("offset_start", None, "pushed"),  # +02:00 instead of Z
]
# not even objects: quarantined by content
NON_OBJECTS: list[tuple[str, Any]] = [
    ("text", "a time slot"),
    ("number", 42),
    ("null", None),
    ("array", [1, 2, 3]),
]
PROJECTS: list[Any] = [
    {"id": TWO_CODES, "projectCode": "TWO1", "projectName": "listed twice"},
    {"id": TWO_CODES, "projectCode": "TWO2", "projectName": "listed twice"},
    {"id": LONG_CODE, "projectCode": "TOOLONG123", "projectName": "code of 10"},
    {"id": HUGE_CODE, "projectCode": "C" * MB, "projectName": "code of 1 MB"},
    {"id": 10**30, "projectCode": "BIG"},
    {"id": "x" * MB, "projectCode": "HUGEID"},
    {"projectCode": "NOID"},
    "not a project",
]


def template(dataset: Dataset) -> dict[str, Any]:
    """The latest VALIDATED slot of an employee with a Salarie, on a coded project."""
    coded = {p.id for p in dataset.projects if p.code is not None}
    slots = [
        s
        for s in dataset.validated_slots()
        if s["project"]["id"] in coded
        and (e := dataset.employee(s["user"]["id"])) is not None
        and e.code is not None
    ]
    return max(slots, key=lambda s: (s["startDate"], s["id"]))


def slot_at(base: dict[str, Any], record_id: int, start: datetime) -> dict[str, Any]:
    """A copy of `base` as the 30-minute slot `record_id` starting at `start`."""
    record = copy.deepcopy(base)
    record |= {
        "id": record_id,
        "startDate": f"{start:%Y-%m-%dT%H:%M:%S}Z",
        "endDate": f"{start + timedelta(minutes=30):%Y-%m-%dT%H:%M:%S}Z",
        "totalTimeMinutes": 30,
    }
    return record


def corpus(dataset: Dataset) -> list[Hostile]:
    """Every hostile record, each on its own night minute of the template's day (01:00Z
    on, where the generator puts nothing), so that no two can share a SuiviMO key."""
    base = template(dataset)
    day = datetime.fromisoformat(base["startDate"][:10]).replace(tzinfo=UTC)
    entries = []
    for n, (name, change, expect) in enumerate(MUTATIONS):
        start = day + timedelta(hours=1, minutes=n)
        record = slot_at(base, FIRST_ID + n, start)
        if name == "end_before_start":
            record["endDate"] = f"{start - timedelta(minutes=30):%Y-%m-%dT%H:%M:%S}Z"
        elif name == "end_equals_start":
            record["endDate"] = record["startDate"]
        elif name == "fields_3000":
            record |= {f"field{i}": i for i in range(3000)}
        elif name == "offset_start":
            record["startDate"] = f"{start.astimezone(ZoneInfo('Europe/Paris')).isoformat()}"
        elif change is not None:
            change(record)
        entries.append(Hostile(name, record, expect))
    entries += [
        Hostile(f"not_object_{name}", value, "quarantine:not_an_object")
        for name, value in NON_OBJECTS
    ]
    return entries


def fate_mismatches(staging_url: str, entries: list[Hostile]) -> list[str]:
    """The entries whose fate in staging is not the expected one (empty when all are)."""
    from devstack.verify import staging_rows

    quarantined = dict(
        staging_rows(
            staging_url,
            "select record_id, reason from raw_batisimply.quarantine where record_id is not null",
        )
    )
    reasons = {
        r[0] for r in staging_rows(staging_url, "select reason from raw_batisimply.quarantine")
    }
    rejected = dict(staging_rows(staging_url, "select id_heure, reason from heures_rejected"))
    mapped = {r[0] for r in staging_rows(staging_url, "select id_heure from batigest_heures_map")}
    wrong = []
    for entry in entries:
        fate, _, reason = entry.expect.partition(":")
        slot_id = entry.slot_id
        if fate == "pushed":
            found = "pushed" if slot_id in mapped and slot_id not in rejected else "not pushed"
            ok = found == "pushed"
        elif fate == "rejected":
            found, ok = f"rejected:{rejected.get(slot_id)}", rejected.get(slot_id) == reason
            ok = ok and slot_id not in mapped
        elif slot_id is not None:
            found = f"quarantine:{quarantined.get(slot_id)}"
            ok = quarantined.get(slot_id) == reason and slot_id not in mapped
        else:  # no usable id: keyed by content
            found, ok = f"reasons {sorted(reasons)}", reason in reasons
        if not ok:
            wrong.append(f"{entry.name}: expected {entry.expect}, found {found}")
    return wrong


def install(dataset: Dataset, entries: list[Hostile], *, projects: bool = True) -> None:
    """Serve `entries` in every time slot answer (and the corpus' projects)."""
    with dataset._lock:
        dataset.served_always.extend(copy.deepcopy(e.record) for e in entries)
        if projects:
            dataset.project_records.extend(copy.deepcopy(PROJECTS))
        dataset.touch()


def uninstall(dataset: Dataset) -> None:
    with dataset._lock:
        dataset.served_always.clear()
        dataset.project_records[:] = [p for p in dataset.project_records if p not in PROJECTS]
        dataset.touch()


__all__ = [
    "PROJECTS",
    "Hostile",
    "corpus",
    "fate_mismatches",
    "install",
    "slot_at",
    "template",
    "uninstall",
]
