"""The fake BatiSimply API behaves like the real one, over real HTTP."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
import requests

from devstack.fake_batisimply import (
    DST_DAYS_2026,
    MALFORMED_KINDS,
    Dataset,
    FakeBatiSimply,
    generate,
    parse_utc,
)

TODAY = date(2026, 4, 15)  # window covers the March DST day
SLOTS = "/timeSlotManagement/allUsers"
FULL = {"startDate": "2025-01-01T00:00:00Z", "endDate": "2027-12-31T23:59:59Z"}


def small_dataset(**kwargs) -> Dataset:
    params = {"n_employees": 5, "n_projects": 4, "days": 40, "seed": 1, "today": TODAY}
    return generate(**(params | kwargs))


# for the `dataset` and `api` fixtures (tests/conftest.py)
pytestmark = pytest.mark.dataset(factory=small_dataset)


def token(api: FakeBatiSimply, grant: str = "password") -> str:
    form = {"grant_type": grant, "client_id": api.client_id, "client_secret": api.client_secret}
    if grant == "password":
        form |= {"username": api.username, "password": api.password}
    answer = requests.post(api.sso_url, data=form, timeout=5)
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def get(api: FakeBatiSimply, path: str, tok: str | None, **params: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {tok}"} if tok else {}
    return requests.get(api.api_url + path, params=params, headers=headers, timeout=10)


def ids(answer: list[dict]) -> set:
    return {r.get("id") for r in answer}


# -- SSO ---------------------------------------------------------------------------------
@pytest.mark.parametrize("grant", ["password", "client_credentials"])
def test_both_grants_give_working_bearer_tokens(api: FakeBatiSimply, grant: str) -> None:
    tok = token(api, grant)
    assert get(api, "/project", tok).status_code == 200
    assert api.tokens_issued == 1


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"client_secret": "wrong"}, 401),
        ({"password": "wrong"}, 401),
        ({"client_id": "other"}, 401),
        ({"grant_type": "authorization_code"}, 400),
    ],
)
def test_token_endpoint_rejects_bad_requests(api: FakeBatiSimply, change: dict, status: int):
    form = {
        "grant_type": "password",
        "client_id": api.client_id,
        "client_secret": api.client_secret,
        "username": api.username,
        "password": api.password,
    } | change
    answer = requests.post(api.sso_url, data=form, timeout=5)
    assert answer.status_code == status
    assert "error" in answer.json()
    assert api.tokens_issued == 0


def test_token_answer_shape(api: FakeBatiSimply) -> None:
    form = {"grant_type": "client_credentials", "client_id": "batisync", "client_secret": "s3cret"}
    answer = requests.post(api.sso_url, data=form, timeout=5).json()
    assert answer["token_type"] == "Bearer"
    assert answer["expires_in"] == 300
    assert answer["access_token"]


def test_api_requires_a_valid_token(api: FakeBatiSimply) -> None:
    assert get(api, "/project", None).status_code == 401
    assert get(api, "/project", "made-up").status_code == 401
    assert get(api, SLOTS, None, **FULL).status_code == 401
    assert [r.authorized for r in api.requests] == [False, False, False]


def test_token_expires_with_the_clock(api: FakeBatiSimply) -> None:
    tok = token(api)
    api.clock.advance(299)
    assert get(api, "/project", tok).status_code == 200
    api.clock.advance(2)
    assert get(api, "/project", tok).status_code == 401
    assert get(api, "/project", token(api)).status_code == 200


def test_token_expires_after_n_requests(api: FakeBatiSimply) -> None:
    api.expire_tokens_after_requests(3)
    tok = token(api)
    assert [get(api, "/project", tok).status_code for _ in range(4)] == [200, 200, 200, 401]
    fresh = token(api)
    assert get(api, SLOTS, fresh, **FULL).status_code == 200
    assert api.tokens_issued == 2


# -- time slots: parameters -------------------------------------------------------------
@pytest.mark.parametrize(
    "params",
    [
        {"endDate": "2026-01-31T23:59:59Z"},
        {"startDate": "2026-01-01T00:00:00Z"},
        {"startDate": "2026-01-01", "endDate": "2026-01-31"},
        {"startDate": "2026-01-01T00:00:00", "endDate": "2026-01-31T23:59:59Z"},
        {"startDate": "2026-01-01T00:00:00.000Z", "endDate": "2026-01-31T23:59:59Z"},
        {"startDate": "2026-01-01T00:00:00+00:00", "endDate": "2026-01-31T23:59:59Z"},
        {"startDate": "2026-01-01 00:00:00Z", "endDate": "2026-01-31T23:59:59Z"},
        {"startDate": "2026-02-30T00:00:00Z", "endDate": "2026-03-31T23:59:59Z"},
        {"startDate": "2026-02-01T00:00:00Z", "endDate": "2026-01-01T00:00:00Z"},
    ],
)
def test_bad_date_parameters_answer_400(api: FakeBatiSimply, params: dict) -> None:
    answer = get(api, SLOTS, token(api), **params)
    assert answer.status_code == 400
    assert answer.json()["error_description"]
    assert api.bad_date_requests == 1


def test_window_filters_on_start_date(api: FakeBatiSimply, dataset: Dataset) -> None:
    lo, hi = datetime(2026, 3, 10, tzinfo=UTC), datetime(2026, 3, 20, 23, 59, 59, tzinfo=UTC)
    window = {"startDate": "2026-03-10T00:00:00Z", "endDate": "2026-03-20T23:59:59Z"}
    answer = get(api, SLOTS, token(api), **window)
    assert answer.status_code == 200
    got = answer.json()
    assert isinstance(got, list)
    assert ids(got) == ids(dataset.in_window(lo, hi))
    assert all(lo <= parse_utc(r["startDate"]) <= hi for r in got)
    assert len(got) > 20
    assert api.bad_date_requests == 0


def test_window_bounds_are_inclusive(api: FakeBatiSimply, dataset: Dataset) -> None:
    user = dataset.employees[0].id
    at = datetime(2026, 1, 5, 8, 0, 0, tzinfo=UTC)
    edge = dataset.add_slot(user, dataset.projects[0].id, at, 60)
    tok = token(api)
    both = get(api, SLOTS, tok, startDate="2026-01-05T08:00:00Z", endDate="2026-01-05T08:00:00Z")
    assert ids(both.json()) == {int(edge)}
    before = get(api, SLOTS, tok, startDate="2026-01-05T08:00:01Z", endDate="2026-01-05T09:00:00Z")
    assert int(edge) not in ids(before.json())


def test_answers_are_api_shaped(api: FakeBatiSimply) -> None:
    record = get(api, SLOTS, token(api), **FULL).json()[0]
    assert isinstance(record["id"], int)
    assert isinstance(record["project"]["id"], int)
    assert record["startDate"].endswith("Z") and record["endDate"].endswith("Z")
    assert set(record["user"]) == {"id", "firstName", "lastName"}
    for key in ("managementStatus", "totalTimeMinutes", "hasPackedLunch", "hasHomeToWorkJourney"):
        assert key in record


# -- paging ------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", ["content", "data", "items", "elements", "link_only"])
def test_paged_answers_follow_link_to_the_full_set(dataset: Dataset, shape: str) -> None:
    dataset.add_malformed("bad_start_date")
    with FakeBatiSimply(dataset, paged=True, page_size=100, paged_shape=shape) as api:
        tok = token(api)
        expected = get_all_unpaged(dataset)
        url, params, pages, seen = api.api_url + SLOTS, dict(FULL), 0, []
        while url:
            answer = requests.get(url, params=params, headers=bearer(tok), timeout=10)
            assert answer.status_code == 200
            body = answer.json()
            seen += body if shape == "link_only" else body[shape]
            if shape != "link_only":
                assert body["totalElements"] == len(expected)
            url, params, pages = answer.links.get("next", {}).get("url"), None, pages + 1
    assert pages == -(-len(expected) // 100) > 1
    assert sorted(map(repr, seen)) == sorted(map(repr, expected))


def bearer(tok: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tok}"}


def get_all_unpaged(dataset: Dataset) -> list[dict]:
    with FakeBatiSimply(dataset) as plain:
        return get(plain, SLOTS, token(plain), **FULL).json()


# -- projects ----------------------------------------------------------------------------
def test_projects_elements_and_plain_array(dataset: Dataset) -> None:
    with FakeBatiSimply(dataset) as api:
        wrapped = get(api, "/project", token(api)).json()
    with FakeBatiSimply(dataset, projects_plain_array=True) as api:
        plain = get(api, "/project", token(api)).json()
    assert wrapped["elements"] == plain
    assert {p["id"] for p in plain} == {p.id for p in dataset.projects}
    assert [p["projectCode"] is None for p in plain].count(True) == 1
    assert {"id", "projectCode", "projectName", "address"} <= set(plain[0])


# -- faults ------------------------------------------------------------------------------
def test_429_with_retry_after_then_recovers(api: FakeBatiSimply) -> None:
    tok = token(api)  # token endpoint is not hit by default faults
    api.fail_next(429, times=2, retry_after=2)
    first, second = get(api, "/project", tok), get(api, "/project", tok)
    assert (first.status_code, second.status_code) == (429, 429)
    assert first.headers["Retry-After"] == "2"
    assert get(api, "/project", tok).status_code == 200
    assert [r.status for r in api.requests_to("/api/")] == [429, 429, 200]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_fire_once(api: FakeBatiSimply, status: int) -> None:
    tok = token(api)
    api.fail_next(status)
    assert get(api, SLOTS, tok, **FULL).status_code == status
    assert get(api, SLOTS, tok, **FULL).status_code == 200


def test_fault_path_filter_and_sso_faults(api: FakeBatiSimply) -> None:
    tok = token(api)
    api.fail_next(503, path_contains="allUsers")
    assert get(api, "/project", tok).status_code == 200
    assert get(api, SLOTS, tok, **FULL).status_code == 503
    api.fail_next(502, path_contains="openid-connect")
    form = {"grant_type": "client_credentials", "client_id": "batisync", "client_secret": "s3cret"}
    assert requests.post(api.sso_url, data=form, timeout=5).status_code == 502
    assert token(api, "client_credentials")


def test_fail_always_until_cleared(api: FakeBatiSimply) -> None:
    tok = token(api)
    api.fail_always(500)
    assert [get(api, "/project", tok).status_code for _ in range(3)] == [500] * 3
    api.clear_faults()
    assert get(api, "/project", tok).status_code == 200


def test_slow_next_delays_one_answer(api: FakeBatiSimply) -> None:
    tok = token(api)
    api.slow_next(0.4)
    started = time.monotonic()
    assert get(api, "/project", tok).status_code == 200
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    get(api, "/project", tok)
    assert time.monotonic() - started < 0.3
    api.slow_next(1.0)
    with pytest.raises(requests.Timeout):
        requests.get(api.api_url + "/project", headers=bearer(tok), timeout=0.2)


def test_reset_next_is_a_connection_error(api: FakeBatiSimply) -> None:
    tok = token(api)
    api.reset_next()
    with pytest.raises(requests.ConnectionError):
        get(api, SLOTS, tok, **FULL)
    assert get(api, SLOTS, tok, **FULL).status_code == 200
    with requests.Session() as session:  # a kept-alive connection is reset too
        session.headers.update(bearer(tok))
        assert session.get(api.api_url + "/project", timeout=5).status_code == 200
        api.reset_next()
        with pytest.raises(requests.ConnectionError):
            session.get(api.api_url + "/project", timeout=5)
        assert session.get(api.api_url + "/project", timeout=5).status_code == 200


def test_concurrent_clients(api: FakeBatiSimply) -> None:
    tok, statuses = token(api), []

    def fetch() -> None:
        statuses.append(get(api, SLOTS, tok, **FULL).status_code)

    threads = [threading.Thread(target=fetch) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 8


# -- malformed records -------------------------------------------------------------------
def test_malformed_records_are_served(api: FakeBatiSimply, dataset: Dataset) -> None:
    added = {kind: dataset.add_malformed(kind) for kind in MALFORMED_KINDS}
    assert "id" not in added["missing_id"]
    assert "user" not in added["missing_user"]
    assert added["bad_minutes"]["totalTimeMinutes"] == "abc"
    assert str(added["duplicate_id"]["id"]) in dataset.slots
    tok = token(api)
    got = get(api, SLOTS, tok, **FULL).json()
    for record in added.values():
        assert record in got
    assert len(got) == len(dataset.slots) + len(MALFORMED_KINDS)
    assert Counter(r.get("id") for r in got)[added["duplicate_id"]["id"]] == 2
    # An unparseable startDate matches no window, so it comes back in every answer.
    far = get(api, SLOTS, tok, startDate="2020-01-01T00:00:00Z", endDate="2020-01-02T00:00:00Z")
    assert far.json() == [added["bad_start_date"]]


# -- generator ---------------------------------------------------------------------------
def test_generator_is_deterministic() -> None:
    one, two = small_dataset(), small_dataset()
    assert one.slots == two.slots
    assert one.employees == two.employees
    assert one.project_records == two.project_records
    assert small_dataset(seed=2).slots != one.slots


def test_generator_realism(dataset: Dataset) -> None:
    slots = list(dataset.slots.values())
    assert all(s["startDate"][17:19] != "00" for s in slots)
    assert any(s["startDate"][17:19] == "59" for s in slots)
    for slot in slots:
        span = parse_utc(slot["endDate"]) - parse_utc(slot["startDate"])
        assert abs(span.total_seconds() / 60 - slot["totalTimeMinutes"]) <= 1
        assert parse_utc(slot["startDate"]).weekday() < 5 or slot["id"] in dst_ids(dataset)
    statuses = Counter(s["managementStatus"] for s in slots)
    assert 0.75 < statuses["VALIDATED"] / len(slots) < 0.95
    assert set(statuses) <= {"VALIDATED", "TO_VALIDATE", "REFUSED", "IN_PROGRESS"}
    assert [e.code for e in dataset.employees].count(None) == 1
    assert [p.code for p in dataset.projects].count(None) == 1
    assert len({e.id for e in dataset.employees}) == len(dataset.employees)


def dst_ids(dataset: Dataset) -> set[int]:
    return {int(i) for i in dataset.dst_slot_ids}


def test_dst_day_slots(dataset: Dataset) -> None:
    march = [dataset.slots[i] for i in dataset.dst_slot_ids]
    assert march and all(s["startDate"].startswith("2026-03-29T0") for s in march)
    assert all(s["startDate"][17:19] != "00" for s in march)
    assert {s["startDate"][11:13] for s in march} >= {"00", "01"}
    forced = small_dataset(include_dst_days=True)
    days = {forced.slots[i]["startDate"][:10] for i in forced.dst_slot_ids}
    assert days == {d.isoformat() for d in DST_DAYS_2026}
    outside = small_dataset(today=date(2026, 1, 15))
    assert outside.dst_slot_ids == []


def test_scales_to_100k_slots_quickly() -> None:
    started = time.monotonic()
    big = generate(n_slots=100_000, today=TODAY)
    assert len(big.slots) == 100_000
    assert time.monotonic() - started < 5
    started = time.monotonic()
    default = generate(today=TODAY)
    assert time.monotonic() - started < 1.5
    assert len(default.employees) == 30 and len(default.slots) > 6000


def test_full_load_of_100k_in_31_day_chunks() -> None:
    big = generate(n_slots=100_000, today=TODAY, days=180)
    started = time.monotonic()
    with FakeBatiSimply(big) as api, requests.Session() as session:
        session.headers.update(bearer(token(api)))
        seen = 0
        lo = datetime.combine(TODAY - timedelta(days=181), datetime.min.time())
        while lo.date() <= TODAY:
            hi = lo + timedelta(days=31)
            last = hi - timedelta(seconds=1)
            params = {
                "startDate": f"{lo:%Y-%m-%dT%H:%M:%S}Z",
                "endDate": f"{last:%Y-%m-%dT%H:%M:%S}Z",
            }
            seen += len(session.get(api.api_url + SLOTS, params=params, timeout=30).json())
            lo = hi
    assert seen == 100_000
    assert time.monotonic() - started < 10


# -- mutations ---------------------------------------------------------------------------
def test_mutations_show_in_answers(api: FakeBatiSimply, dataset: Dataset) -> None:
    tok = token(api)
    validated = [s["id"] for s in dataset.validated_slots()]
    moved, reprojected, shortened, unvalidated, deleted = map(str, validated[:5])
    old_start = dataset.slots[moved]["startDate"]
    other = next(
        p.id for p in dataset.projects if p.id != dataset.slots[reprojected]["project"]["id"]
    )

    dataset.move_slot(moved, 90)
    dataset.change_project(reprojected, other)
    dataset.change_minutes(shortened, 45)
    dataset.unvalidate(unvalidated)
    dataset.delete(deleted)
    at = datetime(2026, 4, 1, 6, 15, 27, tzinfo=UTC)
    new_id = dataset.add_slot(dataset.employees[1].id, other, at, 120, packed_lunch=True)

    got = {str(r["id"]): r for r in get(api, SLOTS, tok, **FULL).json()}
    shift = parse_utc(got[moved]["startDate"]) - parse_utc(old_start)
    assert shift == timedelta(minutes=90)
    assert got[reprojected]["project"]["id"] == other
    assert got[shortened]["totalTimeMinutes"] == 45
    assert parse_utc(got[shortened]["endDate"]) - parse_utc(got[shortened]["startDate"]) == (
        timedelta(minutes=45)
    )
    assert got[unvalidated]["managementStatus"] == "TO_VALIDATE"
    assert deleted not in got
    assert got[new_id]["startDate"] == "2026-04-01T06:15:27Z"
    assert got[new_id]["hasPackedLunch"] is True
    assert isinstance(got[new_id]["id"], int)
    dataset.validate(unvalidated)
    again = {str(r["id"]): r for r in get(api, SLOTS, tok, **FULL).json()}
    assert again[unvalidated]["managementStatus"] == "VALIDATED"


def test_request_log_records_queries(api: FakeBatiSimply) -> None:
    tok = token(api)
    get(api, SLOTS, tok, **FULL)
    last = api.requests[-1]
    assert (last.method, last.path, last.status, last.authorized) == (
        "GET",
        "/api" + SLOTS,
        200,
        True,
    )
    assert last.query == FULL
    assert api.requests[0].path.endswith("/openid-connect/token")
    assert api.errors == []
