"""Issue 17, the loader's side of "the no-change skip never skips unfinished work":
every load commits a new staging generation before it writes; a load says whatever it
changed that dbt reads (deletions confirmed, the reference tables); a new version of
the record checks re-examines the slots already in staging; `GET /project/{id}`
answers go through the bounds of every API value."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from batisync.loader import generation, records, tables
from batisync.loader.project_lookups import FOUND, NOT_FOUND, REFUSED, lookup_row
from devstack.batigest import create_standin, seed_chantiers, seed_salaries
from devstack.fake_batisimply import Dataset
from tests.loader.helpers import Loader, query, small_dataset

# the loader's small dataset (tests/loader/helpers.py) for the `dataset` and `api` fixtures
pytestmark = pytest.mark.dataset(factory=small_dataset)

CURRENT = f"select generation, written_by from {generation.GENERATION_TABLE}"
NOW = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)


def test_the_generation_table_lives_with_the_raw_tables() -> None:
    assert generation.RAW_BATISIMPLY == tables.RAW_BATISIMPLY


def test_each_load_commits_a_new_generation_before_it_writes(
    load: Loader, dataset: Dataset, staging_url: str
) -> None:
    first = load(written_by="sync 20260310T060000Z-abcdef")
    assert first.generation is not None and first.generation.before is None
    # a table created afresh starts from the clock: beyond any value counted before it
    assert first.generation.after > 1_700_000_000 * 10**6
    assert query(staging_url, CURRENT) == [(first.generation.after, "sync 20260310T060000Z-abcdef")]

    second = load()  # nothing changed upstream: the generation moves all the same
    assert second.changes() == []
    assert second.generation == generation.Generation(
        first.generation.after, first.generation.after + 1
    )
    assert query(staging_url, CURRENT) == [(second.generation.after, "load")]
    assert second.to_dict()["generation"] == {
        "before": first.generation.after,
        "after": first.generation.after + 1,
    }


def test_a_failed_load_has_committed_its_generation(
    load: Loader, dataset: Dataset, staging_url: str
) -> None:
    from batisync.loader.pipeline import LoadError

    before = load().generation
    assert before is not None
    with pytest.raises(LoadError):  # Batigest unreachable: raw is left untouched...
        load(batigest_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    # ...but a sync after it cannot tell: the generation says "written since"
    assert query(staging_url, CURRENT)[0][0] == before.after + 1


def test_confirmed_deletions_are_a_change(load: Loader, dataset: Dataset) -> None:
    load(chunk_days=10)
    victim = sorted(dataset.slots, key=int)[5]
    dataset.delete(victim)
    marked = load(chunk_days=10)
    assert (marked.changed()["deleted"], marked.changed()["confirmed"]) == (1, 0)
    confirming = load(chunk_days=10)  # a second complete fetch misses it too
    assert confirming.changed()["total"] == 0
    assert confirming.changed()["confirmed"] == 1
    assert confirming.changes() == ["1 deletions confirmed"]
    assert load(chunk_days=10).changes() == []  # confirmed once


def test_the_reference_tables_count_as_changes(
    load: Loader, dataset: Dataset, batigest_url: str
) -> None:
    engine = create_standin(batigest_url)
    seed_salaries(engine, [(r["Code"], r["Nom"], r["codebs"]) for r in dataset.salarie_rows()])
    codes = [p.code for p in dataset.projects if p.code]
    seed_chantiers(engine, codes)
    assert load(batigest_url=batigest_url).reference_changed  # the first load: all new
    assert load(batigest_url=batigest_url).changes() == []
    with engine.begin() as conn:  # a chantier closed in Batigest: slots may now be rejected
        conn.execute(sa.text('delete from dbo."ChantierDef" where "Code" = :c'), {"c": codes[0]})
    engine.dispose()
    changed = load(batigest_url=batigest_url)
    assert changed.changed()["total"] == 0  # no slot, project or Salarie changed...
    assert changed.reference_changed == ["chantiers", "chantier_check"]  # ...but this did
    assert load(batigest_url=batigest_url).changes() == []

    # a project the list no longer gives: asked by id, a new lookup row
    dataset.unlist_project(dataset.projects[0].id)
    unlisted = load(batigest_url=batigest_url)
    assert "project_lookups" in unlisted.reference_changed


def test_a_new_version_of_the_checks_re_examines_unchanged_slots(
    load: Loader, dataset: Dataset, staging_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load()
    n = first.resources["time_slots"].new
    assert n > 10
    assert load().resources["time_slots"].unchanged == n  # skipped before dlt by hash
    comments = "select count(*) from raw_batisimply.time_slots where comment = 'checks v2'"

    # new checks that make another row of the same record (here: a comment of their own)
    made_by = records.slot_row
    monkeypatch.setattr(
        records, "slot_row", lambda *args, **kw: made_by(*args, **kw) | {"comment": "checks v2"}
    )
    stale = load()  # without a new version, raw keeps the rows the old checks made
    assert stale.resources["time_slots"].unchanged == n
    assert query(staging_url, comments) == [(0,)]

    # the version is part of the stored hash: every slot goes through the new checks
    monkeypatch.setattr(records, "CHECKS_VERSION", records.CHECKS_VERSION + 1)
    again = load()
    slots = again.resources["time_slots"]
    assert (slots.unchanged, slots.changed, slots.new) == (0, n, 0)
    # the projects too: a sync after this load runs its transform
    assert again.changes() == [f"{n + len(dataset.project_records)} changed"]
    assert query(staging_url, comments) == [(n,)]
    assert load().resources["time_slots"].unchanged == n  # then skipped again


# -- GET /project/{id} answers, bounded like every API value ------------------------------


def test_a_lookup_answer_within_the_bounds_is_kept() -> None:
    row, bad = lookup_row(7, {"id": 7, "projectCode": " C7 ", "projectName": "Sept"}, NOW)
    assert bad is None
    assert (row["project_code"], row["project_name"], row["lookup_status"]) == ("C7", "Sept", FOUND)
    numeric, _ = lookup_row(8, {"projectCode": 1234}, NOW)  # a numeric code is a code
    assert (numeric["project_code"], numeric["lookup_status"]) == ("1234", FOUND)
    missing, _ = lookup_row(9, None, NOW)  # a 404
    assert (missing["project_code"], missing["lookup_status"]) == (None, NOT_FOUND)
    # a code too long for SuiviMO but within the bounds: kept, dbt says code_too_long
    long, bad = lookup_row(10, {"id": 10, "projectCode": "X" * 64}, NOW)
    assert bad is None and long["project_code"] == "X" * 64


@pytest.mark.parametrize(
    "code",
    ["C" * 1_000_000, "C" * 65, "AB\x00CD", {"code": "C1"}, ["C1"], 12.5, 10**30, "\ud800"],
    ids=["1MB", "65", "NUL", "object", "list", "float", "huge-int", "lone-surrogate"],
)
def test_a_lookup_answer_outside_the_bounds_is_quarantined(code: object) -> None:
    first_seen = {"project_lookups:11": datetime(2026, 1, 1, tzinfo=UTC)}
    row, bad = lookup_row(11, {"id": 11, "projectCode": code, "projectName": "x"}, NOW, first_seen)
    assert (row["project_code"], row["project_name"], row["lookup_status"]) == (None, None, REFUSED)
    assert bad is not None
    assert (bad["quarantine_key"], bad["resource"], bad["record_id"]) == (
        "project_lookups:11",
        "project_lookups",
        "11",
    )
    assert bad["reason"] == records.BAD_PROJECT_CODE
    assert bad["detail"].startswith("GET /project/11: projectCode ")
    assert len(bad["detail"]) <= 1000
    assert bad["first_seen_at"] == datetime(2026, 1, 1, tzinfo=UTC)  # kept across runs


def test_a_1mb_code_by_id_is_quarantined_not_stored(
    load: Loader, dataset: Dataset, staging_url: str
) -> None:
    project = dataset.projects[0]
    dataset.unlist_project(project.id)
    dataset.unlisted_project_records[project.id]["projectCode"] = "C" * 1_000_000
    report = load()
    assert report.resources["projects"].reasons == {"bad_project_code": 1}
    assert query(
        staging_url,
        "select project_code, lookup_status from raw_batisimply.project_lookups where id = :i",
        i=project.id,
    ) == [(None, REFUSED)]
    kept = query(
        staging_url,
        "select resource, reason, length(payload) from raw_batisimply.quarantine "
        "where quarantine_key = :k",
        k=f"project_lookups:{project.id}",
    )
    assert len(kept) == 1 and kept[0][:2] == ("project_lookups", "bad_project_code")
    assert kept[0][2] > 1_000_000  # the answer as it came, nothing lost
    longest = query(
        staging_url, "select max(length(project_code)) from raw_batisimply.project_lookups"
    )
    assert longest[0][0] is None or longest[0][0] <= 64
