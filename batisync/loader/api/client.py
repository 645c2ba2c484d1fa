"""BatiSimply HTTP client: GETs with a fresh token and bounded retries, the endpoints.

- Retries on 429, 5xx and connection errors come from a retrying `requests` session
  (`retrying.RetryingSessions`, as dlt's `requests.Client` did: dlt is not imported
  here, so that a load that writes nothing never imports it): exponential backoff,
  `Retry-After` honoured, at most `RetryPolicy.max_attempts` attempts, each wait capped
  at `max_delay`; each retry is logged here.
- The token is `auth.OAuth2Token`, renewed once more when the API answers 401.
- Pages are walked by `paging.walk`.

Errors raise `ApiError`, whose message names the method, the URL path and the last
status, never a secret.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests

from batisync.loader.api import paging
from batisync.loader.api.auth import ApiCredentials, OAuth2Token
from batisync.loader.api.errors import ApiError, cause, where
from batisync.loader.api.retrying import RETRY_STATUS, RetryingSessions
from batisync.loader.window import Window

log = logging.getLogger(__name__)

SLOTS_PATH = "timeSlotManagement/allUsers"
PROJECTS_PATH = "project"


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of the retries: worst case about `sum(min(backoff * 2**n, max_delay))`."""

    max_attempts: int = 6
    backoff_factor: float = 1.0
    max_delay: float = 60.0
    timeout: float = 60.0


def _before_retry(state: Any) -> None:
    """tenacity's `before_sleep`: one log line per retry, with host, status and wait."""
    outcome = state.outcome
    request = state.args[0] if state.args else None
    url = getattr(request, "url", None) or "?"
    method = getattr(request, "method", None) or "request"
    if outcome is not None and outcome.failed:
        error = outcome.exception()
        what = f"{type(error).__name__}: {cause(error)}"
    else:
        response = outcome.result() if outcome is not None else None
        status = getattr(response, "status_code", "?")
        after = response.headers.get("Retry-After") if response is not None else None
        what = f"HTTP {status}" + (f" (Retry-After {after})" if after else "")
    wait = getattr(state.next_action, "sleep", None) or getattr(state, "upcoming_sleep", 0.0)
    log.warning(
        "%s %s: %s; retry %d in %.2f s",
        method,
        where(url),
        what,
        state.attempt_number,
        float(wait or 0.0),
    )


class BatiSimplyClient:
    """GETs with a fresh token, bounded retries and every page of every answer."""

    def __init__(
        self,
        credentials: ApiCredentials,
        retry: RetryPolicy | None = None,
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.credentials = credentials
        self.retry = retry or RetryPolicy()
        self.requests_sent = 0
        self.responses_by_status: dict[int, int] = {}
        self._http = RetryingSessions(
            timeout=self.retry.timeout,
            max_attempts=self.retry.max_attempts,
            backoff_factor=self.retry.backoff_factor,
            max_delay=self.retry.max_delay,
            before_sleep=_before_retry,
            on_response=self._observe,
        )
        self.auth = OAuth2Token(
            access_token_url=credentials.sso_url,
            client_id=credentials.client_id,
            client_secret=credentials.client_secret,
            grant_type=credentials.grant_type,
            username=credentials.username,
            password=credentials.password,
            scope=credentials.scope,
            session=self._session(),
        )
        if clock is not None:
            self.auth.clock = clock

    def _observe(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.requests_sent += 1
        status = response.status_code
        self.responses_by_status[status] = self.responses_by_status.get(status, 0) + 1

    def _session(self) -> requests.Session:
        """This thread's retrying session, each retry logged (`_before_retry`)."""
        return self._http.session

    def url(self, path: str) -> str:
        return f"{self.credentials.api_url.rstrip('/')}/{path.lstrip('/')}"

    def get_json(
        self, url: str, params: Mapping[str, Any] | None = None, *, missing_ok: bool = False
    ) -> requests.Response:
        """One GET (retried by the session); renews the token once on a 401. With
        `missing_ok`, a 404 is returned as an answer instead of raised."""
        path = urlsplit(url).path
        renewed = False
        while True:
            try:
                response = self._session().get(
                    url, params=params, auth=self.auth, timeout=self.retry.timeout
                )
            except requests.RequestException as error:
                raise ApiError(
                    f"GET {where(url)}: no answer after {self.retry.max_attempts} attempts "
                    f"({type(error).__name__}: {cause(error)})"
                ) from error
            if response.status_code == 401 and not renewed:
                log.info("HTTP 401 on GET %s: renewing the token once", path)
                self.auth.invalidate()
                renewed = True
                continue
            if response.status_code == 401:
                raise ApiError(f"GET {path}: HTTP 401 even with a fresh token")
            if response.status_code in RETRY_STATUS:
                raise ApiError(
                    f"GET {path}: HTTP {response.status_code} after "
                    f"{self.retry.max_attempts} attempts"
                )
            if response.status_code == 404 and missing_ok:
                return response
            if response.status_code >= 400:
                raise ApiError(f"GET {path}: HTTP {response.status_code}")
            return response

    def pages(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[list[Any]]:
        """The records of every page of `GET {api}/{path}`, page by page."""
        return paging.walk(self.url(path), params, self.get_json)

    def time_slots(self, window: Window) -> Iterator[list[Any]]:
        """Pages of time slots whose start is in `window`."""
        return self.pages(SLOTS_PATH, window.api_params())

    def projects(self) -> list[Any]:
        return [record for page in self.pages(PROJECTS_PATH) for record in page]

    def project(self, project_id: int) -> dict[str, Any] | None:
        """`GET {api}/project/{id}`: the project, or None when the API answers 404."""
        response = self.get_json(self.url(f"{PROJECTS_PATH}/{project_id}"), missing_ok=True)
        if response.status_code == 404:
            return None
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise ApiError(f"GET /{PROJECTS_PATH}/{project_id}: the answer is not JSON") from None
        if not isinstance(body, dict):
            raise ApiError(f"GET /{PROJECTS_PATH}/{project_id}: the answer is not an object")
        return body


__all__ = ["PROJECTS_PATH", "SLOTS_PATH", "BatiSimplyClient", "RetryPolicy"]
