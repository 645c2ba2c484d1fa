"""`batisync load`: window in UTC whatever TZ says, the printed counts, exit statuses."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from batisync.cli import main as batisync
from batisync.loader.api.client import SLOTS_PATH
from devstack.batigest import create_standin, seed_salaries
from devstack.fake_batisimply import FakeBatiSimply
from devstack.sync_env import sync_env

# data around the real UTC today, since the CLI's window ends today
pytestmark = pytest.mark.dataset(n_employees=3, n_projects=2, days=10, seed=5)


@pytest.fixture
def cli_env(
    api: FakeBatiSimply,
    staging_url: str,
    batigest_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> FakeBatiSimply:
    """Settings from the environment only (no .env, no credentials.json of the repo)."""
    engine = create_standin(batigest_url)
    seed_salaries(engine, [(r["Code"], r["Nom"], r["codebs"]) for r in api.dataset.salarie_rows()])
    engine.dispose()
    monkeypatch.chdir(tmp_path)
    env = sync_env(staging_url, batigest_url, tmp_path, api=api, window_days=None)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return api


def _zone_whose_date_differs_from_utc() -> str:
    return "Pacific/Pago_Pago" if datetime.now(UTC).hour < 11 else "Pacific/Kiritimati"


def test_window_is_computed_in_utc_whatever_the_machine_zone(
    cli_env: FakeBatiSimply, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TZ", _zone_whose_date_differs_from_utc())
    time.tzset()
    try:
        utc_before = datetime.now(UTC).date()
        status = batisync(["load", "--days", "3"])
        utc_after = datetime.now(UTC).date()
        local_today = date.today()
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert status == 0, capsys.readouterr().err
    assert local_today not in (utc_before, utc_after), "the zone should shift the date here"
    (request,) = cli_env.requests_to(SLOTS_PATH)
    end = request.query["endDate"]
    assert end in {f"{d.isoformat()}T23:59:59Z" for d in (utc_before, utc_after)}
    start = date.fromisoformat(request.query["startDate"][:10])
    assert request.query["startDate"].endswith("T00:00:00Z")
    assert (date.fromisoformat(end[:10]) - start).days == 3


def test_prints_what_it_did_per_resource(
    cli_env: FakeBatiSimply, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_env.dataset.add_malformed("bad_minutes")
    assert batisync(["load", "--days", "10"]) == 0
    out = capsys.readouterr().out
    header = re.search(r"^resource\s+fetched\s+new\s+changed\s+deleted\s+quarantined$", out, re.M)
    assert header, out
    slots = re.search(r"^time_slots\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$", out, re.M)
    assert slots, out
    fetched, new, changed, deleted, quarantined = map(int, slots.groups())
    assert (new, changed, deleted, quarantined) == (len(cli_env.dataset.slots), 0, 0, 1)
    assert fetched == new + quarantined
    assert re.search(r"^projects\s+2\s+2\s+0\s+0\s+0$", out, re.M), out
    assert re.search(r"quarantined: bad_minutes 1", out), out
    assert "salarie" in out


def test_json_report(cli_env: FakeBatiSimply, capsys: pytest.CaptureFixture[str]) -> None:
    assert batisync(["load", "--start", "2020-01-01", "--end", "2020-01-31", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["window"] == {
        "startDate": "2020-01-01T00:00:00Z",
        "endDate": "2020-01-31T23:59:59Z",
    }
    assert set(report["resources"]) == {"time_slots", "projects", "salarie"}
    assert report["resources"]["time_slots"]["fetched"] == 0


def test_missing_setting_exits_2_naming_it(
    cli_env: FakeBatiSimply, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BATISIMPLY_API_URL")
    assert batisync(["load"]) == 2
    assert "BATISIMPLY_API_URL" in capsys.readouterr().err


def test_bad_arguments_exit_2(cli_env: FakeBatiSimply) -> None:
    with pytest.raises(SystemExit) as caught:
        batisync(["load", "--end", "2026-01-01"])
    assert caught.value.code == 2
    with pytest.raises(SystemExit) as caught:
        batisync(["load", "--days", "3", "--start", "2026-01-01"])
    assert caught.value.code == 2


def test_failure_exits_1_with_a_clear_message_and_no_secret(
    cli_env: FakeBatiSimply, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_env.fail_always(403, path_contains="/api/project")  # not retried: fails at once
    assert batisync(["load", "--days", "2"]) == 1
    captured = capsys.readouterr()
    assert "load failed: GET /api/project: HTTP 403" in captured.err
    for secret in (cli_env.client_secret, cli_env.password):
        assert secret not in captured.err + captured.out


def test_retry_attempts_bound_the_requests_to_an_api_that_keeps_failing(
    cli_env: FakeBatiSimply, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """BATISIMPLY_RETRY_ATTEMPTS=2: a 503 answered to every slot request is tried twice,
    then the load fails naming the status (the default, 6, would wait about 31 s)."""
    monkeypatch.setenv("BATISIMPLY_RETRY_ATTEMPTS", "2")
    cli_env.clear_requests()
    cli_env.fail_always(503, retry_after=0, path_contains="timeSlotManagement")
    assert batisync(["load", "--days", "2"]) == 1
    assert "503" in capsys.readouterr().err
    assert len(cli_env.requests_to("timeSlotManagement")) == 2


def test_retry_attempts_out_of_bounds_exit_2_naming_the_setting(
    cli_env: FakeBatiSimply, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BATISIMPLY_RETRY_ATTEMPTS", "0")
    assert batisync(["load", "--days", "2"]) == 2
    assert "BATISIMPLY_RETRY_ATTEMPTS" in capsys.readouterr().err
