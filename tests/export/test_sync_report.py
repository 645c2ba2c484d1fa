"""What a sync's export keeps in memory (issue 19): no plan per row, the slots it maps
anew counted rather than kept, with the same counts, writes and retraction decisions."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from batisync.export import ExportOptions, run_export
from batisync.export.model import PushRow, sharing_parser
from tests.export.helpers import gone, map_rows, push, suivimo, write_marts


def K(hour: int) -> tuple[str, str, datetime]:
    return ("CH1", "S1", datetime(2026, 3, 2, hour))


def test_the_share_counts_slots_mapped_in_the_same_run(
    staging_engine: sa.Engine, batigest_engine: sa.Engine
) -> None:
    write_marts(staging_engine, [push("G1", *K(1)), push("G2", *K(2))], [])
    run_export(staging_engine, batigest_engine)
    # G1, G2 gone and 8 new slots: 2 of 10 mapped rows, within a share of 0.2
    new = [push(f"N{i}", *K(10 + i)) for i in range(8)]
    write_marts(staging_engine, new, [gone("G1", K(1)), gone("G2", K(2))])
    options = ExportOptions(on_gone="delete", retract_max_share=0.2, batch_size=3)
    report = run_export(staging_engine, batigest_engine, options, keep_plans=False)
    assert report.warnings == []
    assert (report.inserted, report.retracted) == (8, 2)
    assert sorted(map_rows(staging_engine)) == sorted(r["id_heure"] for r in new)


def test_a_sync_keeps_only_a_dry_runs_writes(
    staging_engine: sa.Engine, batigest_engine: sa.Engine
) -> None:
    write_marts(staging_engine, [push("A", *K(8)), push("B", *K(9))], [])
    run_export(staging_engine, batigest_engine)
    write_marts(staging_engine, [push("A", *K(8), 30), push("B", *K(9)), push("C", *K(7))], [])
    kept = run_export(staging_engine, batigest_engine, dry_run=True)
    dry = run_export(staging_engine, batigest_engine, dry_run=True, keep_plans=False)
    assert dry.to_dict() == kept.to_dict() | {"run_id": dry.run_id}
    assert [p.id_heure for p in dry.plans] == ["A", "C"]  # B is unchanged: not kept

    before = suivimo(batigest_engine)
    real = run_export(staging_engine, batigest_engine, keep_plans=False)
    assert (real.plans, real.updated, real.inserted, real.unchanged) == ([], 1, 1, 1)
    assert suivimo(batigest_engine) != before


def test_parsed_rows_share_codes_and_values_but_keep_what_they_read() -> None:
    rows = [push("A", *K(8)), push("B", *K(9)), dict(push("C", *K(10)), nb_h0="-0")]
    rows.append(dict(push("D", *K(11)), nb_h0="0"))
    parse = sharing_parser()
    a, b, c, d = (parse(r) for r in rows)
    assert [a, b, c, d] == [PushRow.from_mapping(r) for r in rows]
    assert a.key[0] is b.key[0] and a.key[1] is b.key[1] and a.values is b.values
    assert (str(c.values.nb_h0), str(d.values.nb_h0)) == ("-0.000000", "0.000000")  # not shared
