"""Fixtures and helpers of the loader tests (import them explicitly)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
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
