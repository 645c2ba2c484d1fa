"""Issue 12: a deleted slot's row is retracted (HEURES_ON_GONE=delete) only once dbt says
its deletion is confirmed (`heures_gone.is_retractable`)."""

from __future__ import annotations

from datetime import datetime

from batisync.export import ExportOptions, Marts, run_export
from batisync.export.model import GoneRow
from tests.export.helpers import gone, map_rows, push, row, suivimo


def K(hour: int) -> tuple[str, str, datetime]:
    return ("CH1", "S1", datetime(2026, 3, 2, hour))


def test_gone_rows_are_retractable_unless_dbt_says_otherwise() -> None:
    assert GoneRow.from_mapping(gone("A", K(8))).retractable  # older marts: as before
    assert GoneRow.from_mapping(gone("A", K(8)) | {"is_retractable": True}).retractable
    assert not GoneRow.from_mapping(gone("A", K(8)) | {"is_retractable": False}).retractable


def test_delete_retracts_only_confirmed_deletions(staging_engine, batigest_engine) -> None:
    run_export(staging_engine, batigest_engine, marts=Marts([push("A", *K(8)), push("B", *K(9))]))
    options = ExportOptions(on_gone="delete", retract_max_share=1.0)
    waiting = [gone("A", K(8)) | {"is_retractable": False}]
    first = run_export(staging_engine, batigest_engine, options, marts=Marts([], waiting))
    assert first.retracted == 0
    assert suivimo(batigest_engine) == [row(*K(8)), row(*K(9))]

    confirmed = [gone("A", K(8)) | {"is_retractable": True}]
    second = run_export(staging_engine, batigest_engine, options, marts=Marts([], confirmed))
    assert second.retracted == 1
    assert suivimo(batigest_engine) == [row(*K(9))]
    assert map_rows(staging_engine) == {"B": K(9)}
