"""Dossiers on the local stack (tests, benchmarks, the Dagster demo): a `DOSSIERS_DIR`
whose `.env` names the shared staging server, and one folder per dossier with its own
fake BatiSimply account and Batigest stand-in, in a `.env` or in the old connector's
`credentials.json`; and the environment of a `batisync sync --all` process on them
(nothing per dossier in it: CONTRACT.md "Dossiers").
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from devstack.fake_batisimply import FakeBatiSimply
from devstack.sync_env import WINDOW_DAYS, staging_env


def _write_env(path: Path, values: Mapping[str, str]) -> Path:
    # single-quoted: python-dotenv keeps a quoted value as it is (URLs hold `#`, `?`)
    lines = [f"{k}='{v}'" for k, v in values.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_shared(dossiers_dir: Path, staging_url: str, **more: str) -> Path:
    """`DOSSIERS_DIR/.env`: the shared staging server (no database: each dossier gets
    `batisync_<name>`), then `more`."""
    dossiers_dir.mkdir(parents=True, exist_ok=True)
    server = {k: v for k, v in staging_env(staging_url).items() if k != "PGDATABASE"}
    return _write_env(dossiers_dir / ".env", server | more)


def dossier_env(
    api: FakeBatiSimply | None, batigest_url: str | None, **more: str
) -> dict[str, str]:
    """A dossier's own settings: its BatiSimply account and its Batigest, then `more`."""
    env = dict(api.settings_env()) if api is not None else {}
    if batigest_url is not None:
        env["BATIGEST_URL"] = batigest_url
    return env | more


def write_dossier(
    dossiers_dir: Path,
    name: str,
    env: Mapping[str, str] | None = None,
    credentials: Mapping[str, Any] | None = None,
) -> Path:
    """`DOSSIERS_DIR/<name>/` with a `.env` (`env`) and/or a `credentials.json`."""
    folder = dossiers_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    if env is not None:
        _write_env(folder / ".env", env)
    if credentials is not None:
        (folder / "credentials.json").write_text(json.dumps(credentials, indent=2))
    return folder


def dossier_database(staging_url: str, name: str) -> str:
    """The URL of dossier `name`'s own staging database (`batisync_<name>`)."""
    return sa.make_url(staging_url).set(database=f"batisync_{name}").render_as_string(False)


def fleet_env(
    dossiers_dir: Path, *, window_days: int | None = WINDOW_DAYS, **more: str
) -> dict[str, str]:
    """The environment of `batisync sync --all` / `--dossier` on `dossiers_dir`: `PATH`,
    the folder, the window; nothing per dossier."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DOSSIERS_DIR": str(dossiers_dir),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    }
    if window_days is not None:
        env["HEURES_WINDOW_DAYS"] = str(window_days)
    return env | more


__all__ = [
    "dossier_database",
    "dossier_env",
    "fleet_env",
    "write_dossier",
    "write_shared",
]
