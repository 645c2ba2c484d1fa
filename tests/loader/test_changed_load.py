"""Issue 19: a load with changed rows that fit the tables staging holds writes them by our
own SQL (`loader/sql_write.py`: COPY, then delete + insert by key in one transaction),
not through dlt: the same raw rows as dlt's merge, no dlt imported; a row that needs a
new column, or a value its column cannot take, still goes through dlt."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from batisync.loader import tables
from batisync.loader.fit import NoFit, fitted, slot_columns
from batisync.loader.pipeline import LoadReport
from devstack.fake_batisimply import Dataset, FakeBatiSimply
from tests.loader.helpers import (
    LEAN_TEMP_TABLES,
    fresh_interpreter_load,
    load_ids,
    query,
    raw_content,
    small_dataset,
)

pytestmark = pytest.mark.dataset(factory=small_dataset)

World = Callable[..., LoadReport]


def _slot_ids(dataset: Dataset) -> list[str]:
    return sorted(dataset.slots, key=int)


def _a_days_changes(dataset: Dataset, staging_url: str) -> None:
    """Slots edited, moved, added, deleted, quarantined, given a comment and a creation
    time (a timestamp column dlt made from the API's text)."""
    ids = _slot_ids(dataset)
    dataset.change_minutes(ids[1], 95)
    dataset.move_slot(ids[2], 30)
    dataset.set_flags(ids[3], packed_lunch=True)
    dataset.delete(ids[4])
    dataset.slots[ids[5]]["totalTimeMinutes"] = "n/a"  # quarantined
    dataset.slots[ids[6]]["comment"] = "chantier é 漢字 🚧 'quoted' \\ back\tslash"
    dataset.slots[ids[7]]["createdAt"] = "2026-03-05T10:11:12.345+02:00"
    for slot_id in ids[5:8]:
        dataset.touch(slot_id)
    slot = dataset.slots[ids[8]]
    dataset.add_slot(slot["user"]["id"], slot["project"]["id"], datetime(2026, 3, 9, 7), 60)


def _projects_changed(dataset: Dataset, staging_url: str) -> None:
    """A project renamed, another listed for the first time: the projects replaced."""
    dataset.project_records[0]["projectName"] = "renamed"
    dataset.project_records.append({**dataset.project_records[1], "id": 990_123})
    dataset.touch()


def _every_slot_rewritten(dataset: Dataset, staging_url: str) -> None:
    """Every slot's stored hash differs (the hostile ones' too): all are written again.
    (A new CHECKS_VERSION would change the projects' hashes too: then dlt writes all.)"""
    engine = sa.create_engine(staging_url)
    with engine.begin() as conn:
        conn.execute(sa.text("update raw_batisimply.time_slots set _content_hash = 'stale'"))
    engine.dispose()


@pytest.mark.parametrize("change", [_a_days_changes, _projects_changed, _every_slot_rewritten])
def test_a_changed_load_writes_what_dlts_merge_would_have(
    full_world: World,
    dataset: Dataset,
    staging_url: str,
    copy_of: Callable[[str], str],
    pipelines: list[str],
    change: Callable[[Dataset, str], None],
) -> None:
    """The same changes on two copies of one staging: by our SQL on one, forced through
    dlt on the other; the raw tables end up the same (but dlt's row and load ids)."""
    change(dataset, staging_url)
    forced_url = copy_of(staging_url)
    before = load_ids(staging_url)

    at = datetime.now(UTC)  # one time for both: a deletion mark is stamped `now()`
    ours = full_world(now=lambda: at)
    assert pipelines == []  # no dlt
    forced = full_world(staging_url=forced_url, always_dlt=True, now=lambda: at)
    assert pipelines == ["batisync_batisimply", "batisync_batigest"]

    assert ours.changes() != []
    assert ours.to_dict()["resources"] == forced.to_dict()["resources"]
    assert ours.changes() == forced.changes()
    mine = raw_content(staging_url, before, ours.fetched_at)
    theirs = raw_content(forced_url, before, forced.fetched_at)
    assert mine.keys() == theirs.keys()
    for table in mine:
        assert mine[table] == theirs[table], table
    # each row its own dlt row id; the rows written, this load's id (as the no-change
    # path makes it)
    new_ids: set[str] = set()
    for table in ("time_slots", "quarantine", "project_lookups", "projects"):
        rows = query(staging_url, f"select _dlt_id, _dlt_load_id from raw_batisimply.{table}")
        assert len({row_id for row_id, _ in rows}) == len(rows), table
        new_ids |= {i for _, i in rows} - before[f"raw_batisimply.{table}"]
    assert new_ids == {str(at.timestamp())}


def test_a_changed_load_imports_no_dlt(
    full_world: World,
    dataset: Dataset,
    api: FakeBatiSimply,
    staging_url: str,
    batigest_url: str,
    tmp_path: Path,
) -> None:
    dataset.change_minutes(_slot_ids(dataset)[1], 95)

    answer = fresh_interpreter_load(api, staging_url, batigest_url, tmp_path / "dlt")

    assert answer == {"changed": 1, "modules": []}


def _value_its_column_cannot_take(dataset: Dataset) -> tuple[str, str]:
    slot_id = _slot_ids(dataset)[1]
    dataset.slots[slot_id]["createdAt"] = "yesterday"  # created_at is a timestamp column
    dataset.touch(slot_id)
    return slot_id, (
        "select created_at__v_text = 'yesterday' from raw_batisimply.time_slots where id = :i"
    )


def test_a_value_its_column_cannot_take_goes_through_dlt(
    full_world: World,
    dataset: Dataset,
    staging_url: str,
    pipelines: list[str],
) -> None:
    slot_id, landed = _value_its_column_cannot_take(dataset)

    report = full_world()

    assert pipelines == ["batisync_batisimply"]
    assert report.resources["time_slots"].changed == 1
    assert query(staging_url, landed, i=slot_id) == [(True,)]


@pytest.fixture
def older_tables() -> Iterator[Callable[[], None]]:
    """Until called, loads create the time slots as an older version did: no column
    for the optional fields (dlt made each at the first value it saw)."""
    with pytest.MonkeyPatch.context() as patch:  # its own: `undo` undoes only this
        patch.setattr(tables, "OPTIONAL_SLOT_COLUMNS", {})
        yield patch.undo


def test_a_new_column_hands_every_row_to_dlt_as_fetched(
    older_tables: Callable[[], None],
    full_world: World,
    dataset: Dataset,
    staging_url: str,
    copy_of: Callable[[str], str],
    pipelines: list[str],
) -> None:
    """A field staging has no column for, in the last chunk: the rows staged before it
    are read back from the temp tables and handed to dlt with the rest; the raw tables
    end up as when dlt wrote every row."""
    older_tables()
    ids = sorted(dataset.slots, key=lambda i: dataset.slots[i]["startDate"])
    assert query(staging_url, _HAS_UPDATED_AT) == [(False,)]
    dataset.change_minutes(ids[0], 95)  # first chunk: staged, then read back
    dataset.slots[ids[-1]]["updatedAt"] = "2026-03-08T09:00:00Z"  # last chunk
    dataset.touch(ids[-1])
    forced_url = copy_of(staging_url)
    before = load_ids(staging_url)

    at = datetime.now(UTC)
    ours = full_world(now=lambda: at)
    assert pipelines == ["batisync_batisimply"]
    forced = full_world(staging_url=forced_url, always_dlt=True, now=lambda: at)

    assert ours.resources["time_slots"].changed == 2
    assert ours.changes() == forced.changes()
    assert query(staging_url, _HAS_UPDATED_AT) == [(True,)]
    mine = raw_content(staging_url, before, ours.fetched_at)
    theirs = raw_content(forced_url, before, forced.fetched_at)
    for table in theirs:
        assert mine[table] == theirs[table], table
    assert query(staging_url, LEAN_TEMP_TABLES) == [(0,)]


_HAS_UPDATED_AT = (
    "select count(*) > 0 from information_schema.columns "
    "where table_schema = 'raw_batisimply' and table_name = 'time_slots' "
    "and column_name = 'updated_at'"
)


TABLE = {
    "id": "character varying",
    "user__id": "character varying",
    "total_time_minutes": "double precision",
    "created_at": "timestamp with time zone",
    "project__id": "bigint",
}


def test_a_row_fits_only_columns_staging_has_with_values_their_type_takes() -> None:
    row = {"id": "7", "user": {"id": "u"}, "totalTimeMinutes": 90, "comment": None}
    assert fitted(slot_columns(row), TABLE) == {
        "id": "7",
        "user__id": "u",
        "total_time_minutes": 90.0,
    }
    moment = fitted({"created_at": "2026-03-05T10:11:12.345+02:00"}, TABLE)["created_at"]
    assert moment == datetime(2026, 3, 5, 8, 11, 12, 345000, tzinfo=UTC)
    for columns in (
        {"comment": "text"},  # no such column
        {"created_at": "2026-03-05 10:11"},  # not the API's shape: dlt decides
        {"created_at": "2026-02-31T10:00:00Z"},
        {"project__id": "12"},
        {"project__id": True},
    ):
        with pytest.raises(NoFit):
            fitted(columns, TABLE)
    with pytest.raises(NoFit):
        slot_columns({"id": "7", "someNewField": 1})
