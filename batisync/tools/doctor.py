"""`make doctor`: check each setting, then reach each system and say what is wrong.

Each check is independent and returns a `Check`; a failed one never stops the
others, so one run lists every problem. Nothing is written anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import psycopg
import sqlalchemy as sa

from batisync.core.connections import make_batigest_engine
from batisync.core.errors import first_line
from batisync.core.file_modes import config_file_warnings
from batisync.core.logs import redact
from batisync.core.settings import Settings, describe
from batisync.extract.client import ApiError, BatiSimplyClient, RetryPolicy
from batisync.extract.config import credentials_from_settings
from batisync.extract.window import sliding_window, utc_today
from batisync.orchestrate import runs
from batisync.orchestrate.lock import lock_holder

log = logging.getLogger("batisync.tools.doctor")

SALARIE_COLUMNS = ("Code", "Nom", "codebs")
SUIVIMO_COLUMNS = ("CodeChantier", "CodeSalarie", "Date", "NbH0", "NbH3", "NbH4")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None  # None: not run (a setting it needs is missing)
    detail: str
    setting: str | None = None  # set when the problem is a missing setting (exit 2)
    warning: bool = False  # worth fixing, not a failure (exit status unchanged)

    @property
    def label(self) -> str:
        return "WARN" if self.warning else {True: "ok", False: "FAIL", None: "skip"}[self.ok]


def _guard(name: str, check: Callable[[], str]) -> Check:
    """Run one check; any exception becomes its failure, secrets removed."""
    try:
        return Check(name, True, check())
    except CheckFailed as failure:
        return Check(name, False, redact(str(failure)))
    except Exception as error:
        log.debug("check %s raised", name, exc_info=True)
        return Check(name, False, redact(first_line(error)))


class CheckFailed(RuntimeError):
    pass


# -- BatiSimply: through the loader's own client, so a green check means the sync's code
# reached the API (same token request, same paths, same answer-shape parsing) ------------

DOCTOR_RETRY = RetryPolicy(max_attempts=2, backoff_factor=0.5, max_delay=2, timeout=15)


def api_client(settings: Settings) -> BatiSimplyClient:
    return BatiSimplyClient(credentials_from_settings(settings), DOCTOR_RETRY)


def check_token(client: BatiSimplyClient) -> str:
    try:
        client.auth.obtain_token()
    except ApiError as error:
        raise CheckFailed(
            f"{error} (check BATISIMPLY_CLIENT_ID/SECRET, USERNAME/PASSWORD, GRANT_TYPE "
            "and that BATISIMPLY_SSO_URL is the token endpoint itself)"
        ) from None
    lifetime = round(client.auth.expires_in_s())
    return f"token received ({client.credentials.grant_type} grant, expires in {lifetime} s)"


def check_api(client: BatiSimplyClient) -> str:
    projects = client.projects()
    slots = next(iter(client.time_slots(sliding_window(7, utc_today()))), [])
    return f"{len(projects)} projects; {len(slots)} time slots in the last 7 days (first page)"


# -- staging PostgreSQL ----------------------------------------------------------------


def check_staging(settings: Settings) -> str:
    with psycopg.connect(**settings.staging.conninfo(), autocommit=True) as conn:
        version = conn.execute("show server_version").fetchone()
        can_create = conn.execute(
            "select has_database_privilege(current_user, current_database(), 'CREATE')"
        ).fetchone()
        if not can_create or not can_create[0]:
            raise CheckFailed(
                f"connected, but user {settings.staging.user!r} may not create schemas in "
                f"{settings.staging.database!r} (the loader and dbt need CREATE)"
            )
        parts = [f"PostgreSQL {version[0] if version else '?'}"]
        holder = lock_holder(conn)
        parts.append(f"a sync is running now: {holder.describe()}" if holder else "no sync running")
        history = runs.recent_runs(conn, settings.dbt_schema, limit=1)
        if history:
            last = history[0]
            parts.append(
                f"last run {last['run_id']} {last['status']}"
                + (f" at {last['failed_stage']}: {last['error']}" if last["failed_stage"] else "")
            )
        else:
            parts.append("no run recorded yet")
        return "; ".join(parts)


# -- Batigest -------------------------------------------------------------------------


def batigest_engine(settings: Settings) -> sa.Engine:
    """The exporter's own engine factory, with a short connect timeout."""
    assert settings.batigest_url is not None
    url = sa.make_url(settings.batigest_url.reveal())
    timeout = {"timeout": 15} if url.get_backend_name() == "mssql" else {"connect_timeout": 15}
    return make_batigest_engine(url, connect_args=timeout)


