"""The exporter, the retraction, reconcile, the drift stage, the Salarie read and doctor's
Batigest checks
through real SQL Server drivers (mssql-python; pyodbc + FreeTDS) speaking TDS to the
endpoint, which runs them on the PostgreSQL stand-in. What this proves: the drivers, the
protocol, parameter binding and literal rendering, transactions. What it cannot: SQL
Server's own locking, collations and triggers (docs/EVIDENCE.md, "What was tested
against what")."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from batisync.core.connections import make_batigest_engine
from batisync.export import ExportOptions, ensure_map, reconcile, run_export
from batisync.export.heal import check_drift
from batisync.loader.batigest import read_salarie
from batisync.tools.doctor_batigest import inspection_checks
from devstack.batigest import seed_salaries
from devstack.tds import TdsEndpoint
from tests.export.helpers import (
    gone,
    insert_suivimo,
    libelles,
    push,
    row,
    suivimo,
    write_marts,
    write_synced,
)

ROUND_TRIPS_PER_1000_ROWS = 8  # issue 19's target, for every driver


def K(hour: int, cc: str = "CH1") -> tuple[str, str, datetime]:
    return (cc, "S1", datetime(2026, 3, 2, hour))


@pytest.fixture
def engines(
    tds_endpoint: TdsEndpoint, tds_driver: str, staging_url: str, batigest_url: str
) -> Iterator[tuple[sa.Engine, sa.Engine, sa.Engine]]:
    """(staging, Batigest through the driver, the stand-in read directly)."""
    staging = sa.create_engine(staging_url)
    ensure_map(staging)
    engines = (
        staging,
        make_batigest_engine(tds_endpoint.url(tds_driver)),
        sa.create_engine(batigest_url),
    )
    yield engines
    for engine in engines:
        engine.dispose()


@pytest.mark.parametrize("row_by_row", [False, True], ids=["set-based", "row-by-row"])
def test_a_whole_export_through_each_driver(engines, row_by_row: bool) -> None:
    staging, batigest, stand_in = engines
    insert_suivimo(stand_in, [(*K(9), 1, 0, 0)])  # a row written by hand at 9:00
    write_marts(staging, [push("A", *K(8)), push("B", *K(10)), push("G", *K(11))])
    options = ExportOptions(row_by_row=row_by_row)
    first = run_export(staging, batigest, options)
    assert (first.inserted, first.rejected) == (3, [])
    write_marts(
        staging,
        [
            push("A", *K(9), 90, old=K(8)),  # merges onto the row at 9:00
            push("B", *K(12), 30, old=K(10)),  # moves
            push("X", "TOOLONG99", *K(13)[1:]),  # wider than CodeChantier varchar(8)
        ],
        [gone("G", K(11))],
    )
    deleting = ExportOptions(on_gone="delete", row_by_row=row_by_row)
    second = run_export(staging, batigest, deleting, force=True)
    assert second.retracted == 1 and second.inserted == 0
    assert [i for i, _ in second.rejected] == ["X"]
    assert "truncated" in second.rejected[0][1]  # the database's own reason
    assert suivimo(stand_in) == [row(*K(9), 90), row(*K(12), 30)]
    assert reconcile(staging, batigest).drift == 0


def test_reconcile_repairs_a_row_deleted_by_hand(engines) -> None:
    staging, batigest, stand_in = engines
    write_marts(staging, [push("A", *K(8)), push("B", *K(10))])
    run_export(staging, batigest)
    with stand_in.begin() as conn:
        conn.exec_driver_sql('delete from dbo."SuiviMO" where "Date" = %s', (K(8)[2],))
    found = reconcile(staging, batigest)
    assert found.missing == ["A"]
    assert reconcile(staging, batigest, repair=True).repaired == 1
    assert suivimo(stand_in) == [row(*K(8)), row(*K(10))]


def test_the_loader_reads_salarie_through_each_driver(engines, tds_endpoint, tds_driver) -> None:
    _, _, stand_in = engines
    seed_salaries(stand_in, [("S0001", "Martin Élodie", "uuid-1"), ("S0002", "Durand", None)])
    rows = read_salarie(tds_endpoint.url(tds_driver), "dbo")
    assert sorted(rows, key=lambda r: r["code"]) == [
        {"code": "S0001", "nom": "Martin Élodie", "codebs": "uuid-1"},
        {"code": "S0002", "nom": "Durand", "codebs": None},
    ]


def test_doctor_inspects_batigest_through_each_driver(engines) -> None:
    _, batigest, stand_in = engines
    seed_salaries(stand_in, [("S0001", "Martin", "uuid-1")])
    with stand_in.begin() as conn:
        conn.exec_driver_sql('alter table dbo."SuiviMO" add column "Tache" varchar(8) not null')
    checks = {c.name: c for c in inspection_checks(batigest, "dbo")}
    assert checks["Batigest Salarie"].ok and "1 with codebs" in checks["Batigest Salarie"].detail
    assert checks["Batigest privileges"].ok
    assert checks["Batigest SuiviMO"].ok is False
    assert "Tache are NOT NULL without a default" in checks["Batigest SuiviMO"].detail
    assert checks["Batigest SuiviMO index"].level == "warning"


def test_round_trips_per_1000_rows(engines, tds_endpoint: TdsEndpoint) -> None:
    """2,000 rows in two batches (1,000 new, 500 value changes, 500 moves): the requests
    the driver sends to the endpoint, counted."""
    staging, batigest, stand_in = engines
    day = datetime(2026, 3, 2, 6)

    def key(i: int, moved: bool = False) -> tuple[str, str, datetime]:
        return (f"CH{i % 50}", f"S{i // 50}", day + timedelta(hours=moved))

    write_marts(staging, [push(f"h{i}", *key(i)) for i in range(1000)])
    assert run_export(staging, batigest, ExportOptions(batch_size=1000)).inserted == 1000
    changed = [push(f"h{i}", *key(i), 90, old=key(i)) for i in range(0, 1000, 2)]
    moved = [push(f"h{i}", *key(i, moved=True), old=key(i)) for i in range(1, 1000, 2)]
    new = [push(f"h{i}", *key(i)) for i in range(1000, 2000)]
    write_marts(staging, [*changed, *moved, *new])
    with batigest.connect():
        pass  # the connection's set-up probes are not the export's
    tds_endpoint.stats.reset()
    report = run_export(staging, batigest, ExportOptions(batch_size=1000))
    assert (report.inserted, report.updated, report.moved, report.rejected) == (1000, 500, 500, [])
    assert len(suivimo(stand_in)) == 2000
    per_1000 = tds_endpoint.stats.total / 2
    assert per_1000 <= ROUND_TRIPS_PER_1000_ROWS, tds_endpoint.stats.by_kind()
    assert "rpc" not in tds_endpoint.stats.by_kind()  # no parameterised statement


def test_a_batch_beyond_1000_rows_through_each_driver(engines, tds_endpoint: TdsEndpoint) -> None:
    """SQL Server takes at most 1,000 rows per VALUES list: a bigger batch creates
    `#export_batch` with its first 1,000 rows and inserts the rest into it, in the same
    transaction (read, SELECT … INTO, INSERT, INSERT into SuiviMO, DROP, commit)."""
    staging, batigest, stand_in = engines
    day = datetime(2026, 3, 2, 6)
    write_marts(staging, [push(f"h{i}", f"CH{i % 50}", f"S{i // 50}", day) for i in range(1200)])
    with batigest.connect():
        pass  # the connection's set-up probes are not the export's
    tds_endpoint.stats.reset()
    report = run_export(staging, batigest, ExportOptions(batch_size=1500))
    assert (report.batches, report.inserted, report.rejected) == (1, 1200, [])
    assert len(suivimo(stand_in)) == 1200
    assert tds_endpoint.stats.by_kind()["sql_batch"] == 5, tds_endpoint.stats.by_kind()


# the drift stage, whatever the number of slots (up to 1,000 employees): the digest of
# SuiviMO per employee, one read of SuiviMO and the end of its transaction when nothing
# is to heal (measured: 3 on both drivers); when no employee changed since its last
# clean check, the digest and the end (2); a heal adds one exporter batch per
# EXPORT_BATCH_SIZE rows, within the exporter's own target (measured: 5 with
# mssql-python, 6 with FreeTDS)
DRIFT_CHECK_ROUND_TRIPS = 3
DRIFT_CACHED_ROUND_TRIPS = 2
DRIFT_HEAL_ROUND_TRIPS = DRIFT_CHECK_ROUND_TRIPS + ROUND_TRIPS_PER_1000_ROWS


def test_drift_is_healed_through_each_driver_in_few_round_trips(
    engines, tds_endpoint: TdsEndpoint
) -> None:
    staging, batigest, stand_in = engines
    day = datetime(2026, 3, 2, 6)
    keys = [(f"CH{i % 50}", f"S{i // 50}", day + timedelta(hours=i % 7)) for i in range(1000)]
    write_marts(staging, [push(f"h{i}", *key) for i, key in enumerate(keys)])
    run_export(staging, batigest, ExportOptions(batch_size=1000))
    write_synced(staging)
    expected = suivimo(stand_in)
    with batigest.connect():
        pass  # the connection's set-up probes are not the check's
    tds_endpoint.stats.reset()
    clean = check_drift(staging, batigest, run_id="r1")
    assert (clean.checked, clean.findings) == (1000, [])
    assert tds_endpoint.stats.total <= DRIFT_CHECK_ROUND_TRIPS, tds_endpoint.stats.by_kind()
    tds_endpoint.stats.reset()  # nothing changed: the digests (T-SQL's, translated) match
    again = check_drift(staging, batigest, run_id="r1b")
    assert (again.checked, again.findings) == (1000, [])
    assert tds_endpoint.stats.total <= DRIFT_CACHED_ROUND_TRIPS, tds_endpoint.stats.by_kind()

    with stand_in.begin() as conn:  # by hand: one row deleted, one edited
        conn.exec_driver_sql(
            'delete from dbo."SuiviMO" where "CodeChantier" = %s and "CodeSalarie" = %s '
            'and "Date" = %s',
            keys[10],
        )
        conn.exec_driver_sql(
            'update dbo."SuiviMO" set "NbH0" = 7, "Libelle" = \'edited\' '
            'where "CodeChantier" = %s and "CodeSalarie" = %s and "Date" = %s',
            keys[20],
        )
    tds_endpoint.stats.reset()
    healed = check_drift(staging, batigest, run_id="r2")
    assert {(f.id_heure, f.kind, f.restored) for f in healed.findings} == {
        ("h10", "missing", True),
        ("h20", "changed", True),
    }
    assert tds_endpoint.stats.total <= DRIFT_HEAL_ROUND_TRIPS, tds_endpoint.stats.by_kind()
    assert suivimo(stand_in) == expected  # every row back, key and values
    assert libelles(stand_in)[keys[20]] == "edited"  # no other column touched
