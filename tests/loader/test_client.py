"""The BatiSimply client against the fake API: grants, token renewal, retries, pages."""

from __future__ import annotations

import dataclasses
import re
import time
from typing import Any

import pytest
import requests

from batisync.loader.api.client import SLOTS_PATH, BatiSimplyClient, RetryPolicy
from batisync.loader.api.errors import ApiError
from batisync.loader.api.paging import next_page, page_items
from batisync.loader.window import chunk_window
from devstack.fake_batisimply import Dataset, FakeBatiSimply
from tests.loader.helpers import (
    FAST_RETRY,
    credentials_for,
    small_dataset,
    window,
)

# the loader's small dataset (tests/loader/helpers.py) for the `dataset` and `api` fixtures
pytestmark = pytest.mark.dataset(factory=small_dataset)

API_DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def _slot_ids(client: BatiSimplyClient, chunk_days: int = 31) -> list[str]:
    return [
        str(record["id"])
        for chunk in chunk_window(window(), chunk_days)
        for page in client.time_slots(chunk)
        for record in page
    ]


def _expected_ids(dataset: Dataset) -> list[str]:
    return sorted(str(s["id"]) for s in dataset.in_window(window().start, window().end))


@pytest.mark.parametrize("grant_type", ["password", "client_credentials"])
def test_both_grants_fetch_everything(
    api: FakeBatiSimply, dataset: Dataset, grant_type: str
) -> None:
    client = BatiSimplyClient(credentials_for(api, grant_type), FAST_RETRY)
    assert sorted(_slot_ids(client)) == _expected_ids(dataset)
    assert len(client.projects()) == len(dataset.projects)
    assert api.tokens_issued == 1
    sso = api.requests_to("openid-connect")
    assert [(r.method, r.status) for r in sso] == [("POST", 200)]


def test_refused_credentials_fail_clearly_without_the_secret(api: FakeBatiSimply) -> None:
    good = credentials_for(api)
    bad = type(good)(**{**good.__dict__, "password": "wrong-pw-123"})
    with pytest.raises(ApiError) as caught:
        BatiSimplyClient(bad, FAST_RETRY).projects()
    message = str(caught.value)
    assert "openid-connect/token" in message and "401" in message and "invalid_grant" in message
    assert "wrong-pw-123" not in message and good.client_secret not in message
    assert "wrong-pw-123" not in repr(bad)


def test_token_expiring_mid_load_is_renewed_once_and_nothing_is_lost(
    api: FakeBatiSimply, dataset: Dataset
) -> None:
    client = BatiSimplyClient(credentials_for(api), FAST_RETRY)
    api.expire_tokens_after_requests(2)  # the server kills each token after 2 calls
    ids = _slot_ids(client, chunk_days=5)  # 7 chunks: several tokens needed
    assert sorted(ids) == _expected_ids(dataset)
    refused = [r for r in api.requests_to("/api/") if r.status == 401]
    assert api.tokens_issued >= 3
    assert len(refused) == api.tokens_issued - 1, "one 401 per expired token, then renewal"


def test_token_is_renewed_before_it_expires(api: FakeBatiSimply) -> None:
    # share the server's clock: 290 s later the 300 s token is inside the renewal margin
    client = BatiSimplyClient(credentials_for(api), FAST_RETRY, clock=api.clock.now)
    client.projects()
    api.clock.advance(250)
    client.projects()
    assert api.tokens_issued == 1, "still valid for 50 s: no renewal yet"
    api.clock.advance(40)
    client.projects()
    assert api.tokens_issued == 2
    assert all(r.status == 200 for r in api.requests_to("/api/")), "renewed without a 401"


def test_a_second_401_after_renewal_fails(api: FakeBatiSimply) -> None:
    client = BatiSimplyClient(credentials_for(api), FAST_RETRY)
    api.expire_tokens_after_requests(0)  # every token is refused
    with pytest.raises(ApiError, match=r"GET /api/project: HTTP 401 even with a fresh token"):
        client.projects()
    assert api.tokens_issued == 2


@pytest.mark.parametrize(
    ("paged", "shape"),
    [
        (False, "content"),
        (True, "content"),
        (True, "data"),
        (True, "items"),
        (True, "elements"),
        (True, "link_only"),
    ],
)
def test_every_pagination_shape(paged: bool, shape: str) -> None:
    dataset = small_dataset()
    with FakeBatiSimply(
        dataset, paged=paged, paged_shape=shape, page_size=7, projects_plain_array=paged
    ) as server:
        client = BatiSimplyClient(credentials_for(server), FAST_RETRY)
        ids = _slot_ids(client)
        projects = client.projects()
        pages = len(server.requests_to(SLOTS_PATH))
    assert sorted(ids) == _expected_ids(dataset), "every record once, none twice"
    assert [p["id"] for p in projects] == [p.id for p in dataset.projects]
    if paged:
        assert pages > 2 * len(chunk_window(window(), 31)), "several pages per chunk"


def test_an_unknown_answer_shape_is_an_error_not_an_empty_list() -> None:
    assert page_items({"results": [1, 2]}) is None
    assert page_items({"elements": [1], "data": "x"}) == [1]
    assert page_items([]) == []


