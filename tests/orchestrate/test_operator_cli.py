"""Issue 14, the checks before any work and the signals, through the command line:
a bad output path or a BATIGEST_URL that does not parse is exit 2 before anything is
done (and no fragment of the password is printed); SIGTERM / SIGINT end a sync cleanly."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from batisync.orchestrate.lock import sync_lock
from tests.orchestrate.helpers import conninfo_of
from tests.orchestrate.test_sync_cli import cli_env, run_cli

FRAGMENT_A, FRAGMENT_B = "Secr3tQz", "Frag9Wx"  # the two halves of a password with an @


def _no_history(staging_url: str) -> bool:
    with psycopg.connect(**conninfo_of(staging_url)) as conn:
        return conn.execute("select to_regclass('public.sync_runs')").fetchone() == (None,)


def test_summary_json_in_a_missing_folder_is_exit_2_before_any_work(
    staging_url: str, batigest_url: str, tmp_path: Path
) -> None:
    env = cli_env(staging_url, batigest_url, tmp_path)
    env["SUMMARY_JSON"] = str(tmp_path / "missing" / "last.json")
    for args in (["sync"], ["sync", "--json"]):
        result = run_cli(args, env, tmp_path)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "configuration error: SUMMARY_JSON: the folder" in result.stderr
        assert "does not exist" in result.stderr and "Traceback" not in result.stderr
    assert _no_history(staging_url)  # nothing was done: no run, no row


def test_summary_json_on_a_folder_is_exit_2(
    staging_url: str, batigest_url: str, tmp_path: Path
) -> None:
    env = {**cli_env(staging_url, batigest_url, tmp_path), "SUMMARY_JSON": str(tmp_path)}
    result = run_cli(["sync"], env, tmp_path)
    assert result.returncode == 2
    assert "SUMMARY_JSON" in result.stderr and "is a folder" in result.stderr


@pytest.mark.parametrize("command", [["sync"], ["sync", "--json"], ["doctor"], ["reconcile"]])
def test_an_unescaped_at_in_the_batigest_password_is_named_without_the_password(
    staging_url: str, batigest_url: str, tmp_path: Path, command: list[str]
) -> None:
    env = cli_env(staging_url, batigest_url, tmp_path)
    env["BATIGEST_URL"] = f"postgresql+psycopg://batisync:{FRAGMENT_A}@{FRAGMENT_B}@127.0.0.1/x"
    env["SUMMARY_JSON"] = str(tmp_path / "last.json")
    result = run_cli(command, env, tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "configuration error: BATIGEST_URL (credentials.json `sqlserver`):" in result.stderr
    assert "%40" in result.stderr and "percent-encode" in result.stderr
    written = (tmp_path / "last.json").read_text() if (tmp_path / "last.json").exists() else ""
    for text in (result.stdout, result.stderr, written):
        assert FRAGMENT_A not in text and FRAGMENT_B not in text
    assert _no_history(staging_url)


class Blackhole:
    """A loopback server that accepts connections and never answers: a sync that reaches
    the API waits there, in its load stage, until it is signalled."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(120)  # a guard against a hang, not a timing assumption
        self.accepted: list[socket.socket] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def wait_for_a_client(self) -> None:
        conn, _ = self.sock.accept()
        self.accepted.append(conn)

    def close(self) -> None:
        for conn in self.accepted:
            conn.close()
        self.sock.close()


@pytest.fixture
def blackhole() -> Iterator[Blackhole]:
    server = Blackhole()
    yield server
    server.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_the_run_cleanly(
    staging_url: str,
    batigest_url: str,
    tmp_path: Path,
    blackhole: Blackhole,
    signum: signal.Signals,
) -> None:
    env = cli_env(staging_url, batigest_url, tmp_path)
    env["BATISIMPLY_SSO_URL"] = blackhole.url + "/token"
    env["BATISIMPLY_API_URL"] = blackhole.url + "/api"
    env["SUMMARY_JSON"] = str(tmp_path / "last.json")
    process = subprocess.Popen(
        [sys.executable, "-m", "batisync", "sync", "--json"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        blackhole.wait_for_a_client()  # the load stage is asking the SSO for a token
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1, stderr[-3000:]
    summary = json.loads(stdout)
    assert summary["status"] == "interrupted" and summary["exit_code"] == 1
    assert summary["error"] == f"interrupted by {signum.name} during stage load"
    assert [(s["name"], s["status"]) for s in summary["stages"]] == [
        ("load", "failed"),
        ("transform", "skipped"),
        ("export", "skipped"),
        ("publish", "skipped"),
        ("drift", "skipped"),  # not after a failure
    ]
    assert json.loads((tmp_path / "last.json").read_text())["status"] == "interrupted"
    conninfo = conninfo_of(staging_url)
    with psycopg.connect(**conninfo) as conn:
        row = conn.execute(
            "select status, exit_code, failed_stage, finished_at is not null from sync_runs"
        ).fetchall()
    assert row == [("interrupted", 1, "load", True)]
    with sync_lock(conninfo):  # released: a next run can start at once
        pass


def test_a_malformed_webhook_url_is_exit_2_without_showing_it(
    staging_url: str, batigest_url: str, tmp_path: Path
) -> None:
    env = cli_env(staging_url, batigest_url, tmp_path)
    env["ALERT_WEBHOOK_URL"] = "hooks.example.com/T0KEN-abc123"
    result = run_cli(["sync"], env, tmp_path)
    assert result.returncode == 2
    assert (
        "configuration error: ALERT_WEBHOOK_URL (credentials.json `alert_webhook_url`): "
        "expected an http(s) URL" in result.stderr
    )
    assert "T0KEN-abc123" not in result.stdout + result.stderr
    env["ALERT_WEBHOOK_URL"] = "https://hooks.example.com/T0KEN-abc123"
    threshold = run_cli(["sync"], {**env, "ALERT_REJECTED_THRESHOLD": "many"}, tmp_path)
    assert threshold.returncode == 2
    assert (
        "ALERT_REJECTED_THRESHOLD (credentials.json `alert_rejected_threshold`): expected a whole"
        in threshold.stderr
    )
    doctor = run_cli(["doctor"], env, tmp_path)
    assert "ALERT_WEBHOOK_URL" in doctor.stdout and "T0KEN-abc123" not in doctor.stdout
