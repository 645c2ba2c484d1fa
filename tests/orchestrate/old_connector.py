"""The old connector's credentials.json (connecteur-sages-V1) as its users have it: the
keys it writes, the port as a string, no `api_url`, saved by Windows Notepad (UTF-8 BOM,
CRLF line ends). The shape is tests/fixtures/old_connector_credentials.json's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def old_connector_document(
    *, sso_url: str, client_id: str, client_secret: str, username: str, password: str,
    scope: str, pg_host: str, pg_port: int, pg_user: str, pg_database: str,
) -> dict[str, Any]:  # fmt: skip
    return {
        "sqlserver": {
            "server": "batigest.invalid,1433",
            "user": "sa",
            "password": "unused",
            "database": "BTG",
        },
        "postgres": {
            "host": pg_host,
            "user": pg_user,
            "password": "",
            "database": pg_database,
            "port": str(pg_port),
        },
        "hfsql": {"host": "", "dsn": None, "user": "admin", "password": "", "port": "4900"},
        "batisimply": {
            "sso_url": sso_url,
            "client_id": client_id,
            "client_secret": client_secret,
            "username": username,
            "password": password,
            "scope": scope,
        },
        "software": "batigest",
        "mode": "chantier",
        "debug": False,
        "heures_window_days": 180,
        "timezone": "Europe/Paris",
    }


def write_as_notepad(path: Path, document: dict[str, Any]) -> Path:
    text = json.dumps(document, indent=2, ensure_ascii=False)
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode() + b"\r\n")
    return path
