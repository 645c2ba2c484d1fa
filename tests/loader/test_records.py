"""Record checks and the classifier: every record ends loaded or quarantined, never lost."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from batisync.loader import project_lookups, records
from batisync.loader.classify import Classifier, SlotTally, slot_classifier, split_projects
from devstack.fake_batisimply import MALFORMED_KINDS
from tests.loader.helpers import small_dataset

SEEN = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _good() -> dict[str, Any]:
    return {
        "id": 42,
        "startDate": "2026-03-02T06:31:17Z",
        "endDate": "2026-03-02T11:02:59Z",
        "totalTimeMinutes": 271,
        "managementStatus": "VALIDATED",
        "hasPackedLunch": True,
        "hasHomeToWorkJourney": False,
        "user": {"id": "0b7c6a4e-8d1f-4a55-9c5e-2f1a3b4c5d6e", "firstName": "Jean"},
        "project": {"id": 4100, "projectName": "Toiture"},
        "comment": None,
    }


def test_a_good_slot_is_kept_whole_with_its_id_as_text() -> None:
    record = _good()
    row = records.check_slot(record)
    assert isinstance(row, dict)
    assert row["id"] == "42"
    assert row["totalTimeMinutes"] == 271.0
    # every other field untouched, original strings included
    assert {k: v for k, v in row.items() if k not in ("id", "totalTimeMinutes")} == {
        k: v for k, v in record.items() if k not in ("id", "totalTimeMinutes")
    }
    assert record["id"] == 42, "the input record is not modified"


@pytest.mark.parametrize("kind", [k for k in MALFORMED_KINDS if k != "duplicate_id"])
def test_each_malformed_kind_of_the_fake_is_rejected_with_its_name(kind: str) -> None:
    dataset = small_dataset()
    bad = dataset.add_malformed(kind)
    result = records.check_slot(bad)
    assert isinstance(result, records.Rejection)
    assert result.reason == kind


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id": None}, "missing_id"),
        ({"id": "  "}, "missing_id"),
        ({"id": 4.5}, "bad_id"),
        ({"id": True}, "bad_id"),
        ({"startDate": "2026-03-02"}, "bad_start_date"),  # a bare date
        ({"startDate": "2026-03-02T06:31:17"}, "bad_start_date"),  # no zone: ambiguous
        ({"startDate": "2026-13-02T06:31:17Z"}, "bad_start_date"),
        ({"startDate": 1767225600}, "bad_start_date"),
        ({"endDate": None}, "bad_end_date"),
        ({"totalTimeMinutes": None}, "bad_minutes"),
        ({"totalTimeMinutes": "1h30"}, "bad_minutes"),
        ({"totalTimeMinutes": float("nan")}, "bad_minutes"),
        ({"totalTimeMinutes": -5}, "bad_minutes"),
        ({"totalTimeMinutes": True}, "bad_minutes"),
        ({"user": None}, "missing_user"),
        ({"user": {"firstName": "Jean"}}, "missing_user"),
        ({"user": "0b7c6a4e"}, "missing_user"),
        ({"project": {"id": "abc"}}, "bad_project"),
        ({"project": 4100}, "bad_project"),
    ],
)
def test_bad_fields_are_rejected_with_a_reason(change: dict[str, Any], reason: str) -> None:
    result = records.check_slot(_good() | change)
    assert isinstance(result, records.Rejection)
    assert result.reason == reason


@pytest.mark.parametrize("record", [None, 42, "slot", ["a", "list"]])
def test_a_record_that_is_not_an_object_is_rejected(record: Any) -> None:
    result = records.check_slot(record)
    assert isinstance(result, records.Rejection)
    assert result.reason == "not_an_object"


def test_tolerated_variants_are_normalised() -> None:
    row = records.check_slot(
        _good()
        | {
            "id": "a-17",
            "totalTimeMinutes": " 90.5 ",
            "startDate": "2026-03-02T06:31:17.250+01:00",
            "project": {"id": "4103", "projectName": "x"},
        }
    )
    assert isinstance(row, dict)
    assert (row["id"], row["totalTimeMinutes"], row["project"]["id"]) == ("a-17", 90.5, 4103)
    assert row["startDate"] == "2026-03-02T06:31:17.250+01:00", "the original string is kept"
    no_project = records.check_slot({k: v for k, v in _good().items() if k != "project"})
    assert isinstance(no_project, dict), "a slot without project loads; dbt rejects it later"


def test_content_hash_ignores_key_order_only() -> None:
    record = _good()
    reordered = dict(reversed(list(record.items())))
    assert records.content_hash(record) == records.content_hash(reordered)
    assert records.content_hash(record) != records.content_hash(record | {"comment": "RAS"})


def test_quarantine_row_keeps_the_payload_and_says_why() -> None:
    record = _good() | {"totalTimeMinutes": "abc"}
    row = records.quarantine_row("time_slots", record, "bad_minutes", SEEN, detail="d")
    assert row["quarantine_key"] == "time_slots:42"
    assert row["record_id"] == "42"
    assert json.loads(row["payload"]) == record
    assert (row["reason"], row["management_status"]) == ("bad_minutes", "VALIDATED")
    assert row["first_seen_at"] == row["last_seen_at"] == SEEN
    no_id = {k: v for k, v in record.items() if k != "id"}
    keyed = records.quarantine_row("time_slots", no_id, "missing_id", SEEN)
    assert keyed["quarantine_key"] == f"time_slots:md5:{records.content_hash(no_id)}"
    assert keyed["record_id"] is None


def test_classifier_loads_first_occurrence_and_quarantines_later_duplicates() -> None:
    first = _good()
    other = _good() | {"totalTimeMinutes": 301, "comment": "doublon"}
    same_again = copy.deepcopy(first)
    tally = SlotTally()
    classifier = slot_classifier(SEEN, {}, tally)
    batch = classifier.classify([first, other])
    later = classifier.classify([same_again])  # the same record in another answer
    assert [r["totalTimeMinutes"] for r in batch.rows] == [271.0]
    assert batch.rows[0]["_fetched_at"] == SEEN
    assert batch.rows[0]["_deleted_at"] is None
    assert batch.rows[0]["_content_hash"] == records.stored_hash(records.content_hash(first))
    assert [(q["reason"], json.loads(q["payload"])) for q in batch.bad] == [("duplicate_id", other)]
    assert later.rows == [] and later.bad == []
    assert (tally.fetched, tally.loaded, tally.repeated) == (3, 1, 1)
    assert tally.quarantined == {"duplicate_id": 1}


def test_two_bad_records_with_one_id_are_both_kept() -> None:
    bad_minutes = _good() | {"totalTimeMinutes": "abc"}
    bad_user = _good() | {"user": None}
    classifier = Classifier("time_slots", records.check_slot, SEEN)
    batch = classifier.classify([bad_minutes, bad_user, bad_minutes])
    keys = [q["quarantine_key"] for q in batch.bad]
    assert len(keys) == 2 and len(set(keys)) == 2
    assert keys[0] == "time_slots:42"
    assert keys[1] == f"time_slots:42:md5:{records.content_hash(bad_user)}"
    assert classifier.tally.repeated == 1


def test_quarantine_keeps_the_first_time_a_record_was_seen() -> None:
    earlier = datetime(2026, 1, 5, tzinfo=UTC)
    classifier = slot_classifier(SEEN, {"time_slots:42": earlier}, SlotTally())
    (row,) = classifier.classify([_good() | {"user": None}]).bad
    assert (row["first_seen_at"], row["last_seen_at"]) == (earlier, SEEN)


def test_every_record_is_accounted_for() -> None:
    dataset = small_dataset()
    for kind in MALFORMED_KINDS:
        dataset.add_malformed(kind)
    answer = [*dataset.slots.values(), *dataset.malformed, "garbage", None]
    classifier = slot_classifier(SEEN, {}, SlotTally())
    batch = classifier.classify(answer)
    tally = classifier.tally
    assert tally.fetched == len(answer)
    assert len(batch.rows) + len(batch.bad) + tally.repeated == len(answer)
    assert len(batch.rows) == len(dataset.slots)
    assert sorted(tally.quarantined.elements()) == sorted(
        [*MALFORMED_KINDS, "not_an_object", "not_an_object"]
    )


def test_projects_are_split_like_slots() -> None:
    answer = [
        {"id": 4100, "projectCode": "C26001", "projectName": "A"},
        {"id": "4103", "projectCode": None},
        {"projectCode": "C26009"},
        {"id": 4100, "projectCode": "C26999"},
        "nonsense",
    ]
    batch, tally = split_projects(answer, SEEN)
    # issue 12: a project listed again with another code is loaded too, so that dbt sees
    # both codes (`project_two_codes`) instead of the loader picking the first
    assert [(r["id"], r["projectCode"]) for r in batch.rows] == [
        (4100, "C26001"),
        (4103, None),
        (4100, "C26999"),
    ]
    assert all("_content_hash" in r for r in batch.rows)
    assert sorted(q["reason"] for q in batch.bad) == ["missing_id", "not_an_object"]
    assert {q["resource"] for q in batch.bad} == {"projects"}
    assert (tally.fetched, tally.loaded) == (5, 3)


def test_an_unchanged_slot_costs_a_hash_compare_not_the_checks() -> None:
    """A record whose id and stored hash are raw's is not checked again; it is counted
    unchanged, its project (no code of its own) still looked up, the window still held."""
    from batisync.loader.window import Window

    same, edited, moved = _good(), _good() | {"id": 43}, _good() | {"id": 44}
    moved["startDate"] = "2026-01-02T06:31:17Z"  # answered for March: outside it
    raw = {str(r["id"]): records.stored_hash(records.content_hash(r)) for r in (same, moved)}
    edited_before = records.stored_hash(records.content_hash(edited | {"comment": "x"}))
    checked: list[Any] = []

    def check(record: Any) -> Any:
        checked.append(record["id"])
        return records.check_slot(record)

    tally = SlotTally()
    classifier = Classifier("time_slots", check, SEEN, tally=tally)
    classifier.compare_with(raw | {"43": edited_before})
    march = Window(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC))
    batch = classifier.classify([same, edited, moved], march)

    assert checked == [43]
    assert [row["id"] for row in batch.rows] == ["43"]
    assert tally.unchanged_ids == ["42"]
    assert [(q["record_id"], q["reason"]) for q in batch.bad] == [("44", "start_outside_window")]
    assert tally.projects_without_code == {4100}
    again = classifier.classify([copy.deepcopy(same)], march)  # in a second answer
    assert again.rows == [] and again.bad == [] and tally.repeated == 1


# the window's bounds with a fraction of a second (rounded inwards by the text path) and
# starts around both: the API's shape, fractions, offsets, impossible values, other texts
_START = datetime(2026, 1, 5, 0, 0, 0, 250_000, tzinfo=UTC)
_END = datetime(2026, 3, 10, 23, 59, 59, tzinfo=UTC)
_NEAR = st.sampled_from([_START - records.bounds.WINDOW_SLACK, _END + records.bounds.WINDOW_SLACK])
_STARTS = st.one_of(
    st.builds(
        lambda at, shift, shape: shape(at + timedelta(microseconds=shift)),
        _NEAR,
        st.integers(-3_000_000, 3_000_000),
        st.sampled_from(
            [
                lambda m: f"{m:%Y-%m-%dT%H:%M:%SZ}",
                lambda m: f"{m:%Y-%m-%dT%H:%M:%S.%fZ}",
                lambda m: f"{m.astimezone(timezone(timedelta(hours=2))):%Y-%m-%dT%H:%M:%S+02:00}",
            ]
        ),
    ),
    st.sampled_from(["2026-01-04T25:00:00Z", "2026-03-11T23:59:60Z", "2026-13-01T00:00:00Z"]),
    st.text(max_size=22).map(lambda t: t + "Z"),
    st.none(),
    st.integers(),
)


@given(start=_STARTS)
def test_the_window_check_on_the_api_shape_agrees_with_the_parsed_moment(start: Any) -> None:
    """The window check compares the API's own shape as text: the same answer as the
    parsed moment's (a start that does not parse is not the window check's to refuse)."""
    moment = records.parse_api_timestamp(start)
    low, high = _START - records.bounds.WINDOW_SLACK, _END + records.bounds.WINDOW_SLACK
    inside = moment is None or low <= moment <= high
    found = records.check_in_window({"startDate": start}, _START, _END)
    assert (found is None) == inside
    if found is not None:
        assert found.reason == records.START_OUTSIDE_WINDOW


_PROJECT_IDS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(["7", " 7 ", "x", "1" * 25]),
    st.floats(),
)
_CODES = st.one_of(
    st.none(),
    st.text(max_size=5),
    st.sampled_from(["", "  ", "A\x00", "\ud800"]),
    st.integers(),
    st.lists(st.integers(), max_size=2),
)


@given(project_id=_PROJECT_IDS, code=_CODES, twice=st.booleans())
@example(project_id=7, code="AB", twice=True)
@example(project_id="7", code=" ", twice=True)
def test_an_unchanged_slot_names_the_project_its_row_would(
    project_id: Any, code: Any, twice: bool
) -> None:
    """The project without a code the loader reads from an unchanged record (remembered
    per id and code) is the one `without_code` finds in the row the checks make of it."""
    record = _good() | {"project": {"id": project_id, "projectCode": code}}
    checked = records.check_slot(record)
    if isinstance(checked, records.Rejection):
        return  # only records that pass the checks are compared with their raw row
    expected = next(iter(project_lookups.without_code([checked])), None)
    for _ in range(1 + twice):  # a second time: from what was remembered
        assert project_lookups.record_without_code(record) == expected


def test_a_stored_hash_is_the_md5_of_the_checks_version_and_the_content_md5() -> None:
    """The raw rows' `_content_hash` of every earlier load: one formula, or every slot
    would be written again on the next load."""
    content = records.content_hash(_good())
    expected = hashlib.md5(f"checks {records.CHECKS_VERSION}:{content}".encode()).hexdigest()
    assert records.stored_hash(content) == expected
    assert records.stored_hash(content) == expected  # the prefix is not consumed
