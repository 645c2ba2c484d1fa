"""Values a setting gets from others when it is not set itself: the API URL from the SSO
URL (BatiSimply serves both on one domain), and the Batigest URL from the old
connector's `sqlserver` block."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from batisync.core.settings import parsers as p

# Microsoft's own PyPI driver (package mssql-python): no ODBC driver to install
RECOMMENDED_DRIVER = "mssql+mssqlpython"


def api_url_from_sso(sso_url: str) -> str | None:
    """`https://sso.<domain>/auth/realms/…` → `https://api.<domain>/api` (port kept);
    None when the SSO host is not `sso.<something>`."""
    parts = urlsplit(sso_url)
    host = parts.hostname or ""
    if not host.startswith("sso.") or len(host) <= len("sso."):
        return None
    netloc = "api." + host.removeprefix("sso.")
    if parts.port:
        netloc += f":{parts.port}"
    return f"{parts.scheme}://{netloc}/api"


def _server_and_port(block: Mapping[str, Any]) -> tuple[str, int | None]:
    """`server` is `host`, `host\\instance` or `host,port`; a `port` key works too."""
    host, _, inline = str(block["server"]).strip().partition(",")
    port_text = inline.strip() or (str(block["port"]).strip() if block.get("port") else "")
    if not port_text:
        return host.strip(), None
    port = p.int_between(1, 65535)(port_text)
    if inline.strip() and block.get("port") and str(block["port"]).strip() != inline.strip():
        raise p.Invalid(f"server says port {inline.strip()}, port says {block['port']}")
    return host.strip(), port


def batigest_url_from_block(block: Any) -> tuple[str, str | None] | None:
    """The `sqlserver` block → (URL, warning or None); None without a `server`.

    Without `driver`: the recommended `mssql+mssqlpython`; with `driver` (an ODBC driver
    name): `mssql+pyodbc` through it. Where the block says nothing of certificates, the
    server's certificate is trusted without check, as the old connector did
    (TrustServerCertificate=yes), and the warning says how to verify it instead.
    """
    if not isinstance(block, Mapping) or not block.get("server"):
        return None
    host, port = _server_and_port(block)
    query: dict[str, str] = {}
    drivername = RECOMMENDED_DRIVER
    if block.get("driver"):
        drivername = "mssql+pyodbc"
        query["driver"] = str(block["driver"])
    warning = None
    if "trust_server_certificate" in block:
        trusted = p.flag(block["trust_server_certificate"])
    else:
        trusted = True
        warning = (
            "the SQL Server certificate is not verified (TrustServerCertificate=yes, as the "
            "old connector did): to verify it, install the server's CA certificate on this "
            'host and add "trust_server_certificate": false to the sqlserver block of '
            "credentials.json (or set BATIGEST_URL)"
        )
    query["TrustServerCertificate"] = "yes" if trusted else "no"
    url = sa.URL.create(
        drivername,
        username=str(block["user"]) if block.get("user") is not None else None,
        password=str(block["password"]) if block.get("password") is not None else None,
        host=host,
        port=port,
        database=str(block["database"]) if block.get("database") is not None else None,
        query=query,
    )
    return url.render_as_string(hide_password=False), warning


__all__ = ["RECOMMENDED_DRIVER", "api_url_from_sso", "batigest_url_from_block"]
