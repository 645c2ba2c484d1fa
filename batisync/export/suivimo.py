"""SuiviMO as the exporter sees it: only the six columns it reads and writes.

Defined here rather than reflected: the project never creates or alters SuiviMO
(owned by the ERP), and a fixed definition compiles the same statements for SQL Server
(`mssql+pyodbc`, production) and for the PostgreSQL stand-in (tests). Mixed-case names
are quoted by SQLAlchemy on both (`dbo.[SuiviMO]`, `dbo."SuiviMO"`). Every other SuiviMO
column is nullable (CONTRACT.md) and is left as it is: a move keeps it.
"""

from __future__ import annotations

from functools import cache

import sqlalchemy as sa

KEY_COLUMNS = ("CodeChantier", "CodeSalarie", "Date")
VALUE_COLUMNS = ("NbH0", "NbH3", "NbH4")


@cache
def suivimo_table(schema: str = "dbo") -> sa.Table:
    """The SuiviMO table in `schema` (one MetaData per schema, built once)."""
    return sa.Table(
        "SuiviMO",
        sa.MetaData(),
        sa.Column("CodeChantier", sa.String(8), nullable=False),
        sa.Column("CodeSalarie", sa.String(8), nullable=False),
        sa.Column("Date", sa.DateTime, nullable=False),
        sa.Column("NbH0", sa.Numeric(18, 6)),
        sa.Column("NbH3", sa.Numeric(18, 6)),
        sa.Column("NbH4", sa.Numeric(18, 6)),
        schema=schema,
    )
