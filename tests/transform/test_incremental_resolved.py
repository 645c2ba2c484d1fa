"""Issue 19: what the incremental int_time_slots_resolved rewrites (docs/INCREMENTAL.md).

A row changed in raw without a newer `_generation` is *not* rewritten (the filter is
real), one with a newer generation is; a Salarie row removed (a replaced table: no
generation to tell it) is caught by the slot's references_hash; a table built before
the incremental version (no references_hash) is rewritten whole, its columns synced.
`tests/orchestrate/test_incremental_property.py` compares whole syncs with a full refresh.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devstack.pg import EmbeddedPostgres
from tests.transform.helpers import (
    RAW_DDL,
    Staging,
    insert_projects,
    insert_quarantine,
    insert_salaries,
    insert_slots,
    make_staging,
    slot,
)

pytestmark = pytest.mark.slow

RESOLVED = "intermediate.int_time_slots_resolved"
SELECT = ("run", "--select", "+int_time_slots_resolved")


def build(staging: Staging, since: int | None) -> None:
    env = {**staging.env, "BATISYNC_SINCE_GENERATION": "" if since is None else str(since)}
    result = Staging(staging.url, env).dbt(*SELECT)
    assert result.success, result.summary()


def filter_built(staging: Staging) -> str:
    """How the last build filtered the slots: `named` (a list of ids) or `joined`."""
    models = Path(staging.env["DBT_TARGET_PATH"], "compiled", "batisync", "models")
    sql = (models / "intermediate" / "int_time_slots_resolved.sql").read_text()
    if "time_slot_id = any(array[" in sql:
        return "named"
    return "joined" if "in (select time_slot_id from changed_slots)" in sql else "none"


def resolved(staging: Staging) -> dict[str, tuple]:
    rows = staging.rows(
        f"select time_slot_id, total_minutes, code_salarie, resolution_status from {RESOLVED}"
    )
    return {
        r["time_slot_id"]: (r["total_minutes"], r["code_salarie"], r["resolution_status"])
        for r in rows
    }


@pytest.fixture(params=["named", "joined"])
def staging(pg: EmbeddedPostgres, tmp_path: Path, request: pytest.FixtureRequest) -> Staging:
    """Both ways the model filters: the changed ids read at compile time and named
    (`named`), or joined when there are more than BATISYNC_CHANGED_IDS_LIMIT (`joined`)."""
    made = make_staging(pg, "incremental", tmp_path)
    limit = "10000" if request.param == "named" else "0"
    env = {**made.env, "BATISYNC_CHANGED_IDS_LIMIT": limit, "FILTER": request.param}
    staging = Staging(made.url, env)
    staging.execute(RAW_DDL)
    for table in ("raw_batisimply.time_slots", "raw_batisimply.projects", "raw_batigest.salarie"):
        staging.execute(f"alter table {table} add column _generation bigint")
    start = datetime.now(UTC).replace(hour=7, minute=0, second=0) - timedelta(days=3)
    insert_slots(
        staging,
        [slot("a", start, user="uuid-a"), slot("b", start + timedelta(hours=2), user="uuid-b")],
    )
    insert_projects(staging, [(10, "C10")])
    insert_salaries(staging, [("S1", "uuid-a"), ("S2", "uuid-b")])
    for table in ("raw_batisimply.time_slots", "raw_batisimply.projects", "raw_batigest.salarie"):
        staging.execute(f"update {table} set _generation = 1")
    return staging


def test_only_the_slots_whose_inputs_moved_are_rewritten(staging: Staging) -> None:
    build(staging, None)  # the first build: every slot
    assert resolved(staging) == {
        "a": (60, "S1", "resolved"),
        "b": (60, "S2", "resolved"),
    }

    # changed in raw but not stamped newer than the last complete run: left as it was
    staging.execute("update raw_batisimply.time_slots set total_time_minutes = 90")
    build(staging, 1)
    assert resolved(staging)["a"][0] == 60

    # stamped by a later load: rewritten; b, not stamped, is still left alone
    staging.execute("update raw_batisimply.time_slots set _generation = 2 where id = 'a'")
    build(staging, 1)
    assert filter_built(staging) == staging.env["FILTER"]
    assert resolved(staging) == {
        "a": (90, "S1", "resolved"),
        "b": (60, "S2", "resolved"),
    }

    # S2 gone from Salarie (a replaced table keeps no trace of a removed row): b's
    # references moved, b is rewritten, unresolved now
    staging.execute("delete from raw_batigest.salarie where code = 'S2'")
    build(staging, 2)
    assert resolved(staging)["b"] == (90, None, "unresolved")


def test_ids_with_quotes_are_named_as_they_are(staging: Staging) -> None:
    """Slot ids come from the API: quotes, backslashes and braces in one are kept as
    they are in the list of changed ids (a wrong literal would miss the slot, or fail)."""
    start = datetime.now(UTC).replace(hour=7, minute=0, second=0) - timedelta(days=2)
    odd = ["o'brien", "back\\slash", "{brace,comma}", 'quote"d']
    insert_slots(staging, [slot(i, start, user="uuid-a") for i in odd])
    staging.execute("update raw_batisimply.time_slots set _generation = 1")
    build(staging, None)
    staging.execute("update raw_batisimply.time_slots set total_time_minutes = 45, _generation = 2")
    build(staging, 1)
    assert filter_built(staging) == staging.env["FILTER"]
    assert {i: v[0] for i, v in resolved(staging).items()} == dict.fromkeys(["a", "b", *odd], 45)


def stored_hashes(staging: Staging) -> dict[str, str]:
    rows = staging.rows(f"select time_slot_id, references_hash from {RESOLVED}")
    return {r["time_slot_id"]: r["references_hash"] for r in rows}


def test_references_are_compared_only_when_a_reference_table_moved(staging: Staging) -> None:
    """The references digest (macros/incremental.sql) closes the comparison of every
    slot's references_hash when no reference table moved, and opens it when one did, a
    Salarie's codebs alone included (no generation moves: nothing else tells it)."""
    staging.execute("update raw_batigest.salarie set codebs = null where code = 'S2'")
    build(staging, None)
    assert resolved(staging)["b"] == (60, None, "unresolved")
    real = stored_hashes(staging)

    # a stored hash that no longer matches: left alone while no reference table moved
    staging.execute(f"update {RESOLVED} set references_hash = 'stale' where time_slot_id = 'a'")
    build(staging, 1)
    assert stored_hashes(staging)["a"] == "stale"

    # S2's codebs filled in, and nothing else: the comparison runs, b is rewritten
    # (resolved now) and a's stale hash is put right
    staging.execute("update raw_batigest.salarie set codebs = 'uuid-b' where code = 'S2'")
    build(staging, 1)
    assert resolved(staging)["b"] == (60, "S2", "resolved")
    assert stored_hashes(staging)["a"] == real["a"]

    # a refusal cleared by a later fetch of the same content (its fetch time moves, not
    # its generation): the slot is rewritten
    seen = datetime.now(UTC)
    insert_quarantine(staging, "time_slots", "a", "bad_date", "VALIDATED", seen)
    build(staging, 1)
    assert resolved(staging)["a"][2] == "unresolved"
    staging.execute(
        "update raw_batisimply.time_slots set _fetched_at = :t where id = 'a'",
        [{"t": seen + timedelta(minutes=1)}],
    )
    build(staging, 1)
    assert resolved(staging)["a"] == (60, "S1", "resolved")


