"""`sync --all`'s runner (`orchestrate/fleet.py`) with stand-in children: real processes
that print what a dossier's `sync --json` prints and exit as it would, so the exit rule,
the N-at-a-time bound, the forwarded SIGTERM and the table are checked in seconds (the
real children: tests/orchestrate/test_dossiers_e2e.py). The runner's checks run with both
launchers: a new interpreter per child, and a child forked from the warm forkserver (the
CLI's), which must behave the same."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from batisync.core.settings.dossiers import Dossier
from batisync.orchestrate.fleet import DossierRun, fleet_exit_status, outcome, run_fleet
from batisync.orchestrate.fleet_text import render_fleet
from batisync.orchestrate.launchers import Launcher, SubprocessLauncher, WarmLauncher

CHILD = r"""
import json, os, signal, sys, time
name, mode, folder = sys.argv[1:4]
print(f"a log line of {name}", file=sys.stderr, flush=True)
def summary(status, code, **more):
    print(json.dumps({"status": status, **more}))
    sys.exit(code)
open(os.path.join(folder, f"{name}.start"), "w").write(str(time.time()))
if mode == "ok":
    time.sleep(0.3)
    open(os.path.join(folder, f"{name}.end"), "w").write(str(time.time()))
    summary("success", 0, suivimo={"inserted": 2, "updated": 1, "moved": 4, "retracted": 0,
            "rejected": 3}, skipped_because=None)
if mode == "same":
    summary("success", 0, suivimo={}, skipped_because="nothing changed since run r1")
if mode == "fail":
    summary("failed", 1, failed_stage="load", error="GET /api: HTTP 503 after 6 attempts")
if mode == "config":
    summary("config_error", 2, error="PGDATABASE: may not create batisync_x")
if mode == "busy":
    summary("busy", 75, error="another sync holds the lock")
if mode == "crash":
    print("Traceback (most recent call last): boom", file=sys.stderr)
    sys.exit(1)
if mode == "wait":
    signal.signal(signal.SIGTERM, lambda *_: summary("interrupted", 1, error="by SIGTERM"))
    open(os.path.join(folder, f"{name}.ready"), "w").close()
    time.sleep(30)
    summary("success", 0)
"""


def stand_in(argv: list[str]) -> int:
    """The warm launcher's entry for these tests: `CHILD` in the forked child."""
    sys.argv = ["stand-in", *argv]
    exec(CHILD, {"__name__": "stand_in"})
    return 0


@pytest.fixture(params=["subprocess", "warm"])
def launcher(request: pytest.FixtureRequest) -> Launcher:
    if request.param == "warm":
        return WarmLauncher(stand_in, modules=("json",))
    return SubprocessLauncher()


def _dossiers(
    tmp_path: Path, modes: dict[str, str], launcher: Launcher | None = None
) -> tuple[list[Dossier], object]:
    dossiers = [Dossier(name, tmp_path / name) for name in modes]
    prefix = [] if isinstance(launcher, WarmLauncher) else [sys.executable, "-c", CHILD]

    def command(dossier: Dossier) -> list[str]:
        return [*prefix, dossier.name, modes[dossier.name], str(tmp_path)]

    return dossiers, command


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([0, 0], 0),
        ([0, 75], 0),  # a locked dossier is named, not a failure
        ([75, 75], 75),
        ([0, 2, 75], 2),
        ([2, 1, 0], 1),
        ([0, 137], 1),  # anything else is a failure
        ([], 2),  # no dossier at all
    ],
)
def test_the_contract_exit_rule(statuses: list[int], expected: int) -> None:
    runs = [DossierRun(f"d{i}", s) for i, s in enumerate(statuses)]
    assert fleet_exit_status(runs) == expected


def test_outcome_of_a_child() -> None:
    killed = outcome("a", -signal.SIGKILL, "", [], 1.0)
    assert (killed.exit_status, killed.error) == (1, "the sync process was killed by SIGKILL")
    misconfigured = outcome("b", 2, json.dumps({"status": "config_error", "error": "X: y"}), [], 0)
    assert misconfigured.summary is None and misconfigured.error == "X: y"
    assert misconfigured.status == "misconfigured"
    silent = outcome("c", 1, "not json", ["", "configuration error: Z", "  second"], 0)
    assert silent.summary is None and silent.error == "configuration error: Z | second"