def check_odbc_driver(settings: Settings) -> str:
    assert settings.batigest_url is not None
    url = sa.make_url(settings.batigest_url.reveal())
    if url.drivername != "mssql+pyodbc":
        return f"not needed ({url.drivername})"
    import pyodbc

    wanted = url.query.get("driver")
    installed = pyodbc.drivers()
    if not wanted:
        raise CheckFailed(
            "BATIGEST_URL has no ?driver=… (e.g. driver=ODBC+Driver+18+for+SQL+Server); "
            f"installed drivers: {installed or 'none'}"
        )
    wanted = wanted if isinstance(wanted, str) else wanted[0]
    if wanted not in installed:
        raise CheckFailed(
            f"ODBC driver {wanted!r} is not installed (installed: {installed or 'none'}); "
            "see README 'SQL Server driver'"
        )
    return f"{wanted} installed"


def missing_columns(present: Iterable[str], wanted: Iterable[str]) -> list[str]:
    """Wanted column names absent from `present` (SQL Server compares without case)."""
    have = {name.lower() for name in present}
    return [name for name in wanted if name.lower() not in have]


def check_batigest_table(engine: sa.Engine, schema: str, table: str, wanted: tuple) -> str:
    inspector = sa.inspect(engine)
    tables = inspector.get_table_names(schema=schema)
    match = next((t for t in tables if t.lower() == table.lower()), None)
    if match is None:
        raise CheckFailed(
            f"no table {schema}.{table} (BATIGEST_SCHEMA={schema!r}; tables there: "
            f"{', '.join(sorted(tables)[:10]) or 'none'})"
        )
    columns = [c["name"] for c in inspector.get_columns(match, schema=schema)]
    if absent := missing_columns(columns, wanted):
        raise CheckFailed(f"{schema}.{table} lacks column(s) {', '.join(absent)}")
    detail = f"{schema}.{match}: {', '.join(wanted)} present"
    if table == "Salarie":
        codebs = next(c for c in columns if c.lower() == "codebs")
        quoted = engine.dialect.identifier_preparer
        with engine.connect() as conn:
            counts = conn.execute(
                sa.text(
                    f"select count(*), count({quoted.quote(codebs)}) "
                    f"from {quoted.quote_schema(schema)}.{quoted.quote(match)}"
                )
            ).one()
        detail += f"; {counts[0]} salariés, {counts[1]} with codebs (the BatiSimply user id)"
        if counts[1] == 0:
            raise CheckFailed(detail + ": no codebs filled, no hour can be matched to a salarié")
    return detail


# -- the whole check -----------------------------------------------------------------------


def run_doctor(settings: Settings) -> list[Check]:
    missing = {error.setting: error for error in settings.missing(settings.required_for_sync())}
    checks = [
        Check(f"setting {name}", False, str(error), setting=name) for name, error in missing.items()
    ] or [Check("settings", True, "every required setting is set")]
    checks += [Check("file permissions", True, w, warning=True) for w in config_file_warnings()]

    def needs(*names: str) -> str | None:
        absent = [n for n in names if n in missing]
        return f"needs {', '.join(absent)}" if absent else None

    api_names = settings.batisimply_required()
    if reason := needs(*api_names):
        checks.append(Check("BatiSimply token", None, reason))
    else:
        client = api_client(settings)
        token_check = _guard("BatiSimply token", lambda: check_token(client))
        checks.append(token_check)
        if token_check.ok:
            checks.append(_guard("BatiSimply API", lambda: check_api(client)))
    if reason := needs("PGHOST", "PGDATABASE"):
        checks.append(Check("staging PostgreSQL", None, reason))
    else:
        checks.append(_guard("staging PostgreSQL", lambda: check_staging(settings)))
    if reason := needs("BATIGEST_URL"):
        checks.append(Check("Batigest", None, reason))
        return checks
    checks.append(_guard("Batigest ODBC driver", lambda: check_odbc_driver(settings)))
    engine = batigest_engine(settings)
    try:
        connection = _guard("Batigest connection", lambda: _connect_detail(engine))
        checks.append(connection)
        if connection.ok:
            schema = settings.batigest_schema
            for table, wanted in (("Salarie", SALARIE_COLUMNS), ("SuiviMO", SUIVIMO_COLUMNS)):
                checks.append(
                    _guard(
                        f"Batigest {table}",
                        lambda t=table, w=wanted: check_batigest_table(engine, schema, t, w),
                    )
                )
    finally:
        engine.dispose()
    return checks


def _connect_detail(engine: sa.Engine) -> str:
    with engine.connect() as conn:
        conn.execute(sa.text("select 1"))
    url = engine.url.render_as_string(hide_password=True)
    return f"connected to {url}"


def render(settings: Settings, checks: list[Check]) -> str:
    lines = ["settings (environment > .env > credentials.json > default):"]
    lines += [f"  {name:<28} {value}" for name, value in describe(settings).items()]
    lines.append("checks:")
    lines += [f"  {c.label:<5} {c.name:<24} {c.detail}" for c in checks]
    failed = [c for c in checks if c.ok is False]
    lines.append(
        f"{len(failed)} problem(s): " + ", ".join(c.name for c in failed)
        if failed
        else "everything answers: `make sync` can run"
    )
    return "\n".join(lines)


__all__ = ["Check", "missing_columns", "render", "run_doctor"]
