"""The Batigest inspection: its decisions as a pure function of what the catalog says,
and the catalog read for real on the PostgreSQL stand-in (the same queries run through
real SQL Server drivers in tests/devstack: see test_tds_export.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import sqlalchemy as sa

from batisync.export.catalog import read_facts
from batisync.export.inspection import BatigestFacts, Column, assess

SUIVIMO = (
    Column("CodeChantier", "varchar", False, max_length=8, collation="French_CI_AS"),
    Column("CodeSalarie", "varchar", False, max_length=8, collation="French_CI_AS"),
    Column("Date", "datetime", False),
    Column("NbH0", "decimal", precision=18, scale=6),
    Column("NbH3", "decimal", precision=18, scale=6),
    Column("NbH4", "decimal", precision=18, scale=6),
    Column("Libelle", "varchar", max_length=60),
)
SALARIE = (Column("Code", "varchar", False), Column("Nom", "varchar"), Column("codebs", "varchar"))
PRIVILEGES = {
    "SELECT on Salarie": True,
    **{f"{p} on SuiviMO": True for p in ("SELECT", "INSERT", "UPDATE", "DELETE")},
}
FIT = BatigestFacts(
    "dbo",
    SUIVIMO,
    SALARIE,
    indexes=(("CodeChantier", "CodeSalarie", "Date"),),
    privileges=PRIVILEGES,
    chantier_readable=True,
)


def _with_column(column: Column) -> BatigestFacts:
    others = tuple(c for c in SUIVIMO if c.name != column.name)
    return replace(FIT, suivimo=(*others, column))


def _errors(facts: BatigestFacts) -> list[str]:
    return [str(f) for f in assess(facts).errors]


def test_a_fit_batigest_has_no_finding() -> None:
    assessment = assess(FIT)
    assert assessment.findings == ()
    assert assessment.adapt.row_by_row is False
    assert assessment.adapt.code_chantier_max_length == 8


@pytest.mark.parametrize("kind", ["date", "smalldatetime", "varchar"])
def test_a_date_that_cannot_hold_the_key_stops_the_sync(kind: str) -> None:
    [error] = _errors(_with_column(Column("Date", kind, False)))
    assert error.startswith(f"SuiviMO.Date: is {kind}; expected datetime or datetime2")


def test_nbh0_with_fewer_than_four_decimals_stops_the_sync() -> None:
    [error] = _errors(_with_column(Column("NbH0", "decimal", precision=9, scale=2)))
    assert "SuiviMO.NbH0: is decimal(9, 2); expected at least 4 decimals" in error


def test_a_not_null_column_without_default_stops_the_sync() -> None:
    facts = _with_column(Column("CodeTache", "varchar", nullable=False, max_length=8))
    [error] = _errors(facts)
    assert "CodeTache are NOT NULL without a default: every insert would fail" in error
    fine = _with_column(Column("CodeTache", "varchar", nullable=False, has_default=True))
    assert _errors(fine) == []
    assert _errors(_with_column(Column("Id", "int", nullable=False, is_identity=True))) == []


def test_a_missing_privilege_stops_the_sync() -> None:
    facts = replace(FIT, privileges={**PRIVILEGES, "INSERT on SuiviMO": False})
    assert _errors(facts) == ["privileges: the login lacks INSERT on SuiviMO"]


def test_a_trigger_switches_to_one_row_per_statement() -> None:
    assessment = assess(replace(FIT, triggers=("trg_SuiviMO_totaux",)))
    assert assessment.errors == [] and assessment.adapt.row_by_row is True
    assert "trg_SuiviMO_totaux" in str(assessment.warnings[0])


def test_the_key_columns_lengths_go_to_dbt() -> None:
    short = _with_column(Column("CodeChantier", "varchar", False, max_length=6))
    assert assess(short).adapt.code_chantier_max_length == 6


def test_a_missing_key_index_is_a_warning_with_the_statement() -> None:
    [warning] = assess(replace(FIT, indexes=(("Date",),))).warnings
    assert "CREATE INDEX IX_SuiviMO_batisync ON dbo.SuiviMO" in warning.message


def test_a_case_sensitive_collation_is_adapted_to() -> None:
    column = Column("CodeSalarie", "varchar", False, max_length=8, collation="French_CS_AS")
    assessment = assess(_with_column(column))
    assert assessment.adapt.case_sensitive_keys and assessment.errors == []


def test_an_accent_insensitive_collation_is_flagged_for_the_drift_check() -> None:
    column = Column("CodeChantier", "varchar", False, max_length=8, collation="French_CI_AI")
    assessment = assess(_with_column(column))
    assert assessment.adapt.accent_insensitive_keys and assessment.errors == []
    assert not assess(FIT).adapt.accent_insensitive_keys


def test_the_catalog_of_the_stand_in_is_read(batigest_url: str) -> None:
    engine = sa.create_engine(batigest_url)
    with engine.begin() as conn:
        conn.exec_driver_sql('alter table dbo."SuiviMO" alter column "Date" type date')
        conn.exec_driver_sql('alter table dbo."SuiviMO" add column "Tache" varchar(8) not null')
        conn.exec_driver_sql(
            'create index ix_key on dbo."SuiviMO" ("CodeChantier", "CodeSalarie", "Date")'
        )
    with engine.connect() as conn:
        facts = read_facts(conn, "dbo")
    engine.dispose()
    assert [c.name for c in facts.suivimo][:3] == ["CodeChantier", "CodeSalarie", "Date"]
    assert facts.indexes == (("CodeChantier", "CodeSalarie", "Date"),)
    assert all(facts.privileges.values()) and len(facts.privileges) == 5
    errors = [f.subject for f in assess(facts).errors]
    assert errors == ["SuiviMO.Date", "SuiviMO"]  # the date type, the NOT NULL column
