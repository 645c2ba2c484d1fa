"""The loader run with the configured values: the one place that maps `Settings` to
`run_load`'s parameters (the sync, `batisync load` and `debug-heures` share it)."""

from __future__ import annotations

from collections.abc import Callable

from batisync.core.settings import Settings
from batisync.loader.api.auth import ApiCredentials
from batisync.loader.api.client import RetryPolicy
from batisync.loader.pipeline import LoadReport, run_load
from batisync.loader.window import Window


def credentials_from_settings(settings: Settings) -> ApiCredentials:
    """The API credentials; raises ConfigError naming the first missing BATISIMPLY_* one."""
    settings.require(*settings.batisimply_required())
    return ApiCredentials(
        api_url=settings.api_url or "",
        sso_url=settings.sso_url or "",
        client_id=settings.client_id or "",
        client_secret=settings.client_secret.reveal() if settings.client_secret else "",
        username=settings.username,
        password=settings.password.reveal() if settings.password else None,
        grant_type=settings.grant_type,
        scope=settings.scope,
    )


def load_with_settings(
    settings: Settings,
    window: Window,
    *,
    progress: Callable[[int, str], None] | None = None,
    written_by: str = "load",
    on_writing: Callable[[], None] | None = None,
) -> LoadReport:
    """`run_load` of `window` on the configured API, staging and Batigest; `written_by`
    names the command with the staging generation the load commits."""
    return run_load(
        staging_url=settings.staging.sqlalchemy_url().render_as_string(hide_password=False),
        credentials=credentials_from_settings(settings),
        window=window,
        chunk_days=settings.chunk_days,
        delete_guard_ratio=settings.delete_guard_ratio,
        batigest_url=settings.batigest_url.reveal() if settings.batigest_url else None,
        batigest_schema=settings.batigest_schema,
        progress=progress,
        written_by=written_by,
        on_writing=on_writing,
        retry=RetryPolicy(max_attempts=settings.retry_attempts),
    )
