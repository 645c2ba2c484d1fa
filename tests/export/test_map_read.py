"""The export reads the map rows it consults only (issue 19): its rows' own, and the
holders of their new keys as the target's collation compares keys."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from batisync.export.map_table import count_map, ensure_map, read_map_of, write_map
from batisync.export.model import MapRow, Values, identity_key, sqlserver_key

DAY = datetime(2026, 3, 2, 8)
LATER = datetime(2026, 3, 2, 9)


def M(id_heure: str, cc: str, cs: str, date: datetime) -> MapRow:
    return MapRow(id_heure, (cc, cs, date), Values(Decimal(1), 0, 0), f"h{id_heure}")


ROWS = [
    M("mover", "CH1", "S2", DAY),
    M("case", "ch1", "s1 ", DAY),  # the key ("CH1", "S1", DAY) under SQL Server's collation
    M("exact", "CH2", "S1", DAY),
    M("later", "CH1", "S1", LATER),  # same employee, another hour: not a holder
    M("other", "CH1", "S3", DAY),  # another employee, same hour: not a holder
]


def test_own_rows_and_the_holders_of_the_new_keys_only(staging_engine) -> None:
    ensure_map(staging_engine)
    with staging_engine.begin() as conn:
        write_map(conn, "public", upserts=ROWS, drop_ids=(), run_id="r")
    wanted = [("CH1", "S1", DAY), ("CH2", "S1", DAY)]
    with staging_engine.connect() as conn:
        mssql = read_map_of(conn, "public", ["mover", "unknown"], wanted, sqlserver_key)
        postgres = read_map_of(conn, "public", ["mover"], wanted, identity_key)
        assert read_map_of(conn, "public", []) == {}
        assert count_map(conn) == len(ROWS)
    assert mssql == {m.id_heure: m for m in ROWS if m.id_heure in ("mover", "case", "exact")}
    assert sorted(postgres) == ["exact", "mover"]
