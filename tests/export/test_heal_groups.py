"""The drift stage checks employees by groups (issue 19: memory follows the window): the
report, SuiviMO and the memory must be those of a single pass, whatever the group size."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa

from batisync.export import run_export
from batisync.export.drift import employee_groups
from batisync.export.heal import check_drift
from batisync.export.model import identity_key, sqlserver_key
from devstack.batigest import create_standin
from tests.export.helpers import (
    drift_memory,
    insert_suivimo,
    push,
    suivimo,
    write_marts,
    write_synced,
)

NOW = datetime(2026, 3, 3, 6, tzinfo=UTC)


def K(hour: int, cs: str, day: int = 2) -> tuple[str, str, datetime]:
    return ("CH1", cs, datetime(2026, 3, day, hour))


def where(key) -> str:
    return f"\"CodeSalarie\" = '{key[1]}' and \"Date\" = '{key[2]}'"


def sql(engine: sa.Engine, *statements: str) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


SLOTS = [
    push("A", *K(8, "S1")),
    push("B", *K(9, "S1")),
    push("W", *K(10, "S1")),
    push("D", *K(8, "S2")),
    push("E", *K(9, "S2")),
    push("F", *K(8, "S3")),
    push("H", *K(14, "S3")),  # mapped, not in heures_synced (history, a rejected slot)
    push("G", *K(8, "S4")),
    push("I", *K(9, "S4", day=3)),
    push("J", *K(8, "S5")),
    push("L", *K(8, "S5", day=1)),
]


def world(staging: sa.Engine, batigest: sa.Engine) -> None:
    """Eleven slots of five employees exported; then people change SuiviMO by hand."""
    write_marts(staging, SLOTS)
    run_export(staging, batigest)
    write_synced(staging)
    sql(staging, "delete from heures_synced where id_heure = 'H'")
    insert_suivimo(batigest, [(*K(8, "S5"), 1, 0, 0)])  # J's key doubled
    sql(
        batigest,
        f'delete from dbo."SuiviMO" where {where(K(8, "S1"))}',  # A
        f'update dbo."SuiviMO" set "NbH0" = 5 where {where(K(10, "S1"))}',  # W
        f'update dbo."SuiviMO" set "NbH4" = 1 where {where(K(9, "S2"))}',  # E
        # F deleted: the other row of S3 that day is H's, mapped: not a move by hand
        f'delete from dbo."SuiviMO" where {where(K(8, "S3"))}',
        f'update dbo."SuiviMO" set "Date" = \'2026-03-02 15:00\' where {where(K(8, "S4"))}',
        f'update dbo."SuiviMO" set "NbH3" = 1 where {where(K(8, "S5", day=1))}',  # L
    )


def second_round(staging: sa.Engine, batigest: sa.Engine) -> None:
    """A deleted again; W leaves heures_synced (still mapped), L leaves the map."""
    sql(batigest, f'delete from dbo."SuiviMO" where {where(K(8, "S1"))}')
    sql(
        staging,
        "delete from heures_synced where id_heure in ('W', 'L')",
        "delete from batigest_heures_map where id_heure = 'L'",
    )


def outcome(staging: sa.Engine, batigest: sa.Engine, group_rows: int):
    report = check_drift(staging, batigest, run_id="r", now=lambda: NOW, group_rows=group_rows)
    return (
        report.checked,
        report.findings,
        report.counts(),
        report.summary_line(),
        suivimo(batigest),
        drift_memory(staging),
    )


def test_the_report_is_the_same_whatever_the_group_size(
    new_database: Callable[[str], str],
) -> None:
    engines = [sa.create_engine(new_database(name)) for name in ("sa", "ba", "sb", "bb")]
    try:
        (staging_a, batigest_a, staging_b, batigest_b) = engines
        for staging, batigest in ((staging_a, batigest_a), (staging_b, batigest_b)):
            create_standin(batigest.url.render_as_string(hide_password=False)).dispose()
            world(staging, batigest)
        one_each = outcome(staging_a, batigest_a, group_rows=1)  # one employee a group
        single = outcome(staging_b, batigest_b, group_rows=10**9)  # everything at once
        assert one_each == single
        kinds = {f.id_heure: (f.kind, f.restored) for f in single[1]}
        assert kinds == {
            "A": ("missing", True),
            "W": ("changed", True),
            "E": ("changed", True),
            "F": ("missing", True),
            "G": ("moved_by_hand", False),
            "J": ("duplicated", False),
            "L": ("changed", True),
        }
        assert single[0] == 10

        for staging, batigest in ((staging_a, batigest_a), (staging_b, batigest_b)):
            second_round(staging, batigest)
        one_each = outcome(staging_a, batigest_a, group_rows=1)
        single = outcome(staging_b, batigest_b, group_rows=10**9)
        assert one_each == single
        assert {f.id_heure: (f.kind, f.new) for f in single[1]} == {
            "A": ("contested", True),
            "G": ("moved_by_hand", False),
            "J": ("duplicated", False),
        }
        # W's restore is remembered from its map row; L, no longer mapped, is forgotten
        assert [m[0] for m in single[5]] == ["A", "E", "F", "G", "J", "W"]
    finally:
        for engine in engines:
            engine.dispose()


def test_codes_the_collation_takes_for_one_employee_share_a_group() -> None:
    counts = {"ab": 3, "AB ": 2, "Ab": 1, "cd": 4, "ef": 5, "gh": 1}
    groups = employee_groups(counts, sqlserver_key, budget=1, max_codes=1000)
    assert groups == [["AB ", "Ab", "ab"], ["cd"], ["ef"], ["gh"]]
    assert employee_groups(counts, identity_key, budget=6, max_codes=1000) == [
        ["AB ", "Ab", "ab"],  # 2 + 1 + 3 rows
        ["cd"],
        ["ef", "gh"],
    ]
    assert employee_groups(counts, identity_key, budget=100, max_codes=2) == [
        ["AB ", "Ab"],
        ["ab", "cd"],
        ["ef", "gh"],
    ]
