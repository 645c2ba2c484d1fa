"""A crash after any statement (SuiviMO or map) leaves a state the next run converges from.

One rich scenario (update, swap, chain, merge onto a foreign row, adoption of a gone
slot's row, retraction, re-insertion, a new slot, a row the database refuses, batches
of 3); a failure is injected after statement N for every N of a clean run, then a
run without failure must give exactly the expected SuiviMO and map.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from batisync.export import ExportOptions, ensure_map, run_export
from tests.export.helpers import (
    duplicate_keys,
    gone,
    hours,
    insert_suivimo,
    map_rows,
    push,
    row,
    suivimo,
    write_marts,
)


class InjectedFailure(Exception):
    pass


def K(hour: int) -> tuple[str, str, datetime]:
    return ("CH1", "S1", datetime(2026, 3, 2, hour))


FOREIGN = [(*K(15), 9, 0, 0), (*K(23), 8, 1, 1)]
# slot → (mapped key, minutes) before the run
MAPPED = {
    "A": (8, 60),
    "B": (9, 20),
    "C": (10, 30),
    "D": (11, 40),
    "E": (12, 50),
    "F": (14, 10),
    "G": (16, 70),
    "I": (17, 80),
    "J": (18, 90),
    "L": (19, 100),
}
TO_PUSH = [
    push("A", *K(8), 75),  # values change
    push("B", *K(10), 20, old=K(9)),  # swap B/C
    push("C", *K(9), 30, old=K(10)),
    push("D", *K(12), 40, old=K(11)),  # chain D → E's key, E moves on
    push("E", *K(13), 50, old=K(12)),
    push("F", *K(15), 15, old=K(14)),  # onto a foreign row: merge
    push("H", *K(16), 35),  # new, on gone G's kept row: adoption
    push("J", *K(18), 90),  # unchanged
    push("L", *K(19), 100),  # its row was deleted by hand: re-insert
    push("N", *K(20), 25),  # new
    push("O", "TOOLONG99", "S1", K(21)[2], 5),  # refused by SuiviMO's varchar(8)
]
GONE = [gone("G", K(16)), gone("I", K(17), "unvalidated")]
EXPECTED = sorted(
    [
        row(*K(8), 75),
        row(*K(10), 20),
        row(*K(9), 30),
        row(*K(12), 40),
        row(*K(13), 50),
        row(*K(15), 15),
        row(*K(16), 35),
        row(*K(18), 90),
        row(*K(19), 100),
        row(*K(20), 25),
        FOREIGN[1],
    ]
)
EXPECTED_MAP = {
    i: K(h) for i, h in dict(A=8, B=10, C=9, D=12, E=13, F=15, H=16, J=18, L=19, N=20).items()
}
OPTIONS = ExportOptions(batch_size=3, on_gone="delete", retract_max_share=1.0)


def reset(staging: sa.Engine, batigest: sa.Engine) -> None:
    ensure_map(staging)
    with staging.begin() as conn, batigest.begin() as target:
        conn.exec_driver_sql("truncate batigest_heures_map")
        target.exec_driver_sql('truncate dbo."SuiviMO"')
        for id_heure, (hour, minutes) in MAPPED.items():
            conn.execute(
                sa.text(
                    "insert into batigest_heures_map (id_heure, code_chantier, code_salarie, "
                    "date_sqlserver, nb_h0, nb_h3, nb_h4) values (:i, :cc, :cs, :d, :h0, 0, 0)"
                ),
                dict(i=id_heure, cc=K(hour)[0], cs=K(hour)[1], d=K(hour)[2], h0=hours(minutes)),
            )
    ours = [(*K(h), hours(m), 0, 0) for i, (h, m) in MAPPED.items() if i != "L"]
    insert_suivimo(batigest, [*ours, *FOREIGN])
    write_marts(staging, TO_PUSH, GONE)


def assert_converged(staging: sa.Engine, batigest: sa.Engine) -> None:
    assert suivimo(batigest) == EXPECTED
    assert map_rows(staging) == EXPECTED_MAP


def test_the_scenario_gives_the_expected_state(staging_engine, batigest_engine) -> None:
    reset(staging_engine, batigest_engine)
    report = run_export(staging_engine, batigest_engine, OPTIONS)
    assert_converged(staging_engine, batigest_engine)
    d = report.to_dict()
    assert d["moved"] == 5  # B, C, D, E, F
    assert d["inserted"] == 2  # L, N
    assert d["updated"] == 2  # A, H (adopting G's row)
    assert d["unchanged"] == 1  # J
    assert d["retracted"] == 1  # I (G was adopted, not retracted)
    assert d["adopted"] == 1
    assert [i for i, _ in report.rejected] == ["O"]


def test_a_crash_after_any_statement_converges(staging_engine, batigest_engine) -> None:
    reset(staging_engine, batigest_engine)
    done: list[str] = []  # statements that completed (a refused one does not count)

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        done.append(statement)

    for engine in (staging_engine, batigest_engine):
        sa.event.listen(engine, "after_cursor_execute", count)
    try:
        run_export(staging_engine, batigest_engine, OPTIONS)
    finally:
        for engine in (staging_engine, batigest_engine):
            sa.event.remove(engine, "after_cursor_execute", count)
    total = len(done)
    assert total > 40  # sanity: the scenario really spans many statements

    for n in range(1, total + 1):
        reset(staging_engine, batigest_engine)
        seen = 0

        def fail_after(*args: Any, n: int = n) -> None:
            nonlocal seen
            seen += 1
            if seen == n:
                raise InjectedFailure(f"after statement {n}")

        for engine in (staging_engine, batigest_engine):
            sa.event.listen(engine, "after_cursor_execute", fail_after)
        try:
            with pytest.raises(InjectedFailure):
                run_export(staging_engine, batigest_engine, OPTIONS)
        finally:
            for engine in (staging_engine, batigest_engine):
                sa.event.remove(engine, "after_cursor_execute", fail_after)
        crashed = suivimo(batigest_engine)
        assert not duplicate_keys(crashed), f"duplicate after a crash at statement {n}"
        assert FOREIGN[1] in crashed

        run_export(staging_engine, batigest_engine, OPTIONS)
        assert_converged(staging_engine, batigest_engine)
        again = run_export(staging_engine, batigest_engine, OPTIONS)
        assert (again.inserted, again.updated, again.moved, again.retracted) == (0, 0, 0, 0), n
