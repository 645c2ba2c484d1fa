"""`make doctor`: check each setting, then reach each system and say what is wrong.

Each check is independent and returns a `Check`; a failed one never stops the
others, so one run lists every problem. Nothing is written anywhere.
"""

from __future__ import annotations

import logging

import psycopg
import sqlalchemy as sa

from batisync.core.file_modes import config_file_warnings
from batisync.core.logs import redact
from batisync.core.settings import Settings, describe
from batisync.loader.api.client import BatiSimplyClient, RetryPolicy
from batisync.loader.api.errors import ApiError
from batisync.loader.batigest import read_chantiers
from batisync.loader.config import credentials_from_settings
from batisync.loader.window import sliding_window, utc_today
from batisync.orchestrate import runs
from batisync.orchestrate.lock import lock_holder
from batisync.tools.checks import Check, CheckFailed, guard
from batisync.tools.doctor_batigest import batigest_engine, check_driver, inspection_checks

log = logging.getLogger(__name__)

SALARIE_COLUMNS = ("Code", "Nom", "codebs")
SUIVIMO_COLUMNS = ("CodeChantier", "CodeSalarie", "Date", "NbH0", "NbH3", "NbH4")


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


def check_chantiers(engine: sa.Engine, schema: str) -> str:
    """Whether the sync can reject codes unknown to Batigest (`unknown_chantier`)."""
    found = read_chantiers(engine, schema)
    if found.is_on:
        return f"unknown_chantier {found.detail}"
    return f"unknown_chantier check OFF, codes are not checked against Batigest: {found.detail}"


# -- the whole check -----------------------------------------------------------------------


def run_doctor(settings: Settings) -> list[Check]:
    missing = {error.setting: error for error in settings.missing(settings.required_for_sync())}
    checks = [
        Check(f"setting {name}", False, str(error), setting=name) for name, error in missing.items()
    ] or [Check("settings", True, "every required setting is set")]
    checks += [Check("file permissions", True, w, level="warning") for w in config_file_warnings()]

    def needs(*names: str) -> str | None:
        absent = [n for n in names if n in missing]
        return f"needs {', '.join(absent)}" if absent else None

    api_names = settings.batisimply_required()
    if reason := needs(*api_names):
        checks.append(Check("BatiSimply token", None, reason))
    else:
        client = api_client(settings)
        token_check = guard("BatiSimply token", lambda: check_token(client))
        checks.append(token_check)
        if token_check.ok:
            checks.append(guard("BatiSimply API", lambda: check_api(client)))
    if reason := needs("PGHOST", "PGDATABASE"):
        checks.append(Check("staging PostgreSQL", None, reason))
    else:
        checks.append(guard("staging PostgreSQL", lambda: check_staging(settings)))
    if reason := needs("BATIGEST_URL"):
        checks.append(Check("Batigest", None, reason))
        return checks
    checks.append(guard("Batigest ODBC driver", lambda: check_driver(settings)))
    engine = batigest_engine(settings)
    try:
        connection = guard("Batigest connection", lambda: _connect_detail(engine))
        checks.append(connection)
        if connection.ok:
            try:
                checks += inspection_checks(engine, settings.batigest_schema)
            except Exception as error:  # the catalog could not be read: say it, go on
                checks.append(guard("Batigest inspection", lambda e=error: _raise(e)))
            schema = settings.batigest_schema
            checks.append(guard("Batigest ChantierDef", lambda: check_chantiers(engine, schema)))
    finally:
        engine.dispose()
    return checks


def _raise(error: Exception) -> str:
    raise error


def _connect_detail(engine: sa.Engine) -> str:
    with engine.connect() as conn:
        conn.execute(sa.text("select 1"))
    url = engine.url.render_as_string(hide_password=True)
    return f"connected to {url}"


def render(settings: Settings, checks: list[Check]) -> str:
    lines = ["settings (environment > .env > credentials.json > derived > default):"]
    lines += [
        f"  {name:<28} {value}  [{settings.origins.get(name, 'default')}]"
        for name, value in describe(settings).items()
    ]
    lines.append(f"  (files: {settings.searched})" if settings.searched else "")
    if settings.warnings:
        lines.append("warnings:")
        lines += [f"  {redact(warning)}" for warning in settings.warnings]
    lines.append("checks:")
    lines += [f"  {c.label:<5} {c.name:<24} {c.detail}" for c in checks]
    failed = [c for c in checks if c.ok is False]
    lines.append(
        f"{len(failed)} problem(s): " + ", ".join(c.name for c in failed)
        if failed
        else "everything answers: `make sync` can run"
    )
    return "\n".join(lines)


__all__ = ["Check", "render", "run_doctor"]
