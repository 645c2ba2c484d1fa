"""Issue 19: a load where nothing changed costs its fetch and a compare. It starts no
dlt pipeline and imports no dlt, writes what dlt's load of the same rows would have
(the bookkeeping by our own SQL), and any change of one resource still goes through
dlt and lands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from batisync.loader.pipeline import LoadReport
from devstack.fake_batisimply import Dataset, FakeBatiSimply
from tests.loader.helpers import (
    fresh_interpreter_load,
    load_ids,
    query,
    raw_content,
    small_dataset,
)

pytestmark = pytest.mark.dataset(factory=small_dataset)


def test_a_no_change_load_starts_no_dlt_pipeline(
    full_world: Callable[..., LoadReport], pipelines: list[str], staging_url: str
) -> None:
    report = full_world()

    assert pipelines == []
    counts = report.resources["time_slots"]
    assert (counts.new, counts.changed, counts.deleted, report.reference_changed) == (0, 0, 0, [])
    at = report.fetched_at
    for table, column in (
        ("raw_batisimply.quarantine", "last_seen_at"),
        ("raw_batisimply.project_lookups", "looked_up_at"),
        ("raw_batigest.chantier_check", "checked_at"),
        ("raw_batisimply.time_slots_last_fetch", "fetched_at"),
    ):
        assert query(staging_url, f"select distinct {column} from {table}") == [(at,)], table
    # dbt's source freshness reads the projects' and salarie's load id
    for table in ("raw_batisimply.projects", "raw_batigest.salarie"):
        loaded = query(
            staging_url, f"select distinct to_timestamp(_dlt_load_id::float) from {table}"
        )
        assert [abs((t - at).total_seconds()) < 1 for (t,) in loaded] == [True], table


def test_a_no_change_load_imports_no_dlt(
    full_world: Callable[..., LoadReport],
    api: FakeBatiSimply,
    staging_url: str,
    batigest_url: str,
    tmp_path: Path,
) -> None:
    answer = fresh_interpreter_load(api, staging_url, batigest_url, tmp_path / "dlt")
    assert answer == {"changed": 0, "modules": []}


def test_a_no_change_load_writes_what_dlt_would_have(
    full_world: Callable[..., LoadReport], staging_url: str, copy_of: Callable[[str], str]
) -> None:
    """The same staging twice (a copy), loaded again with nothing changed: through our
    SQL on one, forced through dlt on the other; the raw tables end up the same."""
    forced_url = copy_of(staging_url)
    before = load_ids(staging_url)

    ours = full_world()
    forced = full_world(staging_url=forced_url, always_dlt=True)

    assert ours.to_dict()["resources"] == forced.to_dict()["resources"]
    assert (ours.changes(), ours.reference_changed) == (forced.changes(), [])
    assert ours.generation == forced.generation  # the copy carried the generation too
    mine = raw_content(staging_url, before, ours.fetched_at)
    theirs = raw_content(forced_url, before, forced.fetched_at)
    assert mine.keys() == theirs.keys()
    for table in mine:
        assert mine[table] == theirs[table], table


def _rename_project(dataset: Dataset, url: str) -> Callable[[], bool]:
    record = dataset.project_records[0]
    record["projectName"] = "renamed"
    dataset.touch()
    sql = "select project_name from raw_batisimply.projects where id = :i"
    return lambda: query(url, sql, i=record["id"]) == [("renamed",)]


def _salarie_code(dataset: Dataset, url: str, batigest_url: str) -> Callable[[], bool]:
    code = dataset.salarie_rows()[0]["Code"]
    engine = sa.create_engine(batigest_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text('update dbo."Salarie" set codebs = :b where "Code" = :c'),
            {"b": "x-new-codebs", "c": code},
        )
    engine.dispose()
    sql = "select codebs from raw_batigest.salarie where code = :c"
    return lambda: query(url, sql, c=code) == [("x-new-codebs",)]


def _lookup_answer(dataset: Dataset, url: str) -> Callable[[], bool]:
    project_id = dataset.projects[0].id
    dataset.unlisted_project_records[project_id]["projectCode"] = "LOOKEDUP"
    dataset.touch()
    sql = "select project_code from raw_batisimply.project_lookups where id = :i"
    return lambda: query(url, sql, i=project_id) == [("LOOKEDUP",)]


def _quarantined_again(
    dataset: Dataset, url: str, full_world: Callable[..., LoadReport], pipelines: list[str]
) -> Callable[[], bool]:
    """A slot gone bad (quarantined by one load) comes back with other bad content."""
    record_id = sorted(dataset.slots, key=int)[0]
    dataset.slots[record_id]["totalTimeMinutes"] = "n/a"
    dataset.touch(record_id)
    full_world()
    pipelines.clear()
    dataset.slots[record_id]["totalTimeMinutes"] = "still n/a"
    dataset.touch(record_id)
    sql = "select payload from raw_batisimply.quarantine where record_id = :i"
    return lambda: ["still n/a" in p for (p,) in query(url, sql, i=record_id)] == [True]


def _chantier_closed(dataset: Dataset, url: str, batigest_url: str) -> Callable[[], bool]:
    code = next(p.code for p in dataset.projects if p.code)
    engine = sa.create_engine(batigest_url)
    with engine.begin() as conn:
        conn.execute(sa.text('delete from dbo."ChantierDef" where "Code" = :c'), {"c": code})
    engine.dispose()
    sql = "select count(*) from raw_batigest.chantiers where code = :c"
    return lambda: query(url, sql, c=code) == [(0,)]


@pytest.mark.parametrize(
    ("change", "pipeline"),
    [
        ("project renamed", None),
        ("salarie codebs", "batisync_batigest"),
        ("lookup answer", None),
        ("quarantined again", None),
        ("chantier closed", "batisync_batigest"),
    ],
)
def test_a_change_in_one_small_resource_goes_through_dlt(
    full_world: Callable[..., LoadReport],
    dataset: Dataset,
    staging_url: str,
    batigest_url: str,
    pipelines: list[str],
    change: str,
    pipeline: str | None,
) -> None:
    landed = {
        "project renamed": lambda: _rename_project(dataset, staging_url),
        "salarie codebs": lambda: _salarie_code(dataset, staging_url, batigest_url),
        "lookup answer": lambda: _lookup_answer(dataset, staging_url),
        "quarantined again": lambda: _quarantined_again(
            dataset, staging_url, full_world, pipelines
        ),
        "chantier closed": lambda: _chantier_closed(dataset, staging_url, batigest_url),
    }[change]()

    full_world()

    # BatiSimply rows that fit the stored tables: our SQL (sql_write.py), no pipeline
    started = [pipeline] if pipeline else []
    assert pipelines == started  # only the pipeline with something to write
    assert landed()
    full_world()  # and the next load, nothing changed again, starts none
    assert pipelines == started
