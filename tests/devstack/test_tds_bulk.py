"""mssql-python's bulkcopy() (INSERT BULK + BULK_LOAD) into the stand-in."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import psycopg
import pytest

from devstack.tds.process import EndpointProcess


def test_bulkcopy_into_suivimo(batigest_url: str) -> None:
    # A child process: bulkcopy() holds the GIL, an in-process endpoint could not answer.
    rows = [
        (
            "CH1",
            "S1",
            dt.datetime(2024, 1, 2, 8),
            Decimal("7.5"),
            None,
            None,
            None,
            None,
            "Pose é",
            None,
            None,
        ),
        ("CH2", "S2", dt.datetime(2024, 1, 3), None, None, None, None, None, None, None, "x"),
    ]
    with EndpointProcess(batigest_url) as ep:
        conn = ep.connect("mssqlpython")
        result = conn.cursor().bulkcopy("dbo.SuiviMO", rows, timeout=20)
        conn.close()
        assert result["rows_copied"] == 2
        with psycopg.connect(ep.conninfo) as pg:
            got = pg.execute(
                'select "CodeChantier", "Date", "NbH0", "Libelle", "Commentaire" '
                'from dbo."SuiviMO" order by 1'
            ).fetchall()
    assert got == [
        ("CH1", dt.datetime(2024, 1, 2, 8), Decimal("7.500000"), "Pose é", None),
        ("CH2", dt.datetime(2024, 1, 3), None, None, "x"),
    ]


def test_bulkcopy_runs_outside_the_callers_session(batigest_url: str) -> None:
    """Why the exporter does not bulk copy into `#export_batch`: mssql-python's bulkcopy()
    opens a connection of its own (mssql-python issue #492), outside the caller's
    transaction, where the caller's `#` table does not exist (SQL Server and the endpoint
    alike: a local temp table belongs to one session)."""
    with EndpointProcess(batigest_url) as ep:
        conn = ep.connect("mssqlpython", autocommit=False)
        cursor = conn.cursor()
        cursor.execute("select cast(N'a' as varchar(8)) as code into #export_batch")
        with pytest.raises(Exception, match=r"Invalid object name '\[?#export_batch"):
            cursor.bulkcopy("#export_batch", [("b",)], timeout=20)
        cursor.execute("select code from #export_batch")
        # the caller's session still has it, unchanged
        assert [tuple(r) for r in cursor.fetchall()] == [("a",)]
        conn.rollback()
        conn.close()