def test_every_dossier_runs_whatever_the_others_do(tmp_path: Path, launcher: Launcher) -> None:
    modes = {"acme": "ok", "beta": "fail", "Bad": "ok", "delta": "busy", "echo": "crash",
             "fox": "config", "golf": "same"}  # fmt: skip
    dossiers, command = _dossiers(tmp_path, modes, launcher)
    dossiers[2] = Dossier("Bad", tmp_path / "Bad", problem="invalid dossier name 'Bad'")
    lines: list[tuple[str, str]] = []
    result = run_fleet(
        dossiers,
        command,
        jobs=3,
        on_line=lambda name, line: lines.append((name, line)),
        launcher=launcher,
    )
    by_name = {run.dossier: run for run in result.runs}
    assert [run.dossier for run in result.runs] == list(modes)  # the folder's order
    assert {n: r.status for n, r in by_name.items()} == {
        "acme": "success", "beta": "failed", "Bad": "misconfigured", "delta": "locked",
        "echo": "failed", "fox": "misconfigured", "golf": "success",
    }  # fmt: skip
    assert result.exit_status == 1
    assert not (tmp_path / "Bad.start").exists()  # never started
    assert by_name["beta"].error == "GET /api: HTTP 503 after 6 attempts"
    assert by_name["echo"].error == "a log line of echo | Traceback (most recent call last): boom"
    assert by_name["fox"].summary is None and by_name["fox"].error == (
        "PGDATABASE: may not create batisync_x"
    )
    assert by_name["delta"].summary == {"status": "busy", "error": "another sync holds the lock"}
    assert ("acme", "a log line of acme") in lines  # each child's log, named
    data = result.to_dict()
    assert data["exit_status"] == 1
    assert data["dossiers"][0]["dossier"] == "acme" and data["dossiers"][0]["exit_status"] == 0
    assert data["dossiers"][0]["summary"]["suivimo"]["inserted"] == 2

    text = render_fleet(result)
    assert text.startswith("batisync sync --all: 7 dossier(s), 3 at a time: FAILED (exit 1)")
    table = {line.split()[0]: line.split() for line in text.splitlines()[2:9]}
    assert table["acme"][:5] == ["acme", "success", "7", "3", "-"]  # 2 + 1 + 4 written
    assert table["golf"][:5] == ["golf", "success", "0", "-", "yes"]
    assert table["beta"][:5] == ["beta", "failed", "-", "-", "-"]
    assert "  beta: failed at stage load: GET /api: HTTP 503 after 6 attempts" in text
    assert "  delta: locked: another sync holds the lock" in text


@pytest.mark.parametrize("jobs", [1, 2])
def test_jobs_bounds_how_many_run_at_once(tmp_path: Path, jobs: int, launcher: Launcher) -> None:
    dossiers, command = _dossiers(tmp_path, {f"d{i}": "ok" for i in range(4)}, launcher)
    result = run_fleet(dossiers, command, jobs=jobs, launcher=launcher)
    assert result.exit_status == 0
    spans = [
        (float((tmp_path / f"d{i}.start").read_text()), float((tmp_path / f"d{i}.end").read_text()))
        for i in range(4)
    ]
    most = max(sum(1 for s, e in spans if s <= moment < e) for moment, _ in spans)
    assert most == jobs


def test_sigterm_reaches_every_running_dossier_and_starts_no_other(
    tmp_path: Path, launcher: Launcher
) -> None:
    dossiers, command = _dossiers(tmp_path, {"a": "wait", "b": "wait", "c": "wait"}, launcher)

    def terminate_when_both_run() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if all((tmp_path / f"{n}.ready").exists() for n in ("a", "b")):
                os.kill(os.getpid(), signal.SIGTERM)
                return
            time.sleep(0.05)

    threading.Thread(target=terminate_when_both_run, daemon=True).start()
    handler_before = signal.getsignal(signal.SIGTERM)
    started = time.monotonic()
    result = run_fleet(dossiers, command, jobs=2, launcher=launcher)
    assert time.monotonic() - started < 15  # not the children's 30 s
    assert result.interrupted_by == "SIGTERM" and result.exit_status == 1
    assert [r.status for r in result.runs] == ["interrupted", "interrupted", "not started"]
    assert result.runs[0].summary == {"status": "interrupted", "error": "by SIGTERM"}
    assert not (tmp_path / "c.start").exists()
    assert "[interrupted by SIGTERM]" in render_fleet(result).splitlines()[0]
    # the handler is ours only while the dossiers run: the one before is back
    assert signal.getsignal(signal.SIGTERM) is handler_before
