"""Logging in to BatiSimply: the credentials, and the OAuth2 token (password or
client-credentials grant) renewed before it expires and once more after a 401.

The token is a `requests` auth that obtains and renews the token itself (what dlt's
`OAuth2ClientCredentials` did, without importing dlt), for the password and the
client-credentials grants, with the scope, early renewal and errors that name the SSO
path and the OAuth2 error code, never a secret.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from batisync.loader.api.errors import ApiError, cause, where

log = logging.getLogger(__name__)

GRANT_TYPES = ("password", "client_credentials")
DEFAULT_LIFETIME = 3600  # seconds, when the token answer gives no `expires_in` (as dlt)


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


class OAuth2Token(requests.auth.AuthBase):
    """A bearer token obtained from the SSO, renewed when less than `renew_margin`
    seconds (at most a tenth of its lifetime) remain, and on demand (`invalidate`)
    after a 401. `session` posts the token request (retried like the API's GETs)."""

    def __init__(
        self,
        *,
        access_token_url: str,
        client_id: str,
        client_secret: str,
        session: requests.Session,
        grant_type: str = "password",
        username: str | None = None,
        password: str | None = None,
        scope: str | None = None,
        renew_margin: float = 30.0,
    ) -> None:
        self.access_token_url = access_token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.session = session
        self.grant_type = grant_type
        self.username = username
        self.password = password
        self.scope = scope
        self.renew_margin = renew_margin
        self.access_token: str | None = None
        self.clock: Callable[[], float] = time.monotonic
        self._expires_at = 0.0
        self._renew_at = 0.0
        self.tokens_obtained = 0

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self.access_token is None or self.is_token_expired():
            self.obtain_token()
        request.headers["Authorization"] = f"Bearer {self.access_token}"
        return request

    def __repr__(self) -> str:  # never the secrets
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
                f"({type(error).__name__}: {cause(error)})"
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
        lifetime = float(int(answer.get("expires_in", DEFAULT_LIFETIME)))
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


__all__ = ["GRANT_TYPES", "ApiCredentials", "OAuth2Token"]
