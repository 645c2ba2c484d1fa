"""The trigger-safe path: one SuiviMO row per statement, in an order that writes what the
set-based statements write (the property test in test_property.py compares both with
its oracle); here the ordering itself, and a real statement-level trigger that counts
the rows each statement touches."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa

from batisync.export import ExportOptions, run_export
from batisync.export.model import Values
from batisync.export.plan import Action, Op, RowPlan
from batisync.export.row_by_row import PARK_OFFSET, steps
from tests.export.helpers import insert_suivimo, push, row, suivimo, write_marts

V = Values(Decimal("1"), 0, 0)


def K(hour: int) -> tuple[str, str, datetime]:
    return ("CH1", "S1", datetime(2026, 3, 2, hour))


def move(i: str, old: int, new: int) -> RowPlan:
    return RowPlan(i, Action.MOVE, Op.MOVE, K(old), K(new), V, V)


def test_a_chain_moves_the_far_end_first() -> None:
    order = steps([move("a", 8, 9), move("b", 9, 10)])
    assert [(s.key, s.new_key) for s in order] == [(K(9), K(10)), (K(8), K(9))]


def test_a_swap_parks_one_row_first() -> None:
    order = steps([move("a", 8, 9), move("b", 9, 8)])
    parked = (K(8)[0], K(8)[1], K(8)[2] - PARK_OFFSET)
    assert [(s.key, s.new_key) for s in order] == [
        (K(8), parked),  # a leaves 8 for a key no one reads
        (K(9), K(8)),  # b can now land on 8
        (parked, K(9)),  # a lands on 9
    ]


def test_deletes_then_updates_then_inserts() -> None:
    plans = [
        RowPlan("i", Action.INSERT, Op.INSERT, None, K(11), None, V),
        RowPlan("m", Action.MOVE, Op.MERGE, K(8), K(9), V, V),
        RowPlan("u", Action.UPDATE, Op.UPDATE, K(10), K(10), V, V),
    ]
    assert [s.kind for s in steps(plans)] == ["delete", "update", "update", "insert"]


TRIGGER = """
create table dbo.statement_rows (n integer);
create function dbo.count_rows() returns trigger language plpgsql as $$
begin
  insert into dbo.statement_rows select count(*) from new_rows;
  return null;
end $$;
create trigger suivimo_count_ins after insert on dbo."SuiviMO"
  referencing new table as new_rows for each statement execute function dbo.count_rows();
create trigger suivimo_count_upd after update on dbo."SuiviMO"
  referencing new table as new_rows for each statement execute function dbo.count_rows();
"""


def _rows_per_statement(engine: sa.Engine) -> list[int]:
    with engine.connect() as conn:
        return [n for (n,) in conn.exec_driver_sql("select n from dbo.statement_rows")]


def test_under_a_trigger_each_statement_writes_one_row(staging_engine, batigest_engine) -> None:
    insert_suivimo(batigest_engine, [(*K(8), 1, 0, 0), (*K(9), 1, 0, 0)])
    with batigest_engine.begin() as conn:
        conn.exec_driver_sql(TRIGGER)
    marts = [push("a", *K(10)), push("b", *K(11)), push("c", *K(12))]
    write_marts(staging_engine, marts)
    run_export(staging_engine, batigest_engine, ExportOptions(row_by_row=True))
    assert _rows_per_statement(batigest_engine) == [1, 1, 1]
    expected = sorted([row(*K(8)), row(*K(9)), row(*K(10)), row(*K(11)), row(*K(12))])
    assert suivimo(batigest_engine) == expected


def test_the_set_based_path_writes_a_batch_in_one_statement(staging_engine, batigest_engine):
    with batigest_engine.begin() as conn:
        conn.exec_driver_sql(TRIGGER)
    write_marts(staging_engine, [push("a", *K(10)), push("b", *K(11)), push("c", *K(12))])
    run_export(staging_engine, batigest_engine)
    assert _rows_per_statement(batigest_engine) == [3]  # what a one-row trigger gets wrong
