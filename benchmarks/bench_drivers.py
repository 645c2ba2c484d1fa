"""Batigest round trips per 1,000 rows, for each SQL Server driver, counted at the TDS
endpoint (`devstack/tds`): the same 10,000-row export as bench_export.py (3,000 new,
3,000 value changes, 3,000 key changes, 1,000 already there), sent through
mssql-python and through pyodbc + FreeTDS to the endpoint over the PostgreSQL stand-in.

A round trip is one request the driver sends after login (SQL batch, RPC, transaction
request, bulk load). Target (issue 19): at most 8 per 1,000 rows with every driver.
Run with `make bench` or `pytest benchmarks/bench_drivers.py --benchmark-only -s`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from batisync.export import ExportOptions, Marts, make_batigest_engine, run_export
from benchmarks.bench_export import ROWS, engines, prepare, scenario, suivimo
from benchmarks.results import record
from devstack.tds import TdsEndpoint
from devstack.tds.urls import DRIVERS

TARGET_PER_1000 = 8


@pytest.mark.parametrize("driver", DRIVERS)
def test_round_trips_per_1000_rows(
    benchmark: Any, new_database: Callable[[str], str], driver: str
) -> None:
    to_push, mapped = scenario()
    staging, stand_in = engines(new_database)
    prepare(staging, stand_in, mapped)
    with TdsEndpoint(stand_in.url.render_as_string(hide_password=False)) as endpoint:
        batigest = make_batigest_engine(endpoint.url(driver))
        with batigest.connect():
            pass  # the connection's own set-up probes are not the export's
        endpoint.stats.reset()
        report = benchmark.pedantic(
            lambda: run_export(
                staging, batigest, ExportOptions(batch_size=1000), marts=Marts(to_push)
            ),
            rounds=1,
            iterations=1,
        )
        per_1000 = endpoint.stats.total / (ROWS / 1000)
        kinds = endpoint.stats.by_kind()
        batigest.dispose()
    benchmark.extra_info.update(driver=driver, round_trips_per_1000_rows=per_1000, **kinds)
    # the report keeps the worst driver's figure
    record(f"drivers_{driver}", {"batigest_roundtrips_per_1000": per_1000}, dict(kinds))
    print(f"\n{driver}: {per_1000:.1f} Batigest round trips per 1,000 rows ({kinds})")
    counts = (report.inserted, report.updated, report.moved, report.unchanged)
    assert counts == (3000, 3000, 3000, 1000) and report.rejected == []
    assert len(suivimo(stand_in)) == ROWS
    assert per_1000 <= TARGET_PER_1000
