"""Where dlt keeps its pipelines' working state (no dlt import: a load that writes
nothing never starts dlt, yet names the folder)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import sqlalchemy as sa

PIPELINES_DIR_ENV = "LOADER_PIPELINES_DIR"


def default_pipelines_dir(staging_url: str) -> Path:
    """`$LOADER_PIPELINES_DIR`, else a temp folder per staging database (dlt state is
    rebuilt from the destination, so losing it costs nothing)."""
    if env := os.environ.get(PIPELINES_DIR_ENV):
        return Path(env)
    url = sa.make_url(staging_url)
    identity = f"{url.host}:{url.port}/{url.database}".encode()
    return Path(tempfile.gettempdir()) / f"batisync-dlt-{hashlib.md5(identity).hexdigest()[:10]}"


__all__ = ["PIPELINES_DIR_ENV", "default_pipelines_dir"]
