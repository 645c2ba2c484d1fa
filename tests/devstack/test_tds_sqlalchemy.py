"""SQLAlchemy 2.1's mssql dialects (mssql-python, pyodbc + FreeTDS) through the endpoint."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import psycopg
import sqlalchemy as sa

from devstack.tds import TdsEndpoint

try:  # the exporter's home after main's package refactor; drop the fallback once merged
    from batisync.export.apply import BatchStatements
    from batisync.export.plan import Op
    from batisync.export.suivimo import suivimo_table
except ImportError:
    from export.apply import BatchStatements
    from export.plan import Op
    from export.suivimo import suivimo_table

DAY = dt.datetime(2024, 6, 3)


def suivimo(ep: TdsEndpoint) -> list[tuple]:
    with psycopg.connect(ep.conninfo) as conn:
        return conn.execute(
            'select "CodeChantier", "CodeSalarie", "Date", "NbH0" from dbo."SuiviMO" order by 1, 2'
        ).fetchall()


def test_engine_connects_and_reflects(tds_endpoint: TdsEndpoint, tds_driver: str) -> None:
    engine = sa.create_engine(tds_endpoint.url(tds_driver))
    with engine.connect() as conn:
        assert conn.dialect.server_version_info[0] == 16
        assert conn.dialect.default_schema_name == "dbo"
        assert conn.execute(sa.text("select 1")).scalar() == 1
    inspector = sa.inspect(engine)
    assert inspector.get_table_names(schema="dbo") == ["Salarie", "SuiviMO"]
    columns = {c["name"]: c for c in inspector.get_columns("SuiviMO", schema="dbo")}
    assert list(columns)[:3] == ["CodeChantier", "CodeSalarie", "Date"]
    assert columns["CodeChantier"]["type"].length == 8
    assert columns["CodeChantier"]["nullable"] is False
    assert (columns["NbH0"]["type"].precision, columns["NbH0"]["type"].scale) == (18, 6)
    assert isinstance(columns["Date"]["type"], sa.DateTime)
    assert inspector.has_table("SuiviMO", schema="dbo")
    assert not inspector.has_table("Nope", schema="dbo")
    engine.dispose()


def test_core_insert_and_select(tds_endpoint: TdsEndpoint, tds_driver: str) -> None:
    engine = sa.create_engine(tds_endpoint.url(tds_driver))
    s = suivimo_table()
    rows = [
        {"CodeChantier": f"CH{i}", "CodeSalarie": "S1", "Date": DAY, "NbH0": Decimal(i) / 2}
        for i in range(3)
    ]
    with engine.begin() as conn:
        result = conn.execute(sa.insert(s), rows)
        assert result.rowcount == 3
    with engine.connect() as conn:
        got = conn.execute(
            sa.select(s.c.CodeChantier, s.c.NbH0)
            .where(s.c.CodeSalarie == "S1")
            .order_by(s.c.CodeChantier)
        ).all()
    assert [tuple(r) for r in got] == [(f"CH{i}", Decimal(i) / 2) for i in range(3)]
    assert len(suivimo(tds_endpoint)) == 3
    engine.dispose()


def test_rollback_through_sqlalchemy(tds_endpoint: TdsEndpoint, tds_driver: str) -> None:
    engine = sa.create_engine(tds_endpoint.url(tds_driver))
    s = suivimo_table()
    with engine.connect() as conn:
        conn.execute(sa.insert(s), {"CodeChantier": "X", "CodeSalarie": "S", "Date": DAY})
        conn.rollback()
    assert suivimo(tds_endpoint) == []
    engine.dispose()


def test_exporter_batch_statements(tds_endpoint: TdsEndpoint, tds_driver: str) -> None:
    """The exporter's T-SQL (temp table, lock hints, UPDATE ... FROM) runs as intended."""
    engine = sa.create_engine(tds_endpoint.url(tds_driver))
    st = BatchStatements("mssql")
    s = suivimo_table()
    with engine.begin() as conn:
        conn.execute(
            sa.insert(s),
            [
                {"CodeChantier": "OLD", "CodeSalarie": "S1", "Date": DAY, "NbH0": 1},
                {"CodeChantier": "KEEP", "CodeSalarie": "S1", "Date": DAY, "NbH0": 2},
            ],
        )
    batch = [
        ("h1", ("NEW", "S1", DAY), ("OLD", "S1", DAY), Op.MOVE),
        ("h2", ("INS", "S2", DAY), None, Op.INSERT),
    ]
    with engine.begin() as conn:
        conn.execute(st.create)
        conn.execute(st.load, [load_params(h, new, old) for h, new, old, _ in batch])
        state = conn.execute(st.read_state(lock=True)).all()
        assert [(r.CodeChantier, r.part) for r in state] == [("OLD", 1)]
        conn.execute(
            st.set_ops,
            [
                {
                    "p_id": h,
                    "p_op": str(op),
                    "p_tcc": old and old[0],
                    "p_tcs": old and old[1],
                    "p_td": old and old[2],
                }
                for h, _new, old, op in batch
            ],
        )
        assert conn.execute(st.update_rows).rowcount == 1
        assert conn.execute(st.insert_rows).rowcount == 1
        conn.execute(st.drop)
    assert suivimo(tds_endpoint) == [
        ("INS", "S2", DAY, Decimal("7.500000")),
        ("KEEP", "S1", DAY, Decimal("2.000000")),
        ("NEW", "S1", DAY, Decimal("7.500000")),
    ]
    engine.dispose()


def load_params(h: str, new: tuple, old: tuple | None) -> dict:
    old = old or (None, None, None)
    return {
        "id_heure": h,
        "code_chantier": new[0],
        "code_salarie": new[1],
        "date_sqlserver": new[2],
        "nb_h0": Decimal("7.5"),
        "nb_h3": None,
        "nb_h4": None,
        "old_code_chantier": old[0],
        "old_code_salarie": old[1],
        "old_date_sqlserver": old[2],
        "op": None,
        "target_code_chantier": None,
        "target_code_salarie": None,
        "target_date_sqlserver": None,
    }
