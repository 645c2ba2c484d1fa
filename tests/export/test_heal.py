"""The drift stage on real PostgreSQL (staging + the Batigest stand-in): what it restores,
what it only reports, what it remembers, and that it writes nothing else."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from batisync.export import run_export
from batisync.export.heal import check_drift
from batisync.export.options import ExportOptions
from tests.export.helpers import (
    insert_suivimo,
    libelles,
    push,
    suivimo,
    write_marts,
    write_synced,
)


def K(hour: int, cc: str = "CH1", cs: str = "S1", day: int = 2) -> tuple[str, str, datetime]:
    return (cc, cs, datetime(2026, 3, day, hour))


def where(key) -> str:
    return (
        f"\"CodeChantier\" = '{key[0]}' and \"CodeSalarie\" = '{key[1]}' and \"Date\" = '{key[2]}'"
    )


def by_hand(engine: sa.Engine, *statements: str) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def memory(staging: sa.Engine) -> dict[str, tuple]:
    with staging.connect() as conn:
        rows = conn.exec_driver_sql(
            "select id_heure, restored_kind, reported_kind from batigest_heures_drift"
        ).all()
    return {r[0]: (r[1], r[2]) for r in rows}


@pytest.fixture
def pushed(staging_engine, batigest_engine) -> list[tuple]:
    """Six slots exported on two days and two employees; heures_synced holds them all."""
    slots = [push("A", *K(8)), push("B", *K(9)), push("C", *K(10)), push("D", *K(8, day=3))]
    slots += [push("E", *K(8, cs="S2")), push("F", *K(11))]
    write_marts(staging_engine, slots)
    run_export(staging_engine, batigest_engine)
    write_synced(staging_engine)
    return suivimo(batigest_engine)


def test_rows_deleted_and_edited_by_hand_are_restored_and_nothing_else_is_touched(
    staging_engine, batigest_engine, pushed
) -> None:
    # a row of another employee that day (one of S1's would look like a move by hand)
    insert_suivimo(batigest_engine, [(*K(12, cc="ERP", cs="S9"), 4, 0, 0)], libelle="saisie")
    by_hand(
        batigest_engine,
        f'delete from dbo."SuiviMO" where {where(K(8))}',
        f'update dbo."SuiviMO" set "NbH0" = 3, "Libelle" = \'corrigé\' where {where(K(9))}',
        f'update dbo."SuiviMO" set "NbH3" = 1 where {where(K(8, day=3))}',
    )
    report = check_drift(staging_engine, batigest_engine, run_id="r1")
    assert {(f.id_heure, f.kind, f.restored, f.new) for f in report.findings} == {
        ("A", "missing", True, True),
        ("B", "changed", True, True),
        ("D", "changed", True, True),
    }
    # every slot's row back, the row nobody mapped and the other columns untouched
    assert suivimo(batigest_engine) == sorted([*pushed, (*K(12, cc="ERP", cs="S9"), 4, 0, 0)])
    assert libelles(batigest_engine)[K(9)] == "corrigé"
    assert memory(staging_engine) == {
        "A": ("missing", "missing"),
        "B": ("changed", "changed"),
        "D": ("changed", "changed"),
    }
    again = check_drift(staging_engine, batigest_engine, run_id="r2")
    assert (again.checked, again.findings) == (6, [])
    assert set(memory(staging_engine)) == {"A", "B", "D"}  # restores are remembered


def test_deleted_again_the_same_way_is_contested_and_left_alone(
    staging_engine, batigest_engine, pushed
) -> None:
    by_hand(batigest_engine, f'delete from dbo."SuiviMO" where {where(K(8))}')
    assert check_drift(staging_engine, batigest_engine).findings[0].restored
    by_hand(batigest_engine, f'delete from dbo."SuiviMO" where {where(K(8))}')
    [contested] = check_drift(staging_engine, batigest_engine).findings
    assert (contested.kind, contested.restored, contested.new) == ("contested", False, True)
    [again] = check_drift(staging_engine, batigest_engine).findings
    assert (again.kind, again.new) == ("contested", False)  # reported, no longer new
    assert K(8) not in {r[:3] for r in suivimo(batigest_engine)}

    # its slot changes upstream: the export writes it, the memory is forgotten
    write_marts(staging_engine, [push("A", *K(8), 90)])
    assert run_export(staging_engine, batigest_engine).inserted == 1
    write_synced(staging_engine)
    assert check_drift(staging_engine, batigest_engine).findings == []
    assert "A" not in memory(staging_engine)


def test_a_move_by_hand_and_a_doubled_key_are_reported_never_written(
    staging_engine, batigest_engine, pushed
) -> None:
    by_hand(
        batigest_engine,
        # E's row moved by hand from 8:00 to 14:00 the same day
        f'update dbo."SuiviMO" set "Date" = \'2026-03-02 14:00\' where {where(K(8, cs="S2"))}',
    )
    insert_suivimo(batigest_engine, [(*K(10), 1, 0, 0)], libelle="copie")  # C's key doubled
    before = suivimo(batigest_engine)
    report = check_drift(staging_engine, batigest_engine)
    found = {f.id_heure: f for f in report.findings}
    assert {i: (f.kind, f.restored) for i, f in found.items()} == {
        "E": ("moved_by_hand", False),
        "C": ("duplicated", False),
    }
    assert [r.key for r in found["E"].found] == [K(14, cs="S2")]
    assert suivimo(batigest_engine) == before  # nothing inserted, nothing collapsed
    assert report.counts()["reported_kinds"] == {"moved_by_hand": 1, "duplicated": 1}
    assert all(not f.new for f in check_drift(staging_engine, batigest_engine).findings)


@pytest.mark.parametrize(
    ("options", "dry_run", "why"),
    [
        (ExportOptions(on_drift="report"), False, "HEURES_ON_DRIFT=report"),
        (ExportOptions(), True, "dry run: nothing written"),
        (ExportOptions(accent_insensitive_keys=True), False, "accent-insensitive collation"),
    ],
    ids=["report", "dry-run", "accent-insensitive"],
)
def test_what_only_reports(staging_engine, batigest_engine, pushed, options, dry_run, why) -> None:
    by_hand(batigest_engine, f'delete from dbo."SuiviMO" where {where(K(8))}')
    before = suivimo(batigest_engine)
    [finding] = check_drift(staging_engine, batigest_engine, options, dry_run=dry_run).findings
    assert (finding.kind, finding.restored) == ("missing", False)
    assert finding.why.startswith(why)
    assert suivimo(batigest_engine) == before
    if dry_run:
        assert not sa.inspect(staging_engine).has_table("batigest_heures_drift")


def test_the_trigger_safe_path_restores_too(staging_engine, batigest_engine, pushed) -> None:
    by_hand(
        batigest_engine,
        f'delete from dbo."SuiviMO" where {where(K(8))}',
        f'update dbo."SuiviMO" set "NbH4" = 1 where {where(K(9))}',
    )
    trigger_safe = ExportOptions(row_by_row=True, batch_size=1)
    report = check_drift(staging_engine, batigest_engine, trigger_safe)
    assert sorted(f.id_heure for f in report.restored) == ["A", "B"]
    assert suivimo(batigest_engine) == pushed


def test_nothing_is_checked_before_dbt_built_heures_synced(staging_engine, batigest_engine):
    report = check_drift(staging_engine, batigest_engine)
    assert report.checked == 0 and report.summary_line().startswith("SuiviMO drift: not checked")
