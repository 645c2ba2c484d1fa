"""A real HTTP server on loopback that behaves like the BatiSimply API (and its SSO).

Tests drive it through fault injection, a controllable clock and the request log.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import json
import re
import secrets
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from .generator import Dataset, parse_utc

SSO_PATH = "/auth/realms/batisimply/protocol/openid-connect/token"
SSO_PATH_TEMPLATE = "/auth/realms/{realm}/protocol/openid-connect/token"
SLOTS_PATH = "/api/timeSlotManagement/allUsers"
PROJECTS_PATH = "/api/project"
PROJECT_BY_ID = re.compile(r"/api/project/(\d+)")
# with `subdomains`: the hosts the real service uses, under .localhost (RFC 6761)
SSO_HOST, API_HOST = "sso.localhost", "api.localhost"
PAGED_SHAPES = ("content", "data", "items", "elements", "link_only")
API_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
RESET_STATUS = 0  # status recorded for a connection reset without an answer


class FakeClock:
    """Monotonic time plus an offset that tests move forward."""

    def __init__(self) -> None:
        self._offset = 0.0

    def now(self) -> float:
        return time.monotonic() + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    status: int  # RESET_STATUS (0) when the connection was reset
    authorized: bool  # valid bearer token, or accepted credentials at the SSO


@dataclass
class _Token:
    expires_at: float
    remaining: int | None  # authenticated requests left; None = unlimited


@dataclass
class _Fault:
    kind: str  # "fail" | "reset" | "slow"
    times: int | None  # None = until clear_faults()
    path_contains: str
    status: int = 0
    retry_after: float | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class _Index:
    """Slots sorted by start (for bisect) plus the records that never parse."""

    version: int
    starts: list[datetime]
    bodies: list[bytes]
    bad_starts: list[datetime]
    bad_bodies: list[bytes]
    always: list[bytes]


class _ApiError(Exception):
    def __init__(self, status: int, error: str, message: str):
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


def _sorted_pairs(pairs: list[tuple[Any, bytes]]) -> tuple[list, list, list[bytes]]:
    parsed, unparsed = [], []
    for start, body in pairs:
        moment = parse_utc(start)
        if moment is None:
            unparsed.append(body)
        else:
            parsed.append((moment, body))
    parsed.sort(key=lambda pair: pair[0])
    return [p[0] for p in parsed], [p[1] for p in parsed], unparsed


def _build_index(dataset: Dataset) -> _Index:
    version, slots, bad = dataset.encoded()
    starts, bodies, unparsed = _sorted_pairs(slots)
    bad_starts, bad_bodies, bad_unparsed = _sorted_pairs(bad)
    return _Index(version, starts, bodies, bad_starts, bad_bodies, unparsed + bad_unparsed)


def _window(starts: list[datetime], bodies: list[bytes], lo: datetime, hi: datetime):
    return bodies[bisect.bisect_left(starts, lo) : bisect.bisect_right(starts, hi)]


def _json_array(bodies: list[bytes]) -> bytes:
    return b"[" + b",".join(bodies) + b"]"


class FakeBatiSimply:
    """Fake BatiSimply API + SSO on 127.0.0.1 (free port unless ``port`` is given)."""

    def __init__(
        self,
        dataset: Dataset,
        *,
        client_id: str = "batisync",
        client_secret: str = "s3cret",
        username: str = "api@example.com",
        password: str = "pw",
        token_lifetime: float = 300,
        paged: bool = False,
        page_size: int = 500,
        paged_shape: str = "content",
        projects_plain_array: bool = False,
        realm: str = "batisimply",
        subdomains: bool = False,
        required_scope: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: FakeClock | None = None,
        verbose: bool = False,
    ) -> None:
        if paged_shape not in PAGED_SHAPES:
            raise ValueError(f"paged_shape must be one of {PAGED_SHAPES}")
        self.dataset = dataset
        self.client_id, self.client_secret = client_id, client_secret
        self.username, self.password = username, password
        self.token_lifetime = token_lifetime
        self.paged, self.page_size, self.paged_shape = paged, page_size, paged_shape
        self.projects_plain_array = projects_plain_array
        # the real service's shapes (issue 11), off by default:
        # realm="jhipster" → its SSO path; subdomains → SSO on sso.localhost and API on
        # api.localhost (reached through this server as an HTTP proxy, see proxy_env, as
        # *.localhost may not resolve); required_scope → a token request must send it
        self.sso_path = SSO_PATH_TEMPLATE.format(realm=realm)
        self.subdomains = subdomains
        self.required_scope = required_scope
        self.clock = clock or FakeClock()
        self.verbose = verbose
        self.requests: list[RecordedRequest] = []
        self.tokens_issued = 0
        self.bad_date_requests = 0
        self.errors: list[BaseException] = []  # handler exceptions, kept quiet
        self._lock = threading.Lock()
        self._index_lock = threading.Lock()
        self._index: _Index | None = None
        self._tokens: dict[str, _Token] = {}
        self._requests_per_token: int | None = None
        self._faults: list[_Fault] = []
        self._thread: threading.Thread | None = None
        self._httpd = _Server((host, port), _Handler, self)

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> FakeBatiSimply:
        if self._thread is None:
            # A short poll interval keeps stop() fast (tests start many servers).
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.02},
                name="fake-batisimply",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.close_all()
        self._httpd.server_close()

    def __enter__(self) -> FakeBatiSimply:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def _host_url(self, name: str) -> str:
        if not self.subdomains:
            return self.base_url
        return f"http://{name}:{self._httpd.server_address[1]}"

    @property
    def api_url(self) -> str:
        return self._host_url(API_HOST) + "/api"

    @property
    def sso_url(self) -> str:
        return self._host_url(SSO_HOST) + self.sso_path

    def proxy_env(self) -> dict[str, str]:
        """With `subdomains`: the variables that send a process's HTTP through this
        server (on loopback), so sso.localhost and api.localhost need no DNS."""
        if not self.subdomains:
            return {}
        return {
            "http_proxy": self.base_url,
            "HTTP_PROXY": self.base_url,
            "no_proxy": "",
            "NO_PROXY": "",
        }

    def settings_env(self, grant_type: str = "password") -> dict[str, str]:
        """The BATISIMPLY_* variables a client needs to talk to this server."""
        return {
            "BATISIMPLY_API_URL": self.api_url,
            "BATISIMPLY_SSO_URL": self.sso_url,
            "BATISIMPLY_CLIENT_ID": self.client_id,
            "BATISIMPLY_CLIENT_SECRET": self.client_secret,
            "BATISIMPLY_USERNAME": self.username,
            "BATISIMPLY_PASSWORD": self.password,
            "BATISIMPLY_GRANT_TYPE": grant_type,
        }

    # -- tokens --------------------------------------------------------------------------
    def expire_tokens_after_requests(self, n: int | None) -> None:
        """Every token (current and future) dies after ``n`` authenticated requests."""
        with self._lock:
            self._requests_per_token = n
            for token in self._tokens.values():
                token.remaining = n

    def expire_all_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    def _issue_token(self) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            expires = self.clock.now() + self.token_lifetime
            self._tokens[token] = _Token(expires, self._requests_per_token)
            self.tokens_issued += 1
        return token

    def _authenticate(self, header: str | None) -> bool:
        """True for a live bearer token; counts the request against its budget."""
        if not header or not header.startswith("Bearer "):
            return False
        with self._lock:
            token = self._tokens.get(header[len("Bearer ") :].strip())
            if token is None or self.clock.now() >= token.expires_at:
                return False
            if token.remaining is not None:
                if token.remaining <= 0:
                    return False
                token.remaining -= 1
            return True

    # -- faults --------------------------------------------------------------------------
    # path_contains=None targets API requests only ("/api/"): the SSO keeps working unless
    # asked for ("openid-connect"), or "" for every request.
    def fail_next(
        self,
        status: int,
        times: int = 1,
        retry_after: float | None = None,
        path_contains: str | None = None,
    ) -> None:
        self._add_fault(_Fault("fail", times, _scope(path_contains), status, retry_after))

    def fail_always(
        self, status: int, retry_after: float | None = None, path_contains: str | None = None
    ) -> None:
        self._add_fault(_Fault("fail", None, _scope(path_contains), status, retry_after))

    def slow_next(self, seconds: float, times: int = 1, path_contains: str | None = None) -> None:
        self._add_fault(_Fault("slow", times, _scope(path_contains), seconds=seconds))

    def reset_next(self, times: int = 1, path_contains: str | None = None) -> None:
        self._add_fault(_Fault("reset", times, _scope(path_contains)))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _add_fault(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, path: str, slow: bool) -> _Fault | None:
        """The first matching fault of the family, consumed if it has a count."""
        with self._lock:
            for fault in self._faults:
                if (fault.kind == "slow") != slow or fault.path_contains not in path:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    # -- observability -----------------------------------------------------------------
    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def requests_to(self, path_contains: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if path_contains in r.path]

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    # -- answers -------------------------------------------------------------------------
    def _current_index(self) -> _Index:
        with self._index_lock:
            if self._index is None or self._index.version != self.dataset.version:
                self._index = _build_index(self.dataset)
            return self._index

    def token_answer(self, form: dict[str, str], basic: tuple[str, str] | None) -> dict:
        grant = form.get("grant_type")
        if self.required_scope and self.required_scope not in form.get("scope", "").split():
            raise _ApiError(400, "invalid_scope", f"scope {self.required_scope!r} is required")
        if grant not in ("password", "client_credentials"):
            raise _ApiError(400, "unsupported_grant_type", f"unsupported grant_type {grant!r}")
        client_id, secret = basic or (form.get("client_id"), form.get("client_secret"))
        if (client_id, secret) != (self.client_id, self.client_secret):
            raise _ApiError(401, "invalid_client", "Invalid client or Invalid client credentials")
        user = (form.get("username"), form.get("password"))
        if grant == "password" and user != (self.username, self.password):
            raise _ApiError(401, "invalid_grant", "Invalid user credentials")
        return {
            "access_token": self._issue_token(),
            "expires_in": int(self.token_lifetime),
            "refresh_expires_in": 0,
            "token_type": "Bearer",
            "not-before-policy": 0,
            "scope": "profile email",
        }

    def slots_answer(self, query: dict[str, str]) -> tuple[bytes, dict[str, str]]:
        lo, hi = self._window_params(query)
        index = self._current_index()
        bodies = (
            _window(index.starts, index.bodies, lo, hi)
            + _window(index.bad_starts, index.bad_bodies, lo, hi)
            + index.always
        )
        if not self.paged:
            return _json_array(bodies), {}
        return self._page(bodies, query)

    def project_answer(self, project_id: int) -> bytes:
        record = self.dataset.project_record(project_id)
        if record is None:
            raise _ApiError(404, "not_found", f"no project {project_id}")
        return json.dumps(record, ensure_ascii=False).encode()

    def projects_answer(self) -> bytes:
        records = self.dataset.project_records
        body = records if self.projects_plain_array else {"elements": records}
        return json.dumps(body, ensure_ascii=False).encode()

    def _window_params(self, query: dict[str, str]) -> tuple[datetime, datetime]:
        try:
            lo = _api_date(query, "startDate")
            hi = _api_date(query, "endDate")
            if lo > hi:
                raise _ApiError(400, "bad_request", "startDate must not be after endDate")
        except _ApiError:
            with self._lock:
                self.bad_date_requests += 1
            raise
        return lo, hi

    def _page(self, bodies: list[bytes], query: dict[str, str]) -> tuple[bytes, dict[str, str]]:
        try:
            page = int(query.get("page", "0"))
        except ValueError:
            raise _ApiError(400, "bad_request", "page must be an integer") from None
        size = self.page_size
        chunk = bodies[page * size : (page + 1) * size]
        total_pages = -(-len(bodies) // size)
        headers = {}
        if page + 1 < total_pages:
            params = {k: query[k] for k in ("startDate", "endDate")} | {"page": page + 1}
            headers["Link"] = f'<{self.base_url}{SLOTS_PATH}?{urlencode(params)}>; rel="next"'
        if self.paged_shape == "link_only":
            return _json_array(chunk), headers
        meta = {
            "totalElements": len(bodies),
            "totalPages": total_pages,
            "number": page,
            "size": size,
            "last": page + 1 >= total_pages,
        }
        prefix = f'{{"{self.paged_shape}":'.encode()
        suffix = b"," + json.dumps(meta)[1:].encode()
        return prefix + _json_array(chunk) + suffix, headers


def _scope(path_contains: str | None) -> str:
    return "/api/" if path_contains is None else path_contains


def _api_date(query: dict[str, str], name: str) -> datetime:
    value = query.get(name)
    if value is None:
        raise _ApiError(400, "bad_request", f"Required parameter '{name}' is not present")
    moment = parse_utc(value) if API_DATE_RE.fullmatch(value) else None
    if moment is None:
        raise _ApiError(
            400, "bad_request", f"Parameter '{name}' must be formatted yyyy-MM-ddTHH:mm:ssZ"
        )
    return moment


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type, fake: FakeBatiSimply):
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conn_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conn_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_all(self) -> None:
        """Drop kept-alive connections so their threads end with the server."""
        with self._conn_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up (timeouts, resets) are normal here: stay quiet.
        self.fake.errors.append(sys.exc_info()[1] or RuntimeError("unknown"))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API behind its proxy
    server: _Server
    timeout = 120  # idle kept-alive connections end eventually

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.fake.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        fake = self.server.fake
        url = urlsplit(self.path)
        self._url_path = url.path
        self._query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        slow = fake._take_fault(url.path, slow=True)
        if slow is not None:
            time.sleep(slow.seconds)
        fault = fake._take_fault(url.path, slow=False)
        if fault is not None and fault.kind == "reset":
            return self._reset()
        if fault is not None:
            headers = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = f"{fault.retry_after:g}"
            return self._error(_ApiError(fault.status, "injected", "injected fault"), headers)
        try:
            self._route(body)
        except _ApiError as err:
            self._error(err)

    def _wrong_host(self, path: str) -> bool:
        """With `subdomains`, the SSO answers on sso.localhost only, the API on
        api.localhost only: a client that derived the wrong host gets a 404."""
        fake = self.server.fake
        if not fake.subdomains:
            return False
        host = (urlsplit(self.path).hostname or self.headers.get("Host", "")).split(":")[0]
        return host != (SSO_HOST if path == fake.sso_path else API_HOST)

    def _route(self, body: bytes) -> None:
        fake, path = self.server.fake, self._url_path.rstrip("/") or "/"
        if self._wrong_host(path):
            raise _ApiError(404, "not_found", f"no route for {path} on this host")
        if path == fake.sso_path:
            if self.command != "POST":
                raise _ApiError(405, "method_not_allowed", "use POST")
            form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
            answer = fake.token_answer(form, self._basic_auth())
            return self._send(200, json.dumps(answer).encode(), authorized=True)
        by_id = PROJECT_BY_ID.fullmatch(path)
        if path not in (SLOTS_PATH, PROJECTS_PATH) and by_id is None:
            raise _ApiError(404, "not_found", f"no route for {path}")
        if self.command != "GET":
            raise _ApiError(405, "method_not_allowed", "use GET")
        if not fake._authenticate(self.headers.get("Authorization")):
            raise _ApiError(401, "invalid_token", "Token is expired, unknown or missing")
        if path == PROJECTS_PATH:
            return self._send(200, fake.projects_answer(), authorized=True)
        if by_id is not None:
            return self._send(200, fake.project_answer(int(by_id.group(1))), authorized=True)
        payload, headers = fake.slots_answer(self._query)
        return self._send(200, payload, headers, authorized=True)

    def _basic_auth(self) -> tuple[str, str] | None:
        header = self.headers.get("Authorization") or ""
        if not header.startswith("Basic "):
            return None
        user, _, pw = base64.b64decode(header[6:]).decode().partition(":")
        return user, pw

    def _error(self, err: _ApiError, headers: dict[str, str] | None = None) -> None:
        headers = dict(headers or {})
        if err.status == 401:
            headers["WWW-Authenticate"] = f'Bearer error="{err.error}"'
        body = {"error": err.error, "error_description": err.message, "status": err.status}
        self._send(err.status, json.dumps(body).encode(), headers)

    def _send(
        self,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
        authorized: bool = False,
    ) -> None:
        self._log(status, authorized)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _reset(self) -> None:
        """Abort the connection with a TCP RST and no HTTP answer."""
        self._log(RESET_STATUS, False)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _log(self, status: int, authorized: bool) -> None:
        record = RecordedRequest(self.command, self._url_path, self._query, status, authorized)
        self.server.fake._record(record)
