"""`ApiError`, and how a failed request is worded: where it went and why, never a secret."""

from __future__ import annotations

from urllib.parse import urlsplit

from batisync.core.errors import BatisyncError


class ApiError(BatisyncError):
    """The API (or its SSO) could not give an answer we can use."""


def where(url: str) -> str:
    """`host:port/path` of a URL: where a request went, never its query or credentials."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{host}:{port}{parts.path}"


def cause(error: BaseException) -> str:
    """The innermost reason of a requests failure (refused, timed out, name unknown),
    without the URL requests puts in its message."""
    reason: BaseException = error
    while True:
        inner = getattr(reason, "reason", None) or reason.__cause__ or reason.__context__
        if not isinstance(inner, BaseException) or inner is reason:
            break
        reason = inner
    text = str(reason)
    if "] " in text:  # `<urllib3… object at 0x…>: Failed to establish …: [Errno 111] …`
        text = text[text.rindex("[") :]
    return text.split(" (Caused by")[0][:160] or type(reason).__name__


__all__ = ["ApiError", "cause", "where"]
