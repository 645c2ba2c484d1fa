"""Fixtures and helpers of the loader tests (import them explicitly)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from batisync.loader.api.auth import ApiCredentials
from batisync.loader.api.client import RetryPolicy
from batisync.loader.pipeline import LoadReport
from batisync.loader.window import Window, sliding_window
from devstack.fake_batisimply import Dataset, FakeBatiSimply, generate

TODAY = date(2026, 3, 10)
WINDOW_DAYS = 30
# fast but real retries: the waits are short, the attempts bounded
FAST_RETRY = RetryPolicy(max_attempts=3, backoff_factor=0.01, max_delay=2.0, timeout=10.0)


def small_dataset(**overrides: Any) -> Dataset:
    params: dict[str, Any] = {
        "n_employees": 4,
        "n_projects": 3,
        "days": WINDOW_DAYS,
        "seed": 7,
        "today": TODAY,
    }
    return generate(**(params | overrides))


def credentials_for(api: FakeBatiSimply, grant_type: str = "password") -> ApiCredentials:
    password_grant = grant_type == "password"
    return ApiCredentials(
        api_url=api.api_url,
        sso_url=api.sso_url,
        client_id=api.client_id,
        client_secret=api.client_secret,
        username=api.username if password_grant else None,
        password=api.password if password_grant else None,
        grant_type=grant_type,
    )


def window(days: int = WINDOW_DAYS) -> Window:
    return sliding_window(days, TODAY)


Loader = Callable[..., LoadReport]


def query(url: str, sql: str, **params: Any) -> list[tuple]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def raw_state(url: str) -> dict[str, list[tuple]]:
    """Every row of the raw tables (that exist), in a stable order."""
    state = {}
    for table in (
        "raw_batisimply.time_slots",
        "raw_batisimply.quarantine",
        "raw_batisimply.projects",
        "raw_batigest.salarie",
    ):
        if query(url, "select to_regclass(:t)", t=table)[0][0] is not None:
            state[table] = sorted(query(url, f"select * from {table}"), key=repr)
    return state


# the raw tables compared by `raw_content` (dlt's own tables left out)
RAW_SCHEMAS = ("raw_batisimply", "raw_batigest")
LOAD_TIMES = {"_fetched_at", "first_seen_at", "last_seen_at", "looked_up_at", "checked_at"}


def raw_tables(url: str) -> list[str]:
    rows = query(
        url,
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_schema = any(:schemas) and table_name not like '\\_dlt\\_%' "
        "and table_name not in ('staging_generation', 'time_slots_last_fetch') order by 1",
        schemas=list(RAW_SCHEMAS),
    )
    return [table for (table,) in rows]


def raw_content(
    url: str, before: dict[str, set], at: datetime, generation: int | None = None
) -> dict[str, Any]:
    """Every raw table's columns and rows: this load's time as "now", a load id as
    "kept" or "new", this load's `generation` (when given) as "this", dlt's row ids
    left out."""
    content: dict[str, Any] = {}
    for table in raw_tables(url):
        schema, name = table.split(".")
        columns = [
            c
            for (c,) in query(
                url,
                "select column_name from information_schema.columns "
                "where table_schema = :s and table_name = :t order by 1",
                s=schema,
                t=name,
            )
        ]
        kept = [c for c in columns if c != "_dlt_id"]
        rows = []
        for row in query(url, f"select {', '.join(kept)} from {table}"):
            values = dict(zip(kept, row, strict=True))
            for column in LOAD_TIMES & values.keys():
                values[column] = "now" if values[column] == at else values[column]
            if generation is not None and values.get("_generation") == generation:
                values["_generation"] = "this"
            old = values.pop("_dlt_load_id")
            values["_dlt_load_id"] = "kept" if old in before.get(table, ()) else "new"
            rows.append(repr(sorted(values.items())))
        content[table] = {"columns": columns, "rows": sorted(rows)}
    return content


# the load's temp tables left in any session (sql_write.py's `lean_*`)
LEAN_TEMP_TABLES = "select count(*) from pg_tables where tablename like 'lean\\_%'"


def load_ids(url: str) -> dict[str, set]:
    return {t: {i for (i,) in query(url, f"select _dlt_load_id from {t}")} for t in raw_tables(url)}


_FRESH_LOAD = """
import json, sys
from datetime import date
from batisync.loader.api.auth import ApiCredentials
from batisync.loader.pipeline import run_load
from batisync.loader.window import sliding_window
p = json.loads(sys.argv[1])
report = run_load(
    staging_url=p["staging_url"],
    credentials=ApiCredentials(**p["credentials"]),
    window=sliding_window(p["days"], date.fromisoformat(p["today"])),
    chunk_days=31,
    batigest_url=p["batigest_url"],
    pipelines_dir=p["pipelines_dir"],
)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("dlt", "sqlglot"))
slots = report.resources["time_slots"]
print(json.dumps({"changed": slots.new + slots.changed + slots.deleted, "modules": loaded}))
"""


def fresh_interpreter_load(
    api: FakeBatiSimply, staging_url: str, batigest_url: str, pipelines_dir: Path
) -> dict[str, Any]:
    """One load in a fresh interpreter: slots changed (new + changed + deleted) and the
    dlt or sqlglot modules it imported."""
    params = {
        "staging_url": staging_url,
        "credentials": asdict(credentials_for(api)),
        "days": WINDOW_DAYS,
        "today": TODAY.isoformat(),
        "batigest_url": batigest_url,
        "pipelines_dir": str(pipelines_dir),
    }
    done = subprocess.run(
        [sys.executable, "-c", _FRESH_LOAD, json.dumps(params)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])