def test_next_page_rules() -> None:
    url, params = "http://h/api/x", {"startDate": "a", "endDate": "b"}
    assert next_page(url, params, "http://h/api/x?page=1", None) == ("http://h/api/x?page=1", None)
    assert next_page(url, params, "/api/x?page=2", [1]) == ("http://h/api/x?page=2", None)
    spring = {"content": [1], "number": 0, "last": False}
    assert next_page(url, params, None, spring) == (url, {**params, "page": 1})
    assert next_page(url, params, None, {"content": [], "number": 3, "last": True}) is None
    total = {"items": [1], "number": 1, "totalPages": 3}
    assert next_page(url, params, None, total) == (url, {**params, "page": 2})
    assert next_page(url, params, None, {"items": [1], "number": 2, "totalPages": 3}) is None
    assert next_page(url, params, None, [1, 2]) is None


def test_our_requests_never_use_a_bad_date_format(api: FakeBatiSimply, client: Any) -> None:
    _slot_ids(client, chunk_days=3)
    slot_requests = api.requests_to(SLOTS_PATH)
    assert slot_requests and all(
        API_DATE.fullmatch(r.query["startDate"]) and API_DATE.fullmatch(r.query["endDate"])
        for r in slot_requests
    )
    assert api.bad_date_requests == 0
    # the counter works: a bare date, as the API doc warns, is refused with 400
    token = requests.post(api.sso_url, data=credentials_form(api), timeout=5).json()
    answer = requests.get(
        f"{api.api_url}/{SLOTS_PATH}",
        params={"startDate": "2026-03-01", "endDate": "2026-03-02"},
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=5,
    )
    assert answer.status_code == 400 and api.bad_date_requests == 1


def credentials_form(api: FakeBatiSimply) -> dict[str, str]:
    return {
        "grant_type": "password",
        "client_id": api.client_id,
        "client_secret": api.client_secret,
        "username": api.username,
        "password": api.password,
    }


def test_429_waits_as_retry_after_says(api: FakeBatiSimply, client: BatiSimplyClient) -> None:
    client.projects()  # token first
    api.fail_next(429, retry_after=1)
    began = time.monotonic()
    assert len(client.projects()) == 3
    waited = time.monotonic() - began
    # the exponential backoff alone would wait ~0.01 s: only Retry-After explains a second
    assert waited >= 1.0
    assert [r.status for r in api.requests_to("/api/project")][-2:] == [429, 200]


def test_500_then_success(api: FakeBatiSimply, client: BatiSimplyClient, dataset: Dataset) -> None:
    api.fail_next(500, times=2)
    assert sorted(_slot_ids(client)) == _expected_ids(dataset)
    statuses = [r.status for r in api.requests_to("/api/")]
    assert statuses[:3] == [500, 500, 200]


def test_connection_reset_is_retried(api: FakeBatiSimply, client: BatiSimplyClient) -> None:
    api.reset_next()
    assert len(client.projects()) == 3
    assert [r.status for r in api.requests_to("/api/project")] == [0, 200]


def test_sso_errors_are_retried_too(api: FakeBatiSimply, client: BatiSimplyClient) -> None:
    api.fail_next(503, path_contains="openid-connect")
    assert len(client.projects()) == 3
    assert [r.status for r in api.requests_to("openid-connect")] == [503, 200]


def test_retries_are_bounded_and_the_error_says_where(
    api: FakeBatiSimply, client: BatiSimplyClient
) -> None:
    api.fail_always(503)
    with pytest.raises(ApiError) as caught:
        client.projects()
    assert str(caught.value) == "GET /api/project: HTTP 503 after 3 attempts"
    assert len(api.requests_to("/api/project")) == FAST_RETRY.max_attempts


def test_unreachable_api_fails_after_bounded_attempts(api: FakeBatiSimply) -> None:
    retry = RetryPolicy(max_attempts=2, backoff_factor=0.01, max_delay=0.1, timeout=0.5)
    api.slow_next(2.0, times=5)  # every answer comes too late: read timeouts
    client = BatiSimplyClient(credentials_for(api), retry)
    # issue 14: the error names the host and port, and the cause under the exception type
    host = api.base_url.removeprefix("http://")
    with pytest.raises(
        ApiError, match=rf"{host}/api/project: no answer after 2 attempts \(\w+: .+\)"
    ):
        client.projects()


def test_scope_is_sent_when_configured_and_project_by_id(dataset: Dataset) -> None:
    """An SSO that requires a scope (as a Keycloak client may) refuses a token request
    without it; `GET /project/{id}` gives a project missing from the list, None on 404."""
    listed = dataset.projects[0].id
    with FakeBatiSimply(dataset, realm="jhipster", required_scope="openid") as api:
        without = BatiSimplyClient(credentials_for(api), FAST_RETRY)
        with pytest.raises(ApiError, match=r"HTTP 400 \(invalid_scope\)"):
            without.auth.obtain_token()
        scoped = dataclasses.replace(credentials_for(api), scope="openid")
        client = BatiSimplyClient(scoped, FAST_RETRY)
        dataset.unlist_project(listed)
        try:
            assert listed not in {p["id"] for p in client.projects()}
            assert client.project(listed)["projectCode"] == dataset.projects[0].code
            assert client.project(999_999) is None
        finally:
            dataset.project_records.append(dataset.unlisted_project_records.pop(listed))
