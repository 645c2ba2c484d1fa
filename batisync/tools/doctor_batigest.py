"""doctor's Batigest checks: the driver, the connection, and the exporter's own inspection
(`batisync.export.catalog` + `inspection`), so a green doctor means the sync's code found
SuiviMO and Salarie fit to be written."""

from __future__ import annotations

import sqlalchemy as sa

from batisync.core.connections import is_freetds, make_batigest_engine, qualified
from batisync.core.settings import Settings
from batisync.export.catalog import read_facts
from batisync.export.inspection import Finding, assess
from batisync.tools.checks import Check, CheckFailed, guard

# the subjects of the inspection's findings -> the doctor check that shows them
TABLE_CHECKS = {"Salarie": "Batigest Salarie", "SuiviMO": "Batigest SuiviMO"}


def batigest_engine(settings: Settings) -> sa.Engine:
    """The exporter's own engine factory, with a short connect timeout."""
    assert settings.batigest_url is not None
    url = sa.make_url(settings.batigest_url.reveal())
    timeout = {"timeout": 15} if url.get_backend_name() == "mssql" else {"connect_timeout": 15}
    return make_batigest_engine(url, connect_args=timeout)


def check_driver(settings: Settings) -> str:
    assert settings.batigest_url is not None
    url = sa.make_url(settings.batigest_url.reveal())
    if url.drivername == "mssql+mssqlpython":
        import mssql_python  # Microsoft's driver from PyPI, with its ODBC driver bundled

        return f"mssql-python {getattr(mssql_python, '__version__', '')} (bundled driver)".strip()
    if url.drivername != "mssql+pyodbc":
        return f"not needed ({url.drivername})"
    import pyodbc

    wanted = url.query.get("driver")
    installed = pyodbc.drivers()
    if not wanted:
        raise CheckFailed(
            "BATIGEST_URL has no ?driver=… (e.g. driver=ODBC+Driver+18+for+SQL+Server); "
            f"installed drivers: {installed or 'none'}; or use mssql+mssqlpython://, which "
            "needs none"
        )
    wanted = wanted if isinstance(wanted, str) else wanted[0]
    if wanted not in installed and not wanted.startswith("/"):
        raise CheckFailed(
            f"ODBC driver {wanted!r} is not installed (installed: {installed or 'none'}); "
            "see docs/OPERATIONS.md '5. SQL Server (Batigest)'"
        )
    note = " (FreeTDS: rows are loaded as literals, never with fast_executemany)"
    return f"{wanted} installed" + (note if is_freetds(url) else "")


def _describe(schema: str, table: str, errors: list[Finding]) -> str:
    text = "; ".join(
        f.message if f.subject == table else f"{f.subject} {f.message}" for f in errors
    )
    return f"{schema}.{table} {text}"


def _salarie_detail(conn: sa.Connection, schema: str) -> str:
    q = conn.dialect.identifier_preparer
    table = qualified(conn, schema, "Salarie")
    counts = conn.execute(sa.text(f"select count(*), count({q.quote('codebs')}) from {table}"))
    total, with_codebs = counts.one()
    detail = (
        f"{schema}.Salarie: {total} salariés, {with_codebs} with codebs (the BatiSimply user id)"
    )
    if with_codebs == 0:
        raise CheckFailed(detail + ": no codebs filled, no hour can be matched to a salarié")
    return detail


def inspection_checks(engine: sa.Engine, schema: str) -> list[Check]:
    """Salarie, SuiviMO and the privileges as judged by the exporter's inspection, then
    each warning and note on a line of its own."""
    with engine.connect() as conn:
        assessment = assess(read_facts(conn, schema))
        errors: dict[str, list[Finding]] = {}
        for finding in assessment.errors:
            errors.setdefault(finding.subject.split(".")[0], []).append(finding)
        checks = [
            Check("Batigest Salarie", False, _describe(schema, "Salarie", errors["Salarie"]))
            if "Salarie" in errors
            else guard("Batigest Salarie", lambda: _salarie_detail(conn, schema))
        ]
    suivimo = errors.get("SuiviMO")
    checks.append(
        Check("Batigest SuiviMO", False, _describe(schema, "SuiviMO", suivimo))
        if suivimo
        else Check("Batigest SuiviMO", True, f"{schema}.SuiviMO: the six columns fit")
    )
    privileges = errors.get("privileges", [])
    granted = "SELECT on Salarie; SELECT, INSERT, UPDATE, DELETE on SuiviMO"
    checks.append(
        Check(
            "Batigest privileges",
            not privileges,
            "; ".join(f.message for f in privileges) or granted,
        )
    )
    notes = [f for f in assessment.findings if f.level != "error"]
    checks += [Check(f"Batigest {f.subject}", True, f.message, level=f.level) for f in notes]
    return checks


__all__ = ["batigest_engine", "check_driver", "inspection_checks"]
