"""Issue 19: a first load writes its rows by our own SQL too (`loader/sql_write.py`):
dlt creates the tables with no slot row, then the rows staged in temp tables as they
were fetched are applied. The raw tables are those a load forced through dlt makes:
the same columns (typed as dlt types them) and rows; dlt's bookkeeping is there."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from batisync.loader import sql_write
from batisync.loader.pipeline import LoadReport
from devstack.fake_batisimply import Dataset
from tests.loader.helpers import LEAN_TEMP_TABLES, Loader, query, raw_content, small_dataset

pytestmark = pytest.mark.dataset(factory=small_dataset)


def _both_ways(
    load: Loader, staging_url: str, batigest_url: str, copy_of: Callable[[str], str]
) -> tuple[LoadReport, LoadReport, str]:
    """A first load of the same data into two empty stagings: ours, then one forced
    through dlt. Returns both reports and the forced staging's URL."""
    forced_url = copy_of(staging_url)  # empty, as staging_url still is
    at = datetime.now(UTC)  # one time for both: the load ids and times compare
    ours = load(batigest_url=batigest_url, now=lambda: at)
    forced = load(
        batigest_url=batigest_url, staging_url=forced_url, always_dlt=True, now=lambda: at
    )
    return ours, forced, forced_url


def _same_raw(staging_url: str, forced_url: str, ours: LoadReport, forced: LoadReport) -> None:
    mine = raw_content(staging_url, {}, ours.fetched_at, ours.generation.after)
    theirs = raw_content(forced_url, {}, forced.fetched_at, forced.generation.after)
    assert mine.keys() == theirs.keys()
    for table in theirs:
        assert mine[table] == theirs[table], table


_SLOT_LOAD_IDS = "select distinct _dlt_load_id from raw_batisimply.time_slots"
_DLT_LOADS = "select count(*) from raw_batisimply._dlt_loads where load_id = :i"


def test_a_first_load_by_our_sql_makes_the_tables_dlt_makes(
    full_dataset: Dataset,
    load: Loader,
    staging_url: str,
    batigest_url: str,
    copy_of: Callable[[str], str],
    pipelines: list[str],
) -> None:
    """Every kind of row (slots, the hostile corpus and malformed records in
    quarantine, a project asked by id): the same columns and rows both ways."""
    ours, forced, forced_url = _both_ways(load, staging_url, batigest_url, copy_of)

    assert pipelines == ["batisync_batisimply", "batisync_batigest"] * 2
    assert ours.to_dict()["resources"] == forced.to_dict()["resources"]
    slots = ours.resources["time_slots"]
    assert slots.new > 0 and slots.quarantined > 0
    _same_raw(staging_url, forced_url, ours, forced)
    # the slots were written by our SQL (its load id, in no `_dlt_loads` row), and the
    # tables by dlt (its load is recorded)
    [(slot_load_id,)] = query(staging_url, _SLOT_LOAD_IDS)
    assert slot_load_id == str(ours.fetched_at.timestamp())
    assert query(staging_url, _DLT_LOADS, i=slot_load_id) == [(0,)]
    assert query(staging_url, "select count(*) from raw_batisimply._dlt_loads") == [(1,)]
    [(forced_load_id,)] = query(forced_url, _SLOT_LOAD_IDS)
    assert query(forced_url, _DLT_LOADS, i=forced_load_id) == [(1,)]
    assert query(staging_url, LEAN_TEMP_TABLES) == [(0,)]


def test_tables_dlt_made_otherwise_than_planned_get_their_rows_from_dlt(
    full_dataset: Dataset,
    load: Loader,
    staging_url: str,
    batigest_url: str,
    copy_of: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Rows typed for a column type dlt does not make (planned `text`, made `character
    varying`): the staged rows are read back and written by dlt, none lost."""
    monkeypatch.setitem(sql_write.PG_TYPES, "text", "text")

    ours, forced, forced_url = _both_ways(load, staging_url, batigest_url, copy_of)

    assert "not character varying" not in caplog.text
    assert "is character varying, not text as planned: written by dlt" in caplog.text
    _same_raw(staging_url, forced_url, ours, forced)
    [(slot_load_id,)] = query(staging_url, _SLOT_LOAD_IDS)
    assert query(staging_url, _DLT_LOADS, i=slot_load_id) == [(1,)]  # dlt's load
    assert query(staging_url, LEAN_TEMP_TABLES) == [(0,)]
