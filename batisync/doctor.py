"""`make doctor`: check each setting, then reach each system and say what is wrong.

Each check is independent and returns a `Check`; a failed one never stops the
others, so one run lists every problem. Nothing is written anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import requests
import sqlalchemy as sa

from batisync import runs
from batisync.lock import lock_holder
from batisync.logs import redact
from batisync.run import config_errors, required_for_sync, staging_conninfo
from batisync.settings import Settings, describe

log = logging.getLogger("batisync.doctor")

SALARIE_COLUMNS = ("Code", "Nom", "codebs")
SUIVIMO_COLUMNS = ("CodeChantier", "CodeSalarie", "Date", "NbH0", "NbH3", "NbH4")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None  # None: not run (a setting it needs is missing)
    detail: str
    setting: str | None = None  # set when the problem is a missing setting (exit 2)

    @property
    def label(self) -> str:
        return {True: "ok", False: "FAIL", None: "skip"}[self.ok]


def _guard(name: str, check: Callable[[], str]) -> Check:
    """Run one check; any exception becomes its failure, secrets removed."""
    try:
        return Check(name, True, check())
    except CheckFailed as failure:
        return Check(name, False, redact(str(failure)))
    except Exception as error:
        log.debug("check %s raised", name, exc_info=True)
        first = (str(error).strip().splitlines() or [""])[0]
        return Check(name, False, redact(f"{type(error).__name__}: {first}"))


class CheckFailed(RuntimeError):
    pass


# -- BatiSimply ------------------------------------------------------------------------


def fetch_token(settings: Settings, timeout: float = 15) -> tuple[str, int | None]:
    """(access_token, expires_in) from the SSO, with the configured grant."""
    form = {
        "grant_type": settings.grant_type,
        "client_id": settings.client_id or "",
        "client_secret": settings.client_secret.reveal() if settings.client_secret else "",
    }
    if settings.grant_type == "password":
        form["username"] = settings.username or ""
        form["password"] = settings.password.reveal() if settings.password else ""
    answer = requests.post(str(settings.sso_url), data=form, timeout=timeout)
    if answer.status_code != 200:
        raise CheckFailed(
            f"{settings.sso_url} answered HTTP {answer.status_code}: {answer.text[:200]!r} "
            "(check BATISIMPLY_CLIENT_ID/SECRET, USERNAME/PASSWORD, GRANT_TYPE)"
        )
    try:
        body = answer.json()
        return str(body["access_token"]), body.get("expires_in")
    except (ValueError, KeyError, TypeError):
        raise CheckFailed(
            f"{settings.sso_url} answered 200 but no access_token in the JSON "
            "(is BATISIMPLY_SSO_URL the token endpoint itself?)"
        ) from None


def _count_listed(body: Any) -> int:
    if isinstance(body, list):
        return len(body)
    if isinstance(body, dict):
        for key in ("elements", "content", "data", "items"):
            if isinstance(body.get(key), list):
                return len(body[key])
    raise CheckFailed(f"unexpected answer shape: {type(body).__name__}")


def check_api(settings: Settings, token: str, timeout: float = 30) -> str:
    headers = {"Authorization": f"Bearer {token}"}
    projects = requests.get(f"{settings.api_url}/project", headers=headers, timeout=timeout)
    if projects.status_code != 200:
        raise CheckFailed(f"GET /project answered HTTP {projects.status_code}")
    end = datetime.now(UTC).replace(microsecond=0)
    start = end - timedelta(days=7)
    slots = requests.get(
        f"{settings.api_url}/timeSlotManagement/allUsers",
        params={"startDate": f"{start:%Y-%m-%dT%H:%M:%SZ}", "endDate": f"{end:%Y-%m-%dT%H:%M:%SZ}"},
        headers=headers,
        timeout=timeout,
    )
    if slots.status_code != 200:
        raise CheckFailed(f"GET /timeSlotManagement/allUsers answered HTTP {slots.status_code}")
    return (
        f"{_count_listed(projects.json())} projects; "
        f"{_count_listed(slots.json())} time slots in the last 7 days (first page)"
    )


# -- staging PostgreSQL ----------------------------------------------------------------


def check_staging(settings: Settings) -> str:
    with psycopg.connect(**staging_conninfo(settings.staging), autocommit=True) as conn:
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
    assert settings.batigest_url is not None
    url = sa.make_url(settings.batigest_url.reveal())
    args = {"timeout": 15} if url.get_backend_name() == "mssql" else {"connect_timeout": 15}
    return sa.create_engine(url, connect_args=args, pool_pre_ping=False)


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
    missing = {
        error.setting: error for error in config_errors(settings, required_for_sync(settings))
    }
    checks = [
        Check(f"setting {name}", False, str(error), setting=name) for name, error in missing.items()
    ] or [Check("settings", True, "every required setting is set")]

    def needs(*names: str) -> str | None:
        absent = [n for n in names if n in missing]
        return f"needs {', '.join(absent)}" if absent else None

    api_names = settings.batisimply_required()
    if reason := needs(*api_names):
        checks.append(Check("BatiSimply token", None, reason))
    else:
        token_check = _guard("BatiSimply token", lambda: _token_detail(settings))
        checks.append(token_check)
        if token_check.ok:
            checks.append(
                _guard("BatiSimply API", lambda: check_api(settings, fetch_token(settings)[0]))
            )
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


def _token_detail(settings: Settings) -> str:
    _, expires = fetch_token(settings)
    return f"token received ({settings.grant_type} grant, expires in {expires} s)"


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


__all__ = ["Check", "fetch_token", "missing_columns", "render", "run_doctor"]
