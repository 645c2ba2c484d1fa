"""The environment of a `batisync` process on the local stack, built in one place for the
tests, the benchmarks, the reliability matrix and the demo: settings from the environment
only (no `.env`, no `credentials.json`), the staging database as libpq's `PG*`, the
fake BatiSimply API's `BATISIMPLY_*`, and dbt's and dlt's work files in a folder of the
caller's (parallel sessions never share `dbt_project/target` or a dlt pipeline).
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa

from batisync.core.settings.dossiers import work_env
from devstack.fake_batisimply import FakeBatiSimply

# the window of the end-to-end tests: the generated datasets span 20 days or so
WINDOW_DAYS = 30


def staging_env(staging_url: str) -> dict[str, str]:
    """libpq's `PG*` for the database at `staging_url` (what the settings and dbt's
    profile read); `PGPASSWORD` only when the URL has one."""
    url = sa.make_url(staging_url)
    env = {
        "PGHOST": str(url.host),
        "PGPORT": str(url.port or 5432),
        "PGUSER": str(url.username),
        "PGDATABASE": str(url.database),
    }
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    return env


def sync_env(
    staging_url: str,
    batigest_url: str,
    work_dir: Path | None = None,
    *,
    api: FakeBatiSimply | None = None,
    window_days: int | None = WINDOW_DAYS,
    **settings: str,
) -> dict[str, str]:
    """Everything a sync needs, from the environment only: `PATH`, no settings file, the
    staging database, `BATIGEST_URL`, the fake `api`'s credentials (when given),
    `HEURES_WINDOW_DAYS` (unless None), the work files under `work_dir` (when given),
    then `settings` (any variable, overriding the rest)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CREDENTIALS_FILE": "",  # no settings file: the environment only
        **(api.settings_env() if api is not None else {}),
        **staging_env(staging_url),
        "BATIGEST_URL": batigest_url,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    }
    if window_days is not None:
        env["HEURES_WINDOW_DAYS"] = str(window_days)
    if work_dir is not None:
        env |= work_env(work_dir)
    return env | settings


__all__ = ["WINDOW_DAYS", "staging_env", "sync_env", "work_env"]