def test_a_table_built_before_the_incremental_version_is_rewritten_whole(
    staging: Staging,
) -> None:
    build(staging, None)
    before = resolved(staging)
    # as the table version left it: no references_hash, a fetched_at
    staging.execute(
        f"alter table {RESOLVED} drop column references_hash, add column fetched_at timestamptz"
    )
    staging.execute("update raw_batisimply.time_slots set total_time_minutes = 30")
    build(staging, 5)  # nothing newer than 5 in raw: still, every slot is rewritten
    columns = staging.rows(
        "select column_name from information_schema.columns "
        "where table_schema = 'intermediate' and table_name = 'int_time_slots_resolved'"
    )
    names = {c["column_name"] for c in columns}
    assert "references_hash" in names and "fetched_at" not in names
    assert resolved(staging) == {k: (30, *v[1:]) for k, v in before.items()}


def test_data_tests_read_the_rows_written_since_the_last_complete_sync(
    staging: Staging,
) -> None:
    """The tests of a row's own columns (macros/changed_rows.sql) read only the rows a
    sync wrote since the last complete one: a bad row written by an earlier complete run
    is not read again, one written by this run or by a run that failed since is."""
    env = {**staging.env, "BATISYNC_SINCE_GENERATION": "", "BATISYNC_SINCE_FROM_TABLE": "1"}
    sync = Staging(staging.url, env)
    staging.execute("create table public.transform_since (since_generation bigint)")
    staging.execute("insert into public.transform_since values (null)")
    built = sync.dbt(*SELECT)
    assert built.success, built.summary()
    # the first sync: no since, every row stamped -1
    stamps = staging.rows(f"select distinct written_since from {RESOLVED}")
    assert stamps == [{"written_since": -1}]

    staging.execute("update public.transform_since set since_generation = 1")
    staging.execute(f"update {RESOLVED} set resolution_status = 'lost' where time_slot_id = 'a'")
    tests = (
        "test",
        "--select",
        "int_time_slots_resolved",
        "--exclude-resource-type",
        "unit_test",
        "--indirect-selection",
        "cautious",
    )
    passed = sync.dbt(*tests)  # written by a run that completed: not read again
    assert passed.success, passed.summary()

    # written by a run after the last complete one (the failed run's since is this one's)
    staging.execute(f"update {RESOLVED} set written_since = 1 where time_slot_id = 'a'")
    failed = sync.dbt(*tests)
    assert not failed.success
    assert "accepted_values_int_time_slots_resolved_resolution_status" in failed.summary()
    # written outside a sync: read by every run
    staging.execute(f"update {RESOLVED} set written_since = null where time_slot_id = 'a'")
    assert not sync.dbt(*tests).success
