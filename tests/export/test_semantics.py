"""The exporter on real PostgreSQL (staging + the Batigest stand-in): every case of the
seed's semantics, idempotence, dry run, one slot, row isolation, retract, reconcile."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from batisync.export import ExportOptions, Marts, ensure_map, reconcile, run_export
from batisync.export.options import DEFAULT_OPTIONS
from benchmarks.instrument import statement_log
from tests.export.helpers import (
    duplicate_keys,
    gone,
    insert_suivimo,
    libelles,
    map_full,
    map_rows,
    push,
    row,
    suivimo,
    write_marts,
)


def K(hour: int, cc: str = "CH1", cs: str = "S1", day: int = 2) -> tuple[str, str, datetime]:
    return (cc, cs, datetime(2026, 3, day, hour))


def run(
    staging: sa.Engine,
    batigest: sa.Engine,
    to_push,
    heures_gone=(),
    options: ExportOptions = DEFAULT_OPTIONS,
    **per_call,
):
    write_marts(staging, to_push, heures_gone)
    return run_export(staging, batigest, options, **per_call)


DELETING = ExportOptions(on_gone="delete")


def counts(report) -> dict:
    d = report.to_dict()
    return {k: d[k] for k in ("inserted", "updated", "moved", "unchanged", "retracted", "rejected")}


def writes_in(log, engine: str) -> list[str]:
    """INSERT/UPDATE/DELETE statements on SuiviMO or the map (not the batch table)."""
    return [
        s.sql
        for s in log.statements
        if s.engine == engine
        and s.sql.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE")
        and ('"SuiviMO"' in s.sql.split("SELECT")[0] or "batigest_heures_map" in s.sql)
    ]


def test_new_slots_are_inserted_and_recorded_in_the_map(staging_engine, batigest_engine) -> None:
    report = run(
        staging_engine,
        batigest_engine,
        [push("1", *K(8), 50), push("2", *K(9), 90, 1, 1)],
        run_id="r1",
    )
    assert counts(report) == dict(
        inserted=2, updated=0, moved=0, unchanged=0, retracted=0, rejected=0
    )
    assert suivimo(batigest_engine) == [row(*K(8), 50), row(*K(9), 90, 1, 1)]
    [m1, m2] = map_full(staging_engine)
    assert m1[:4] == ("1", *K(8)) and m2[:4] == ("2", *K(9))
    assert m1[7] == push("1", *K(8), 50)["values_hash"]  # the hash dbt gave
    assert m1[8] is not None and m1[9] == "r1"  # pushed_at, run id


def test_key_unchanged_updates_values_or_reinserts_a_missing_row(
    staging_engine, batigest_engine
) -> None:
    run(staging_engine, batigest_engine, [push("1", *K(8), 60), push("2", *K(9), 60)])
    with batigest_engine.begin() as conn:  # people wrote a label; someone deleted row 2
        conn.exec_driver_sql('update dbo."SuiviMO" set "Libelle" = \'hand\'')
        conn.exec_driver_sql(f'delete from dbo."SuiviMO" where "Date" = \'{K(9)[2]}\'')
    report = run(staging_engine, batigest_engine, [push("1", *K(8), 75, 1), push("2", *K(9), 60)])
    assert (report.updated, report.inserted) == (1, 1)
    assert suivimo(batigest_engine) == [row(*K(8), 75, 1), row(*K(9), 60)]
    assert libelles(batigest_engine)[K(8)] == "hand"  # an update keeps the other columns


def test_key_change_moves_the_mapped_row(staging_engine, batigest_engine) -> None:
    run(staging_engine, batigest_engine, [push("1", *K(8), 60)])
    with batigest_engine.begin() as conn:
        conn.exec_driver_sql('update dbo."SuiviMO" set "Libelle" = \'note\'')
    report = run(staging_engine, batigest_engine, [push("1", *K(10, cc="CH2"), 30, old=K(8))])
    assert counts(report)["moved"] == 1
    assert suivimo(batigest_engine) == [row(*K(10, cc="CH2"), 30)]
    assert libelles(batigest_engine) == {K(10, cc="CH2"): "note"}  # the same row, moved
    assert map_rows(staging_engine) == {"1": K(10, cc="CH2")}


def test_key_change_with_the_old_row_gone_upserts_at_the_new_key(
    staging_engine, batigest_engine
) -> None:
    run(staging_engine, batigest_engine, [push("1", *K(8)), push("2", *K(9))])
    insert_suivimo(batigest_engine, [(*K(12), 5, 0, 0)], libelle="foreign")
    with batigest_engine.begin() as conn:
        conn.exec_driver_sql('delete from dbo."SuiviMO"')  # both of ours deleted by hand
    insert_suivimo(batigest_engine, [(*K(12), 5, 0, 0)], libelle="foreign")
    report = run(
        staging_engine,
        batigest_engine,
        [push("1", *K(11), 45, old=K(8)), push("2", *K(12), 45, old=K(9))],
    )
    assert (report.inserted, report.updated) == (1, 1)  # 2 adopts the row at its new key
    assert suivimo(batigest_engine) == [row(*K(11), 45), row(*K(12), 45)]
    assert libelles(batigest_engine)[K(12)] == "foreign"


def test_rows_at_both_keys_update_the_new_and_delete_the_old(
    staging_engine, batigest_engine
) -> None:
    run(staging_engine, batigest_engine, [push("1", *K(8))])
    insert_suivimo(batigest_engine, [(*K(9), 3, 1, 1), (*K(20), 7, 0, 0)], libelle="foreign")
    report = run(staging_engine, batigest_engine, [push("1", *K(9), 30, old=K(8))])
    assert report.moved == 1
    assert suivimo(batigest_engine) == [row(*K(9), 30), (*K(20), 7, 0, 0)]
    assert len(suivimo(batigest_engine)) == 2 and not duplicate_keys(suivimo(batigest_engine))


@pytest.mark.parametrize("batch_size", [1, 1000])
def test_swaps_and_chains_in_one_run(staging_engine, batigest_engine, batch_size) -> None:
    first = [
        push("A", *K(8), 10),
        push("B", *K(9), 20),
        push("C", *K(10), 30),
        push("D", *K(11), 40),
    ]
    run(staging_engine, batigest_engine, first)
    with batigest_engine.begin() as conn:
        conn.exec_driver_sql('update dbo."SuiviMO" set "Libelle" = "NbH0"::text')
    second = [
        push("A", *K(9), 10, old=K(8)),  # swap A and B
        push("B", *K(8), 20, old=K(9)),
        push("C", *K(11), 30, old=K(10)),  # chain: C takes D's key while D moves on
        push("D", *K(12), 40, old=K(11)),
        push("E", *K(10), 50),  # and a new slot takes C's old key
    ]
    report = run(
        staging_engine, batigest_engine, second, options=ExportOptions(batch_size=batch_size)
    )
    assert (report.moved, report.inserted, report.rejected) == (4, 1, [])
    expected = [row(*K(9), 10), row(*K(8), 20), row(*K(11), 30), row(*K(12), 40), row(*K(10), 50)]
    assert suivimo(batigest_engine) == sorted(expected)
    labels = libelles(batigest_engine)  # each row moved with its own other columns
    assert [labels[K(h)] for h in (9, 8, 11, 12, 10)] == [
        "0.166667",
        "0.333333",
        "0.500000",
        "0.666667",
        None,
    ]
    assert map_rows(staging_engine) == {"A": K(9), "B": K(8), "C": K(11), "D": K(12), "E": K(10)}


def test_a_gone_slots_row_is_adopted_and_its_map_row_dropped(
    staging_engine, batigest_engine
) -> None:
    run(staging_engine, batigest_engine, [push("Y", *K(8), 60)])
    report = run(
        staging_engine,
        batigest_engine,
        [push("X", *K(8), 90)],
        [gone("Y", K(8))],  # Y deleted upstream; its row kept (HEURES_ON_GONE=keep)
    )
    assert (report.updated, report.adopted, report.rejected) == (1, 1, [])
    assert suivimo(batigest_engine) == [row(*K(8), 90)]
    assert map_rows(staging_engine) == {"X": K(8)}  # never two map rows for one row


def test_a_key_held_by_a_live_slot_is_rejected(staging_engine, batigest_engine) -> None:
    run(staging_engine, batigest_engine, [push("Y", *K(8), 60)])
    report = run(staging_engine, batigest_engine, [push("X", *K(8), 90)])
    [(id_heure, reason)] = report.rejected
    assert id_heure == "X" and reason.startswith("key_collision: key held by slot Y")
    assert suivimo(batigest_engine) == [row(*K(8), 60)]
    assert map_rows(staging_engine) == {"Y": K(8)}


def test_foreign_rows_are_never_touched(staging_engine, batigest_engine) -> None:
    foreign = [(*K(8, cc="ERP"), 1, 0, 0), (*K(9, cc="ERP"), 2, 0, 0)]
    insert_suivimo(batigest_engine, foreign)
    run(staging_engine, batigest_engine, [push("1", *K(8)), push("2", *K(9))])
    run(
        staging_engine,
        batigest_engine,
        [push("1", *K(10), old=K(8))],
        [gone("2", K(9))],
        ExportOptions(on_gone="delete", retract_max_share=1.0),
    )
    assert suivimo(batigest_engine) == sorted([*foreign, row(*K(10))])


def test_a_second_run_writes_nothing_even_with_a_stale_to_push(
    staging_engine, batigest_engine
) -> None:
    run(staging_engine, batigest_engine, [push("A", *K(8)), push("B", *K(9))])
    # A moves to 10 and a new slot C takes A's old key; to_push is then left as it is
    # (dbt not re-run): its old key for A now points at C's row.
    stale = [push("A", *K(10), old=K(8)), push("C", *K(8), 20), push("B", *K(9), 30)]
    run(staging_engine, batigest_engine, stale)
    before = (suivimo(batigest_engine), map_full(staging_engine))
    with statement_log(b=batigest_engine, s=staging_engine) as log:
        report = run_export(staging_engine, batigest_engine)
    assert counts(report) == dict(
        inserted=0, updated=0, moved=0, unchanged=3, retracted=0, rejected=0
    )
    assert (suivimo(batigest_engine), map_full(staging_engine)) == before
    assert writes_in(log, "b") == [] and writes_in(log, "s") == []
    assert suivimo(batigest_engine) == sorted([row(*K(10)), row(*K(8), 20), row(*K(9), 30)])


def test_dry_run_prints_the_plan_and_writes_nothing(staging_engine, batigest_engine) -> None:
    run(staging_engine, batigest_engine, [push("A", *K(8)), push("B", *K(9)), push("G", *K(7))])
    to_push = [push("A", *K(10), 30, old=K(8)), push("B", *K(9), 45), push("N", *K(11))]
    heures_gone = [gone("G", K(7))]
    before = (suivimo(batigest_engine), map_full(staging_engine))
    options = ExportOptions(on_gone="delete", retract_max_share=1.0)
    dry = run(staging_engine, batigest_engine, to_push, heures_gone, options, dry_run=True)
    assert (suivimo(batigest_engine), map_full(staging_engine)) == before
    lines = sorted(p.describe() for p in dry.plans)
    assert lines == [
        "A: move (CH1, S1, 2026-03-02 08:00:00) NbH0=1.000000 NbH3=0 NbH4=0"
        " -> (CH1, S1, 2026-03-02 10:00:00) NbH0=0.500000 NbH3=0 NbH4=0",
        "B: update (CH1, S1, 2026-03-02 09:00:00) NbH0=1.000000 NbH3=0 NbH4=0"
        " -> (CH1, S1, 2026-03-02 09:00:00) NbH0=0.750000 NbH3=0 NbH4=0",
        "G: retract (CH1, S1, 2026-03-02 07:00:00) NbH0=1.000000 NbH3=0 NbH4=0 -> - -",
        "N: insert - - -> (CH1, S1, 2026-03-02 11:00:00) NbH0=1.000000 NbH3=0 NbH4=0",
    ]
    real = run_export(staging_engine, batigest_engine, options)
    # issue 14: a dry run counts nothing as written; what it would write is under `would`
    assert counts(dry) == dict(inserted=0, updated=0, moved=0, unchanged=0, retracted=0, rejected=0)
    assert counts(dry) | dry.to_dict()["would"] == counts(real)
    assert [p["id_heure"] for p in dry.to_dict()["planned_writes"]] == [
        p.id_heure for p in dry.plans
    ]
    assert sorted((p.id_heure, p.action) for p in real.plans) == sorted(
        (p.id_heure, p.action) for p in dry.plans
    )


def test_id_heure_exports_one_slot(staging_engine, batigest_engine) -> None:
    report = run(
        staging_engine, batigest_engine, [push("1", *K(8)), push("2", *K(9))], id_heure="2"
    )
    assert (report.inserted, len(report.plans)) == (1, 1)
    assert suivimo(batigest_engine) == [row(*K(9))]
    assert map_rows(staging_engine) == {"2": K(9)}


def test_one_bad_row_never_blocks_the_others(staging_engine, batigest_engine) -> None:
    run(staging_engine, batigest_engine, [push("M", *K(8))])
    rows = [
        push("1", *K(9)),
        push("2", "CHANTIER9", "S1", K(10)[2]),  # 9 characters: SuiviMO has varchar(8)
        push("3", *K(11)),
        push("M", "TOOLONG99", "S1", K(12)[2], old=K(8)),  # a move that cannot happen
        push("4", *K(13)),
        {**push("5", *K(14)), "code_salarie": None},  # rejected before any SQL
    ]
    report = run(staging_engine, batigest_engine, rows, options=ExportOptions(batch_size=1000))
    reasons = dict(report.rejected)
    assert set(reasons) == {"2", "M", "5"}
    assert (
        reasons["2"] == reasons["M"] == ("database: value too long for type character varying(8)")
    )
    assert reasons["5"] == "bad_record: missing code_salarie"
    assert report.inserted == 3
    assert suivimo(batigest_engine) == [row(*K(8)), row(*K(9)), row(*K(11)), row(*K(13))]
    assert map_rows(staging_engine) == {"M": K(8), "1": K(9), "3": K(11), "4": K(13)}


def test_retract_policy(staging_engine, batigest_engine) -> None:
    slots = [push(str(i), *K(i)) for i in range(10)]
    run(staging_engine, batigest_engine, slots)
    insert_suivimo(batigest_engine, [(*K(8, cc="ERP"), 1, 0, 0)])
    heures_gone = [gone("1", K(1)), gone("2", K(2), "unvalidated")]

    keep = run(staging_engine, batigest_engine, [], heures_gone)  # default: keep
    assert keep.retracted == 0 and len(suivimo(batigest_engine)) == 11

    refused = run(staging_engine, batigest_engine, [], heures_gone, DELETING)
    assert refused.retracted == 0 and "2 of 10 mapped rows" in refused.warnings[0]
    assert len(suivimo(batigest_engine)) == 11

    forced = run(staging_engine, batigest_engine, [], heures_gone, DELETING, force=True)
    assert forced.retracted == 2
    assert suivimo(batigest_engine) == sorted(
        [row(*K(i)) for i in range(10) if i not in (1, 2)] + [(*K(8, cc="ERP"), 1, 0, 0)]
    )
    assert set(map_rows(staging_engine)) == {str(i) for i in range(10)} - {"1", "2"}
    again = run(staging_engine, batigest_engine, [], heures_gone, DELETING)
    assert again.retracted == 0 and again.warnings == []  # no longer ours: nothing to do


def test_reconcile_reports_drift_and_repairs_it(staging_engine, batigest_engine) -> None:
    run(staging_engine, batigest_engine, [push(str(i), *K(i)) for i in range(6)])
    with batigest_engine.begin() as conn:
        conn.exec_driver_sql(f'delete from dbo."SuiviMO" where "Date" = \'{K(1)[2]}\'')
        conn.exec_driver_sql(f'update dbo."SuiviMO" set "NbH4" = 1 where "Date" = \'{K(2)[2]}\'')
        conn.exec_driver_sql(f'update dbo."SuiviMO" set "NbH3" = 1 where "Date" = \'{K(5)[2]}\'')
    insert_suivimo(batigest_engine, [(*K(3), 1, 0, 0)])  # a copy of row 3: ours is known
    insert_suivimo(batigest_engine, [(*K(5), 2, 0, 0)])  # two rows at 5, neither ours
    report = reconcile(staging_engine, batigest_engine)
    assert (report.missing, report.changed, report.duplicated) == (["1"], ["2"], ["3", "5"])
    # issue 14: each mapped row lands in one class only, so the counts add up
    assert report.ok == 2 and report.checked == 6 and report.repaired == 0 and report.drift == 4
    assert len(suivimo(batigest_engine)) == 7  # only read
    missing = next(f for f in report.findings if f.kind == "missing")
    assert missing.key == K(1) and missing.found == () and "(CH1, S1, " in missing.describe()
    stuck = next(f for f in report.findings if f.id_heure == "5")
    assert not stuck.resolvable and len(stuck.statements) == 2
    assert stuck.statements[0].startswith('DELETE FROM dbo."SuiviMO" WHERE')

    repaired = reconcile(staging_engine, batigest_engine, repair=True)
    assert repaired.repaired == 3 and repaired.drift == 1  # 5: nothing says which is ours
    expected = sorted([row(*K(i)) for i in range(5)])
    assert sorted(r for r in suivimo(batigest_engine) if r[2] != K(5)[2]) == expected
    left = reconcile(staging_engine, batigest_engine)
    assert (left.duplicated, left.drift, left.ok) == (["5"], 1, 5)


@pytest.mark.parametrize("size", [10, 100, 1000])
def test_statements_per_batch_do_not_grow_with_its_size(
    staging_engine, batigest_engine, size
) -> None:
    half = size // 2
    run(
        staging_engine,
        batigest_engine,
        [push(str(i), *K(8, day=1 + i % 28, cs=f"S{i // 28}")) for i in range(half)],
    )
    second = [
        push(
            str(i),
            *K(9, day=1 + i % 28, cs=f"S{i // 28}"),
            30,
            old=K(8, day=1 + i % 28, cs=f"S{i // 28}"),
        )
        if i % 2
        else push(str(i), *K(8, day=1 + i % 28, cs=f"S{i // 28}"), 45)
        for i in range(half)
    ] + [push(f"n{i}", *K(12, day=1 + i % 28, cs=f"S{i // 28}")) for i in range(size - half)]
    write_marts(staging_engine, second)
    with statement_log(b=batigest_engine, s=staging_engine) as log:
        report = run_export(staging_engine, batigest_engine, ExportOptions(batch_size=size))
    assert report.batches == 1 and report.inserted == size - half
    # read, create + load in one (rows with their ops), update (moves + values), insert, drop
    assert log.count("b") == 5
    map_writes = [s for s in log.statements if s.engine == "s" and "batigest_heures_map (" in s.sql]
    assert len(map_writes) == 1


def test_map_ddl_is_the_architecture_one_and_extends_a_seed_era_map(staging_engine) -> None:
    with staging_engine.begin() as conn:  # the seed's own DDL
        conn.exec_driver_sql(
            "create table batigest_heures_map (id_heure varchar primary key, "
            "code_chantier varchar not null, code_salarie varchar not null, "
            "date_sqlserver timestamp not null)"
        )
    ensure_map(staging_engine)
    columns = {
        c["name"]: str(c["type"])
        for c in sa.inspect(staging_engine).get_columns("batigest_heures_map")
    }
    assert columns == {
        "id_heure": "VARCHAR",
        "code_chantier": "VARCHAR",
        "code_salarie": "VARCHAR",
        "date_sqlserver": "TIMESTAMP",
        "nb_h0": "NUMERIC",
        "nb_h3": "INTEGER",
        "nb_h4": "INTEGER",
        "values_hash": "VARCHAR",
        "pushed_at": "TIMESTAMP",
        "run_id": "VARCHAR",
    }
    pushed_at = next(
        c
        for c in sa.inspect(staging_engine).get_columns("batigest_heures_map")
        if c["name"] == "pushed_at"
    )
    assert pushed_at["type"].timezone is True


def test_rows_can_be_given_directly(staging_engine, batigest_engine) -> None:
    report = run_export(staging_engine, batigest_engine, marts=Marts([push("1", *K(8))]))
    assert report.inserted == 1 and suivimo(batigest_engine) == [row(*K(8))]


def test_missing_marts_are_a_clear_error(staging_engine, batigest_engine) -> None:
    from batisync.export import ExportInputError

    with pytest.raises(ExportInputError, match=r"public\.to_push not found in staging"):
        run_export(staging_engine, batigest_engine)


def test_a_slot_whose_key_holds_two_rows_is_rejected_and_nothing_moves(
    staging_engine, batigest_engine
) -> None:
    run(staging_engine, batigest_engine, [push("A", *K(8)), push("B", *K(10))])
    insert_suivimo(batigest_engine, [(*K(8), 1, 0, 0)], libelle="a copy by hand")
    insert_suivimo(batigest_engine, [(*K(12), 3, 0, 0), (*K(12), 4, 0, 0)])  # not ours
    before, mapped = suivimo(batigest_engine), map_full(staging_engine)

    report = run(
        staging_engine,
        batigest_engine,
        [
            push("A", *K(9), 90, old=K(8)),  # from a doubled key: moving both would be wrong
            push("B", *K(12), 30, old=K(10)),  # onto a doubled key: updating both too
        ],
    )
    reasons = dict(report.rejected)
    assert set(reasons) == {"A", "B"} and report.moved == report.updated == 0
    assert reasons["A"].startswith("duplicate_key: its mapped key (CH1, S1, 2026-03-02 08:00")
    assert reasons["B"].startswith("duplicate_key: its key (CH1, S1, 2026-03-02 12:00")
    assert report.rejected_reasons() == {"duplicate_key": 2}
    assert suivimo(batigest_engine) == before  # SuiviMO untouched
    assert map_full(staging_engine) == mapped  # the map still says where A's row is

    # once a person removed the copy, A moves as usual (B stays rejected)
    with batigest_engine.begin() as conn:
        conn.exec_driver_sql('delete from dbo."SuiviMO" where "Libelle" = \'a copy by hand\'')
    again = run_export(staging_engine, batigest_engine)
    assert again.moved == 1 and [i for i, _ in again.rejected] == ["B"]
    assert map_rows(staging_engine)["A"] == K(9)
