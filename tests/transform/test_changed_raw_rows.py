"""Issue 19: the data tests of a row's own columns on `stg_batisimply__time_slots` read
only the raw rows written since the last complete sync (macros/changed_rows.sql,
`__raw_written_since_last_complete_sync__`; docs/INCREMENTAL.md, "Data tests").

A bad raw row (no id, an unknown status) written by a load up to the last complete
sync's generation is not read again; one written after it, or with no generation, is.
Every row is read when the sync did not say that its inputs are the last complete
sync's (a new dbt project: raw rows are not rewritten), without a since, with a since
given by hand, and under --full-refresh. The filter reaches the raw table's scan.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from batisync.orchestrate.since import write_since
from devstack.pg import EmbeddedPostgres
from tests.transform.helpers import RAW_DDL, Staging, failing, insert_slots, make_staging, slot

pytestmark = pytest.mark.slow

VIEW = "stg_batisimply__time_slots"
BUILD = (
    "build",
    "--select",
    VIEW,
    "--exclude-resource-type",
    "unit_test",
    "--indirect-selection",
    "cautious",
)
NOT_NULL_ID = f"not_null_{VIEW}_time_slot_id"
STATUS_VALUES = (
    f"accepted_values_{VIEW}_management_status__VALIDATED__TO_VALIDATE__REFUSED__IN_PROGRESS"
)


@pytest.fixture
def staging(pg: EmbeddedPostgres, tmp_path: Path) -> Staging:
    made = make_staging(pg, "changed_raw", tmp_path)
    # as a sync passes it: the since read from transform_since (never by hand)
    staging = Staging(
        made.url, {**made.env, "BATISYNC_SINCE_GENERATION": "", "BATISYNC_SINCE_FROM_TABLE": "1"}
    )
    staging.execute(RAW_DDL)
    staging.execute(
        "alter table raw_batisimply.time_slots add column _generation bigint, "
        "alter column id drop not null"
    )
    start = datetime.now(UTC).replace(hour=7, minute=0, second=0) - timedelta(days=3)
    insert_slots(staging, [slot("a", start), slot("b", start + timedelta(hours=2))])
    # the bad row: no id (not_null fails) and a status outside the list (accepted_values
    # warns), written by the load of generation 2
    insert_slots(staging, [slot(None, start, status="bogus")])  # type: ignore[arg-type]
    staging.execute("update raw_batisimply.time_slots set _generation = 1")
    staging.execute("update raw_batisimply.time_slots set _generation = 2 where id is null")
    return staging


def set_since(staging: Staging, since: int | None, *, same_inputs: bool) -> None:
    dsn = staging.url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        write_since(conn, "public", since, same_inputs=same_inputs)


def bad_row_read(staging: Staging, *more: str, **env: str) -> bool:
    """Whether the staging tests read the bad row (checked on both of its tests)."""
    result = Staging(staging.url, {**staging.env, **env}).dbt(*BUILD, *more)
    assert not result.error, result.summary()
    failed, warned = failing(result), {w.name for w in result.warnings}
    assert (NOT_NULL_ID in failed) == (STATUS_VALUES in warned), result.summary()
    return NOT_NULL_ID in failed


def test_tests_read_the_raw_rows_written_since_the_last_complete_sync(staging: Staging) -> None:
    # the last complete sync read generation 2: the bad row passed its tests then
    set_since(staging, 2, same_inputs=True)
    assert not bad_row_read(staging)
    # written by a load after it (a run that failed since, this run's own load)
    staging.execute("update raw_batisimply.time_slots set _generation = 3 where id is null")
    assert bad_row_read(staging)
    # no generation (a load that died before stamping it)
    staging.execute("update raw_batisimply.time_slots set _generation = null where id is null")
    assert bad_row_read(staging)


def test_every_row_is_read_unless_the_inputs_are_the_last_complete_syncs(
    staging: Staging,
) -> None:
    set_since(staging, 2, same_inputs=True)
    assert not bad_row_read(staging)
    assert bad_row_read(staging, "--full-refresh")
    # the dbt project (a new test), a setting or the window changed since that sync
    set_since(staging, 2, same_inputs=False)
    assert bad_row_read(staging)
    set_since(staging, None, same_inputs=True)  # no complete sync yet
    assert bad_row_read(staging)
    set_since(staging, 2, same_inputs=True)
    assert bad_row_read(staging, BATISYNC_SINCE_GENERATION="2")  # a since given by hand
    staging.execute("drop table public.transform_since")
    staging.execute("create table public.transform_since (since_generation bigint)")
    staging.execute("insert into public.transform_since values (2)")
    assert bad_row_read(staging)  # written by a sync before `same_inputs` existed


def plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(n for child in plan.get("Plans", []) for n in plan_nodes(child))]


def test_the_filter_reaches_the_raw_table_scan(staging: Staging) -> None:
    """The tests' filter on `raw_generation` is applied by the scan of the raw table,
    before the view's casts and conversions (not above the view, on every row)."""
    set_since(staging, 2, same_inputs=True)
    assert not bad_row_read(staging)
    compiled = Path(staging.env["DBT_TARGET_PATH"], "compiled", "batisync", "models")
    tests = sorted((compiled / "staging" / "batisimply" / "_batisimply__models.yml").glob("*"))
    limited = {p.name: p.read_text() for p in tests if "raw_generation" in p.read_text()}
    # the six not_null and the accepted_values; unique stays whole
    assert len(limited) == 7 and not any(n.startswith("unique_") for n in limited), limited
    for name, sql in limited.items():
        (explained,) = staging.rows(f"explain (format json) {sql}")
        plan = explained["QUERY PLAN"]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        scans = [n for n in plan_nodes(plan[0]["Plan"]) if n.get("Relation Name") == "time_slots"]
        assert scans, name
        for scan in scans:
            assert "(_generation > 2)" in scan.get("Filter", ""), (name, scan)
