"""A no-change drift run reuses staging's side (issue 19: `drift_staging`): the token read
before it must move with every change to what `staging_digests` reads, and only then.

Each test runs the stage on the world of `test_drift_cache` (`reset`: three employees,
heures_synced a table standing in for dbt's view) and watches `staging_digests`: called
when the side is computed, not when it is reused."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa

from batisync.export import drift_cache
from batisync.export.drift_digest import StagingSide, staging_digests
from batisync.export.drift_report import DriftReport
from batisync.export.drift_staging import STAGING_TABLE, read_sides
from batisync.export.heal import check_drift
from batisync.export.model import identity_key
from tests.export.test_drift_cache import NOW, copies, nth, reset, sql  # noqa: F401 (fixture)

MEMORY = "public.batigest_heures_drift"


@dataclass
class Stage:
    """The drift stage on one world, and the runs that computed staging's side."""

    staging: sa.Engine
    batigest: sa.Engine
    computed: list[str] = field(default_factory=list)  # runs that computed staging's side
    current: str = ""

    def run(self, run_id: str, **kwargs: Any) -> DriftReport:
        self.current = run_id
        return check_drift(self.staging, self.batigest, run_id=run_id, now=lambda: NOW, **kwargs)

    def recorded(self) -> dict[str, StagingSide]:
        """The recorded side, which must be what staging's digests are now."""
        with self.staging.connect() as conn:
            token = conn.exec_driver_sql(f"select distinct token from {STAGING_TABLE}")
            side = read_sides(conn, "public", token.scalar_one())
            fresh = staging_digests(conn, "public", "heures_synced", MEMORY, identity_key)
        assert side is not None and (side.sides, side.window) == fresh
        return side.sides


@pytest.fixture
def stage(copies, monkeypatch: pytest.MonkeyPatch) -> Stage:  # noqa: F811 (imported fixture)
    (staging, batigest), _ = copies
    reset(staging, batigest)
    found = Stage(staging, batigest)

    def counting(*args: Any, **kwargs: Any) -> Any:
        found.computed.append(found.current)
        return staging_digests(*args, **kwargs)

    monkeypatch.setattr(drift_cache, "staging_digests", counting)
    return found


def test_a_no_change_run_reuses_the_staging_side_even_with_its_memory_rewritten(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    stage.run("r1")
    sql(stage.batigest, f'delete from dbo."SuiviMO" where ctid = {nth(0)}')  # one of S1's rows
    healed = stage.run("r2")  # staging unchanged: reused, S1 compared (its Batigest side moved)
    assert [(f.kind, f.restored) for f in healed.findings] == [("missing", True)]
    stage.run("r3")  # the memory now holds the restore: computed again
    assert stage.computed == ["r1", "r3"]
    stage.recorded()

    def no_digest(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("staging's digests computed on a no-change run")

    # the memory was rewritten by r3 (new run_id, new xmins), with the same slots
    monkeypatch.setattr(drift_cache, "staging_digests", no_digest)
    again = stage.run("r4")
    assert (again.checked, again.findings) == (12, [])
    with stage.staging.connect() as conn:
        kept = conn.exec_driver_sql("select id_heure, run_id from batigest_heures_drift").all()
    assert kept == [("S1-2-7", "r4")]


MAP = "batigest_heures_map"
MEMORY_ROW = (  # a restore remembered for S2's slot (kept: its hash is the map's)
    "insert into batigest_heures_drift (id_heure, values_hash, restored_kind, restored_at, "
    f"run_id) select id_heure, values_hash, 'missing', now(), 'x' from {MAP} "
    "where id_heure = 'S2-2-7'"
)
# what changes in staging: (statements before the first run, statements between the two)
CHANGES: dict[str, tuple[list[str], list[str]]] = {
    "map row updated in place": ([], [f"update {MAP} set nb_h0 = nb_h0 where id_heure = 'S3-3-8'"]),
    "map row moved in place": (
        [],
        [f"update {MAP} set code_chantier = 'CH9' where id_heure = 'S3-3-8'"],
    ),
    "map row deleted, another inserted": (
        [],
        [
            f"delete from {MAP} where id_heure = 'S3-3-8'",
            f"insert into {MAP} (id_heure, code_chantier, code_salarie, date_sqlserver) "
            "values ('old', 'CH1', 'S3', '2026-01-05 08:00')",
        ],
    ),
    "synced relation rebuilt, same content": (
        [],
        [
            "create table rebuilt as select * from heures_synced",
            "drop table heures_synced",
            "alter table rebuilt rename to heures_synced",
        ],
    ),
    "synced relation refilled in place": (
        [],
        [
            "create temp table copied as select * from heures_synced",
            "truncate heures_synced",
            "insert into heures_synced select * from copied",
        ],
    ),
    "memory row added": ([], [MEMORY_ROW]),
    "memory row removed": ([MEMORY_ROW], ["delete from batigest_heures_drift"]),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_each_change_to_what_staging_digests_read_computes_them_again(
    stage: Stage, change: str
) -> None:
    before, between = CHANGES[change]
    stage.run("r0")  # creates the memory table
    sql(stage.staging, *before)
    stage.run("r1")
    stage.run("r2")  # nothing changed since r1: reused
    sql(stage.staging, *between)
    stage.run("r3")
    stage.run("r4")
    # r3 saw the change; r4 reused r3's side
    assert [r for r in stage.computed if r >= "r2"] == ["r3"]
    stage.recorded()


def test_a_full_check_computes_the_staging_side_and_records_it(stage: Stage) -> None:
    stage.run("r1")
    stage.run("r2", full=True)
    stage.run("r3", dry_run=True)  # reuses, records nothing
    stage.run("r4")
    assert stage.computed == ["r1", "r2"]
    stage.recorded()


def test_the_token_follows_the_tables_under_views_of_views_and_their_definitions(
    stage: Stage,
) -> None:
    sql(
        stage.staging,
        "alter table heures_synced rename to synced_rows",
        "create view synced_valued as select * from synced_rows where nb_h0 is not null",
        "create view heures_synced as select * from synced_valued",
    )
    stage.run("r1")
    stage.run("r2")
    sql(stage.staging, "update synced_rows set nb_h3 = nb_h3 where id_heure = 'S2-2-8'")
    stage.run("r3")
    stage.run("r4")
    sql(  # the same view (its oid), another rule
        stage.staging,
        "create or replace view synced_valued as select * from synced_rows "
        "where nb_h0 is not null and id_heure <> 'S2-2-8'",
    )
    stage.run("r5")
    stage.run("r6")
    assert stage.computed == ["r1", "r3", "r5"]
    assert stage.recorded()["S2"].synced == 3


@pytest.mark.parametrize(
    "where",
    [
        "date_sqlserver > current_date - 3650",  # PostgreSQL 15: a SQLValueFunction
        "date_sqlserver > now() - interval '10 years'",
        "date_sqlserver > first_day()",  # made after initdb: it may read any table
    ],
)
def test_a_synced_view_that_reads_the_clock_or_a_function_is_computed_every_run(
    stage: Stage, where: str
) -> None:
    sql(
        stage.staging,
        "create function first_day() returns date language sql immutable "
        "as $$ select date '2000-01-01' $$",
        "alter table heures_synced rename to synced_rows",
        f"create view heures_synced as select * from synced_rows where {where}",
    )
    stage.run("r1")
    stage.run("r2")
    assert stage.computed == ["r1", "r2"]
    with stage.staging.connect() as conn:
        assert not sa.inspect(conn).has_table(STAGING_TABLE)
