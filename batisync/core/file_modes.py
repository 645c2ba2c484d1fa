"""Configuration files readable by other users: a warning from doctor and sync.

`.env` and `credentials.json` hold passwords; on a shared host, a mode like 0644 lets
every local user read them. Nothing refuses to run: the warning names the file and
the `chmod` that fixes it.
"""

from __future__ import annotations

import os
import shlex
import stat
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values


def config_files(
    environ: Mapping[str, str] | None = None, dotenv_path: str | Path = ".env"
) -> list[Path]:
    """The files `load_settings` reads (same lookup of CREDENTIALS_FILE), when they exist."""
    env = os.environ if environ is None else environ
    dotenv = Path(dotenv_path)
    from_dotenv = dotenv_values(dotenv).get("CREDENTIALS_FILE") if dotenv.is_file() else None
    credentials = Path(env.get("CREDENTIALS_FILE") or from_dotenv or "credentials.json")
    return [path for path in (dotenv, credentials) if path.is_file()]


def loose_permissions(paths: list[Path]) -> list[str]:
    """One warning per file that a group or other users may read."""
    warnings = []
    for path in paths:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            continue
        if mode & (stat.S_IRGRP | stat.S_IROTH):
            warnings.append(
                f"{path} is readable by other users (mode {mode:04o}) and holds secrets: "
                f"chmod 600 {shlex.quote(str(path))}"
            )
    return warnings


def config_file_warnings(environ: Mapping[str, str] | None = None) -> list[str]:
    return loose_permissions(config_files(environ))


__all__ = ["config_file_warnings", "config_files", "loose_permissions"]
