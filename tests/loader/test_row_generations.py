"""Issue 19's shared contract: every raw row carries `_generation`, the staging
generation of the load that last changed its content or its deletion marks; an
unchanged row keeps its value, in the tables replaced each run too."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from devstack.batigest import create_standin, seed_chantiers, seed_salaries
from devstack.fake_batisimply import Dataset
from tests.loader.helpers import Loader, query, small_dataset

pytestmark = pytest.mark.dataset(factory=small_dataset)

SLOT_GENERATIONS = "select id, _generation from raw_batisimply.time_slots"
RAW_TABLES = (
    "raw_batisimply.time_slots",
    "raw_batisimply.projects",
    "raw_batisimply.project_lookups",
    "raw_batisimply.quarantine",
    "raw_batigest.salarie",
    "raw_batigest.chantiers",
    "raw_batigest.chantier_check",
)


def generations(url: str, sql: str = SLOT_GENERATIONS) -> dict[str, int]:
    return {str(key): g for key, g in query(url, sql)}


def test_a_row_keeps_its_generation_until_its_content_or_marks_change(
    load: Loader, dataset: Dataset, staging_url: str
) -> None:
    first = load(chunk_days=10)
    assert first.generation is not None
    g1 = first.generation.after
    after_first = generations(staging_url)
    assert after_first and set(after_first.values()) == {g1}

    unchanged = load(chunk_days=10)  # nothing changed upstream: every row keeps g1
    assert unchanged.generation is not None and unchanged.generation.after == g1 + 1
    assert generations(staging_url) == after_first

    ids = sorted(dataset.slots, key=int)
    moved, edited, deleted = ids[3], ids[4], ids[5]
    dataset.move_slot(moved, 30)
    dataset.change_minutes(edited, 61)
    dataset.delete(deleted)
    added = dataset.add_slot(
        dataset.employees[0].id, dataset.projects[0].id, datetime(2026, 3, 2, 7, 0), 90
    )
    changed = load(chunk_days=10)
    assert changed.generation is not None
    g3 = changed.generation.after
    now = generations(staging_url)
    assert {k for k, g in now.items() if g == g3} == {moved, edited, deleted, added}
    assert {g for k, g in now.items() if k not in {moved, edited, deleted, added}} == {g1}

    confirming = load(chunk_days=10)  # the deletion confirmed: a change of its row
    assert confirming.generation is not None
    again = generations(staging_url)
    assert {k for k, g in again.items() if g == confirming.generation.after} == {deleted}


def test_replaced_tables_keep_the_generation_of_unchanged_rows(
    load: Loader, dataset: Dataset, staging_url: str, batigest_url: str
) -> None:
    engine = create_standin(batigest_url)
    rows = dataset.salarie_rows()
    seed_salaries(engine, [(r["Code"], r["Nom"], r["codebs"]) for r in rows])
    codes = [p.code for p in dataset.projects if p.code]
    seed_chantiers(engine, codes)
    dataset.unlist_project(dataset.projects[-1].id)  # asked by id: a project_lookups row
    first = load(batigest_url=batigest_url)
    assert first.generation is not None
    g1 = first.generation.after
    for table in RAW_TABLES:
        nulls = query(staging_url, f"select count(*) from {table} where _generation is null")
        assert nulls == [(0,)], table
    load(batigest_url=batigest_url)
    for table in RAW_TABLES[1:]:  # replaced or merged again, unchanged: g1 kept
        kept = query(staging_url, f"select distinct _generation from {table}")
        assert kept in ([], [(g1,)]), table

    # one Salarie gets another codebs, one project another code, a chantier closes
    with engine.begin() as conn:
        conn.execute(
            sa.text('update dbo."Salarie" set codebs = null where "Code" = :c'),
            {"c": rows[0]["Code"]},
        )
        conn.execute(sa.text('delete from dbo."ChantierDef" where "Code" = :c'), {"c": codes[0]})
    engine.dispose()
    renamed = dataset.project_records[0]
    renamed["projectCode"] = "NEWCODE"
    dataset.touch()
    third = load(batigest_url=batigest_url)
    assert third.generation is not None
    g3 = third.generation.after
    salarie = generations(staging_url, "select code, _generation from raw_batigest.salarie")
    assert salarie[rows[0]["Code"]] == g3
    assert {g for code, g in salarie.items() if code != rows[0]["Code"]} == {g1}
    projects = generations(staging_url, "select id, _generation from raw_batisimply.projects")
    assert projects[str(renamed["id"])] == g3
    assert {g for key, g in projects.items() if key != str(renamed["id"])} == {g1}
    chantiers = generations(staging_url, "select code, _generation from raw_batigest.chantiers")
    assert codes[0] not in chantiers and set(chantiers.values()) == {g1}
