"""BatiSimply HTTP client: OAuth2 token, retries, pagination (CONTRACT.md).

- Retries on 429, 5xx and connection errors come from dlt's retrying `requests` session
  (`dlt.sources.helpers.requests.Client`): exponential backoff, `Retry-After` honoured,
  at most `RetryPolicy.max_attempts` attempts, each wait capped at `max_delay`.
- The token comes from dlt's `OAuth2ClientCredentials`, extended for the password grant,
  renewed a little before it expires, and once more when the API answers 401.
- Answers may be a JSON array or an object holding the list under `content`, `data`,
  `items` or `elements`; further pages come from a `Link: <...>; rel="next"` header or
  from Spring-style `last`/`number`/`totalPages` fields.

Errors raise `ApiError`, whose message names the method, the URL path and the last
status, never a secret.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import orjson
import requests
from dlt.common.configuration.specs.base_configuration import configspec
from dlt.sources.helpers.requests import Client
from dlt.sources.helpers.requests.retry import DEFAULT_RETRY_STATUS
from dlt.sources.helpers.rest_client.auth import OAuth2ClientCredentials

from batisync.core.errors import BatisyncError
from batisync.loader.window import Window

log = logging.getLogger(__name__)

SLOTS_PATH = "timeSlotManagement/allUsers"
PROJECTS_PATH = "project"
LIST_KEYS = ("content", "data", "items", "elements")
MAX_PAGES = 100_000  # per request: beyond this the pagination is looping
GRANT_TYPES = ("password", "client_credentials")


class ApiError(BatisyncError):
    """The API (or its SSO) could not give an answer we can use."""


@dataclass(frozen=True)
class ApiCredentials:
    """Where the API is and how to log in (CONTRACT.md `BATISIMPLY_*`)."""

    api_url: str
    sso_url: str
    client_id: str
    client_secret: str = field(repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    grant_type: str = "password"
    scope: str | None = None  # sent with the token request when set (BATISIMPLY_SCOPE)

    def __post_init__(self) -> None:
        if self.grant_type not in GRANT_TYPES:
            raise ValueError(f"grant_type must be one of {GRANT_TYPES}, got {self.grant_type!r}")
        if self.grant_type == "password" and not (self.username and self.password):
            raise ValueError("the password grant needs a username and a password")


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of the retries: worst case about `sum(min(backoff * 2**n, max_delay))`."""

    max_attempts: int = 6
    backoff_factor: float = 1.0
    max_delay: float = 60.0
    timeout: float = 60.0


@configspec
class OAuth2Token(OAuth2ClientCredentials):
    """dlt's client-credentials auth, plus the password grant and early renewal.

    The token is renewed when less than `renew_margin` seconds (at most a tenth of its
    lifetime) remain, and on demand (`invalidate`) after a 401.
    """

    grant_type: str = "password"
    username: str | None = None
    password: str | None = None
    scope: str | None = None
    renew_margin: float = 30.0

    def __post_init__(self) -> None:
        super().__post_init__()
        self.clock: Callable[[], float] = time.monotonic
        self._expires_at = 0.0
        self._renew_at = 0.0
        self.tokens_obtained = 0

    def __repr__(self) -> str:  # the dataclass repr would show the secrets
        return f"OAuth2Token(url={self.access_token_url!r}, grant_type={self.grant_type!r})"

    def is_token_expired(self) -> bool:
        return self.clock() >= self._renew_at

    def expires_in_s(self) -> float:
        """Seconds the current token has left (0 without one)."""
        return max(0.0, self._expires_at - self.clock()) if self.access_token else 0.0

    def invalidate(self) -> None:
        self.access_token = None
        self._renew_at = 0.0

    def build_access_token_request(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "grant_type": self.grant_type,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }
        if self.grant_type == "password":
            data |= {"username": self.username, "password": self.password}
        if self.scope:
            data["scope"] = self.scope
        return {"headers": {"Content-Type": "application/x-www-form-urlencoded"}, "data": data}

    def obtain_token(self) -> None:
        path = urlsplit(self.access_token_url).path
        try:
            response = self.session.post(self.access_token_url, **self.build_access_token_request())
        except requests.RequestException as error:
            raise ApiError(
                f"POST {where(self.access_token_url)} (token): no answer after retries "
                f"({type(error).__name__}: {_cause(error)})"
            ) from error
        if response.status_code != 200:
            raise ApiError(
                f"POST {path} (token): HTTP {response.status_code}{_oauth_error(response)}"
            )
        try:
            answer = response.json()
            token = answer["access_token"]
        except (ValueError, KeyError, TypeError):
            raise ApiError(f"POST {path} (token): the answer holds no access_token") from None
        lifetime = float(self.parse_expiration_in_seconds(answer))
        now = self.clock()
        self.access_token = str(token)
        self._expires_at = now + lifetime
        self._renew_at = now + lifetime - min(self.renew_margin, lifetime / 10)
        self.tokens_obtained += 1
        log.debug("token obtained (%s grant), valid %.0f s", self.grant_type, lifetime)


