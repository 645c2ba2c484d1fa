"""A `requests` session whose `send` is retried (tenacity), as dlt's `requests.Client`
did for us: 429, 5xx and connection errors retried with exponential backoff, each wait
capped at `max_delay`, `Retry-After` honoured, at most `max_attempts` attempts; after the
last one the last answer is returned (or its error raised). Ours, so that a load that
writes nothing imports no dlt (its helpers import the whole of dlt: ~0.5 s).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from email.utils import mktime_tz, parsedate_tz
from typing import Any

import requests
from requests.exceptions import ChunkedEncodingError, ConnectionError, Timeout
from tenacity import (
    RetryCallState,
    Retrying,
    retry_any,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    wait_exponential,
)

RETRY_STATUS = (429, *range(500, 600))
RETRY_EXCEPTIONS = (ConnectionError, Timeout, ChunkedEncodingError)


def _retried_status(result: Any) -> bool:
    return isinstance(result, requests.Response) and result.status_code in RETRY_STATUS


def retry_after_seconds(header: str, now: float | None = None) -> float | None:
    """`Retry-After` as seconds (a number of seconds or an HTTP date), None when unusable."""
    if re.match(r"^\s*[0-9]+\s*$", header):
        seconds = float(int(header))
    else:
        date = parsedate_tz(header)
        if date is None:
            return None
        seconds = mktime_tz(date) - (time.time() if now is None else now)
    return seconds if seconds > 0 else None


class _WaitRetryAfter(wait_exponential):
    """Exponential backoff, or the answer's `Retry-After` (within the same bounds)."""

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        response = None if outcome is None or outcome.failed else outcome.result()
        if isinstance(response, requests.Response):
            header = response.headers.get("Retry-After")
            seconds = retry_after_seconds(header) if header else None
            if seconds is not None:
                return max(self.min, min(self.max, seconds))
        return float(super().__call__(retry_state))


class _Session(requests.Session):
    """A session with a default timeout on every request."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeout)
        return super().request(*args, **kwargs)


class RetryingSessions:
    """One retrying session per thread (a `requests.Session` is not thread safe)."""

    def __init__(
        self,
        *,
        timeout: float,
        max_attempts: int,
        backoff_factor: float,
        max_delay: float,
        before_sleep: Callable[[RetryCallState], None] | None = None,
        on_response: Callable[..., Any] | None = None,
    ) -> None:
        self._local = threading.local()
        self._timeout = timeout
        self._on_response = on_response
        self._retry = dict(
            wait=_WaitRetryAfter(multiplier=backoff_factor, max=max_delay),
            retry=retry_any(
                retry_if_result(_retried_status), retry_if_exception_type(RETRY_EXCEPTIONS)
            ),
            stop=stop_after_attempt(max_attempts),
            reraise=True,
            # out of attempts on a retried status: the caller gets that last answer
            retry_error_callback=lambda state: state.outcome.result(),
            before_sleep=before_sleep,
        )

    @property
    def session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = self._make()
        return session

    def _make(self) -> requests.Session:
        session = _Session(self._timeout)
        if self._on_response is not None:
            session.hooks["response"].append(self._on_response)
        session.send = Retrying(**self._retry).wraps(session.send)  # type: ignore[method-assign]
        return session


__all__ = ["RETRY_EXCEPTIONS", "RETRY_STATUS", "RetryingSessions", "retry_after_seconds"]
