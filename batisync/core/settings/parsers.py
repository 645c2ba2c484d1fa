"""Parsers of setting values: raw text (or JSON value) → typed value, or `Invalid`.

A parser knows nothing of where the value came from: it raises `Invalid(expected)` and
the loader turns that into a `ConfigError` naming the variable and the file key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from batisync.core.settings.secret import Secret

Parser = Callable[[Any], Any]


class Invalid(ValueError):
    """A malformed value; the text says what was expected."""


def text(value: Any) -> str:
    return str(value).strip()


def url(value: Any) -> str:
    parsed = text(value).rstrip("/")
    if not parsed.startswith(("http://", "https://")):
        raise Invalid(f"expected an http(s) URL, got {parsed!r}")
    return parsed


def secret(value: Any) -> Secret:
    return Secret(str(value))


def int_between(low: int, high: int) -> Parser:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise Invalid(f"expected a whole number, got {value!r}")
        try:
            number = int(str(value).strip())
        except ValueError:
            raise Invalid(f"expected a whole number, got {value!r}") from None
        if not low <= number <= high:
            raise Invalid(f"expected a number from {low} to {high}, got {number}")
        return number

    return parse


def share(value: Any) -> float:
    try:
        number = float(str(value).strip())
    except ValueError:
        raise Invalid(f"expected a number between 0 and 1, got {value!r}") from None
    if not 0 <= number <= 1:
        raise Invalid(f"expected a number between 0 and 1, got {number}")
    return number


def choice(*allowed: str) -> Parser:
    def parse(value: Any) -> str:
        parsed = text(value).lower()
        if parsed not in allowed:
            raise Invalid(f"expected one of {', '.join(allowed)}, got {value!r}")
        return parsed

    return parse


def timezone(value: Any) -> str:
    parsed = text(value)
    try:
        ZoneInfo(parsed)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"expected an IANA time zone such as Europe/Paris, got {parsed!r}") from None
    return parsed


def flag(value: Any) -> bool:
    """A JSON boolean, or yes/no, true/false, 1/0 as text."""
    if isinstance(value, bool):
        return value
    parsed = text(value).lower()
    if parsed in {"yes", "true", "1"}:
        return True
    if parsed in {"no", "false", "0"}:
        return False
    raise Invalid(f"expected true or false, got {value!r}")


# Never quote the value in these messages: a URL that does not parse may hold its
# password where the host should be.
ESCAPE_HINT = (
    "percent-encode the user and password in the URL: '@' as %40, ':' as %3A, '/' as %2F, "
    "'#' as %23, '?' as %3F, '%' as %25 (e.g. mssql+mssqlpython://batisync:p%40ss@host:1433/BTG"
    "), or set sqlserver.password in credentials.json, which needs no escaping"
)


def _broken_authority(url: sa.URL) -> bool:
    """An unescaped `@`, `/`, `?` or `#` in the password leaves part of it in the host."""
    host = url.host or ""
    return any(c in host for c in "@/?#") or "@" in (url.username or "")


def sqlalchemy_url(value: Any) -> Secret:
    parsed = text(value)
    try:
        parsed_url = sa.make_url(parsed)
    except (sa.exc.ArgumentError, ValueError):
        raise Invalid(
            "expected a SQLAlchemy URL such as mssql+mssqlpython://user:pass@host:1433/db "
            f"(if the password holds special characters, {ESCAPE_HINT})"
        ) from None
    if _broken_authority(parsed_url):
        raise Invalid(
            "the URL does not parse into user, password and host: a character of the "
            f"password (or user) needs escaping; {ESCAPE_HINT}"
        )
    if parsed_url.get_backend_name() not in {"mssql", "postgresql"}:
        raise Invalid(
            "expected an mssql+mssqlpython:// or mssql+pyodbc:// (or postgresql:// stand-in) "
            f"URL, got a {parsed_url.get_backend_name()} URL"
        )
    return Secret(parsed)


def secret_url(value: Any) -> Secret:
    """An http(s) URL that may carry a token (a webhook): never shown, even when wrong."""
    parsed = text(value)
    if not parsed.startswith(("http://", "https://")):
        raise Invalid("expected an http(s) URL (the value is not shown: it may hold a token)")
    return Secret(parsed)


__all__ = [
    "ESCAPE_HINT",
    "Invalid",
    "Parser",
    "choice",
    "flag",
    "int_between",
    "secret",
    "secret_url",
    "share",
    "sqlalchemy_url",
    "text",
    "timezone",
    "url",
]