def _oauth_error(response: requests.Response) -> str:
    """The OAuth2 `error` code of a refusal (e.g. invalid_grant); never the request."""
    try:
        code = response.json().get("error")
    except (ValueError, AttributeError):
        return ""
    return f" ({code})" if isinstance(code, str) and code.isprintable() and len(code) < 80 else ""


def where(url: str) -> str:
    """`host:port/path` of a URL: where a request went, never its query or credentials."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{host}:{port}{parts.path}"


def _cause(error: BaseException) -> str:
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


def _before_retry(state: Any) -> None:
    """tenacity's `before_sleep`: one log line per retry, with host, status and wait."""
    outcome = state.outcome
    request = state.args[0] if state.args else None
    url = getattr(request, "url", None) or "?"
    method = getattr(request, "method", None) or "request"
    if outcome is not None and outcome.failed:
        error = outcome.exception()
        what = f"{type(error).__name__}: {_cause(error)}"
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


# -- answers and pages (pure) ----------------------------------------------------------


def page_items(body: Any) -> list[Any] | None:
    """The records of one answer, or None when the shape is unknown."""
    if isinstance(body, list):
        return body
    if isinstance(body, Mapping):
        for key in LIST_KEYS:
            if isinstance(body.get(key), list):
                return body[key]
    return None


def next_page(
    url: str, params: Mapping[str, Any] | None, link_next: str | None, body: Any
) -> tuple[str, dict[str, Any] | None] | None:
    """The request for the next page, or None when this was the last one.

    A `Link rel="next"` header wins (its URL carries the query); otherwise a Spring-style
    body that says it is not the last page asks for `page = number + 1`.
    """
    if link_next:
        return urljoin(url, link_next), None
    if not isinstance(body, Mapping):
        return None
    number = body.get("number")
    if not isinstance(number, int) or isinstance(number, bool):
        number = int((params or {}).get("page", 0))
    last = body.get("last")
    total_pages = body.get("totalPages")
    if last is False or (
        last is None and isinstance(total_pages, int) and number + 1 < total_pages
    ):
        return url, {**(params or {}), "page": number + 1}
    return None


# -- the client ----------------------------------------------------------------------


def _decode(content: bytes, path: str) -> Any:
    """The answer's JSON. orjson refuses valid JSON that one record can hold (a number
    beyond a double, a lone surrogate escape): the standard library reads those, and
    the record checks then quarantine the record instead of the answer failing."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(content)
    except ValueError:  # JSONDecodeError, UnicodeDecodeError
        raise ApiError(f"GET {path}: the answer is not JSON") from None


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
        self._http = Client(
            request_timeout=self.retry.timeout,
            raise_for_status=False,
            request_max_attempts=self.retry.max_attempts,
            request_backoff_factor=self.retry.backoff_factor,
            request_max_retry_delay=self.retry.max_delay,
            respect_retry_after_header=True,
            session_attrs={"hooks": {"response": [self._observe]}},
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
        """dlt's retrying session, with each retry logged (`_before_retry`)."""
        session = self._http.session
        retry = getattr(session.send, "retry", None)  # tenacity's Retrying behind send
        if retry is not None and retry.before_sleep is not _before_retry:
            retry.before_sleep = _before_retry
        return session

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
                    f"({type(error).__name__}: {_cause(error)})"
                ) from error
            if response.status_code == 401 and not renewed:
                log.info("HTTP 401 on GET %s: renewing the token once", path)
                self.auth.invalidate()
                renewed = True
                continue
            if response.status_code == 401:
                raise ApiError(f"GET {path}: HTTP 401 even with a fresh token")
            if response.status_code in DEFAULT_RETRY_STATUS:
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
        url: str = self.url(path)
        query: dict[str, Any] | None = dict(params) if params else None
        seen: set[tuple[str, tuple]] = set()
        for _ in range(MAX_PAGES):
            marker = (url, tuple(sorted((query or {}).items())))
            if marker in seen:
                raise ApiError(f"GET {urlsplit(url).path}: pagination points back to a seen page")
            seen.add(marker)
            response = self.get_json(url, query)
            body = _decode(response.content, urlsplit(url).path)
            items = page_items(body)
            if items is None:
                raise ApiError(
                    f"GET {urlsplit(url).path}: unexpected answer shape (neither a list nor "
                    f"an object with {', '.join(LIST_KEYS)})"
                )
            yield items
            following = next_page(
                response.url, query, response.links.get("next", {}).get("url"), body
            )
            if following is None:
                return
            url, query = following
        raise ApiError(f"GET {urlsplit(url).path}: more than {MAX_PAGES} pages")

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


__all__ = [
    "PROJECTS_PATH",
    "SLOTS_PATH",
    "ApiCredentials",
    "ApiError",
    "BatiSimplyClient",
    "OAuth2Token",
    "RetryPolicy",
    "next_page",
    "page_items",
]
