"""The Batigest stand-in: SuiviMO and Salarie in a PostgreSQL database, schema dbo."""

from __future__ import annotations

from collections.abc import Iterable
from importlib.resources import files

import sqlalchemy as sa

SCHEMA = "dbo"


def standin_ddl() -> str:
    return files("devstack").joinpath("batigest_standin.sql").read_text()


def create_standin(url: str) -> sa.Engine:
    """Create the stand-in tables in the database at `url`; returns an engine on it."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(standin_ddl())
    return engine


def seed_salaries(engine: sa.Engine, rows: Iterable[tuple[str, str, str | None]]) -> int:
    """Insert Salarie rows given as (Code, Nom, codebs); returns how many."""
    params = [{"code": c, "nom": n, "codebs": b} for c, n, b in rows]
    if not params:
        return 0
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f'insert into {SCHEMA}."Salarie" ("Code", "Nom", "codebs") '
                "values (:code, :nom, :codebs)"
            ),
            params,
        )
    return len(params)


def seed_chantiers(engine: sa.Engine, codes: Iterable[str]) -> int:
    """Create Batigest's chantier table (`ChantierDef`, `Code` 8 characters) when missing
    and insert `codes`; returns how many. Without it the stand-in has no ChantierDef, so
    the unknown_chantier check is off, as on a Batigest where it is not readable."""
    params = [{"code": code, "nom": f"chantier {code}"} for code in codes]
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f'create table if not exists {SCHEMA}."ChantierDef" '
                '("Code" varchar(8) primary key, "NomClient" varchar(30))'
            )
        )
        if params:
            conn.execute(
                sa.text(
                    f'insert into {SCHEMA}."ChantierDef" ("Code", "NomClient") values (:code, :nom)'
                ),
                params,
            )
    return len(params)
