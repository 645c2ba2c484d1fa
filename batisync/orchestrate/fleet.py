"""`batisync sync --all`: every dossier, N at a time, each in a process of its own.

Each dossier runs `batisync sync --dossier NAME --json` as a child process (dbt's runner
changes its process's environment, and a crash must stay one dossier's): under its own
lock, in its own database. `launchers` says how a child starts (the CLI forks them from a
warm forkserver). A dossier that fails, is locked or is misconfigured never
stops the others. SIGTERM or SIGINT reaches every running child (each stops cleanly and
says so in its summary), no other starts, and the whole exits 1. The exit status of the
whole is `fleet_exit_status` (CONTRACT.md "Dossiers"); the table is `summary_table`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batisync.core.errors import EXIT_BUSY, EXIT_CONFIG, EXIT_FAILED, EXIT_OK
from batisync.core.settings.dossiers import Dossier
from batisync.orchestrate.launchers import Child, Launcher, SubprocessLauncher

log = logging.getLogger(__name__)

STATUS_OF_EXIT = {EXIT_OK: "success", EXIT_FAILED: "failed", EXIT_CONFIG: "misconfigured",
                  EXIT_BUSY: "locked"}  # fmt: skip
STDERR_TAIL = 5  # lines of a child's stderr kept to say why it ended without a summary


@dataclass(frozen=True)
class DossierRun:
    """How one dossier's sync ended: its exit status and its own JSON summary (None when
    it is misconfigured or printed none), or why not."""

    dossier: str
    exit_status: int
    summary: dict[str, Any] | None = None
    error: str | None = None
    duration_s: float = 0.0
    started: bool = True

    @property
    def status(self) -> str:
        if not self.started:
            return "not started"
        if self.summary is not None and self.summary.get("status") == "interrupted":
            return "interrupted"
        return STATUS_OF_EXIT.get(self.exit_status, "failed")

    def to_dict(self) -> dict[str, Any]:
        return {
            "dossier": self.dossier,
            "exit_status": self.exit_status,
            "status": self.status,
            "summary": self.summary,
            "error": self.error,
            "duration_s": round(self.duration_s, 3),
        }


@dataclass(frozen=True)
class FleetResult:
    runs: list[DossierRun]
    jobs: int
    duration_s: float
    interrupted_by: str | None = None

    @property
    def exit_status(self) -> int:
        return EXIT_FAILED if self.interrupted_by else fleet_exit_status(self.runs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "exit_status": self.exit_status,
            "jobs": self.jobs,
            "duration_s": round(self.duration_s, 3),
            "interrupted_by": self.interrupted_by,
            "dossiers": [run.to_dict() for run in self.runs],
        }


def fleet_exit_status(runs: Sequence[DossierRun]) -> int:
    """1 if any dossier failed, else 2 if any is misconfigured, else 75 if every dossier
    was locked, else 0; no dossier at all is a configuration error."""
    statuses = [run.exit_status for run in runs]
    if not statuses:
        return EXIT_CONFIG
    if any(s not in (EXIT_OK, EXIT_CONFIG, EXIT_BUSY) for s in statuses):
        return EXIT_FAILED
    if EXIT_CONFIG in statuses:
        return EXIT_CONFIG
    return EXIT_BUSY if all(s == EXIT_BUSY for s in statuses) else EXIT_OK


def parse_summary(stdout: str) -> dict[str, Any] | None:
    """The child's `--json` summary (its whole stdout), or None."""
    try:
        data = json.loads(stdout)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def outcome(
    dossier: str, code: int, stdout: str, stderr_tail: Sequence[str], duration_s: float
) -> DossierRun:
    """A finished child as a `DossierRun` (pure). A misconfigured dossier has no summary,
    only its error (CONTRACT.md)."""
    summary = parse_summary(stdout)
    error = summary.get("error") if summary else None
    if code < 0:  # killed by a signal: it printed nothing of its own
        error = f"the sync process was killed by {signal.Signals(-code).name}"
        code = EXIT_FAILED
    if not error and code != EXIT_OK:
        error = " | ".join(line.strip() for line in stderr_tail if line.strip()) or None
    if code == EXIT_CONFIG:
        summary = None
    return DossierRun(dossier, code, summary, error, duration_s)


@dataclass
class _Children:
    """The running children, so that a signal reaches every one of them."""

    stop: threading.Event = field(default_factory=threading.Event)
    signal_name: str | None = None
    running: dict[str, Child] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, child: Child) -> None:
        with self.lock:
            self.running[name] = child
            if self.stop.is_set():  # the signal came between the check and the start
                child.terminate()

    def remove(self, name: str) -> None:
        with self.lock:
            self.running.pop(name, None)

    def terminate_all(self, signal_name: str) -> None:
        with self.lock:
            if self.stop.is_set():
                return
            self.signal_name = signal_name
            self.stop.set()
            for child in self.running.values():
                child.terminate()


@contextlib.contextmanager
def _forwarding(children: _Children) -> Iterator[None]:
    """SIGTERM and SIGINT to this process reach every running child (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        if not children.stop.is_set():
            log.warning("%s received: stopping every running dossier, starting no other", name)
        children.terminate_all(name)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


def _run_child(
    dossier: Dossier,
    command: Sequence[str],
    env: Mapping[str, str] | None,
    children: _Children,
    on_line: Callable[[str, str], None],
    launcher: Launcher,
) -> DossierRun:
    if children.stop.is_set():
        why = f"not started: sync --all was interrupted by {children.signal_name}"
        return DossierRun(dossier.name, EXIT_FAILED, error=why, started=False)
    started = time.monotonic()
    tail: list[str] = []
    with tempfile.TemporaryDirectory(prefix="batisync-dossier-") as folder:
        stdout = Path(folder) / "stdout.json"
        child = launcher.start(command, env, stdout)
        children.add(dossier.name, child)
        try:
            for raw in child.lines():
                line = raw.decode("utf-8", errors="replace").rstrip("\n")
                on_line(dossier.name, line)
                tail = [*tail[-(STDERR_TAIL - 1) :], line]
            code = child.wait()
        finally:
            children.remove(dossier.name)
        text = stdout.read_bytes().decode("utf-8", errors="replace") if stdout.exists() else ""
    return outcome(dossier.name, code, text, tail, time.monotonic() - started)


def run_fleet(
    dossiers: Sequence[Dossier],
    command: Callable[[Dossier], Sequence[str]],
    *,
    jobs: int = 1,
    env: Mapping[str, str] | None = None,
    on_line: Callable[[str, str], None] = lambda name, line: None,
    launcher: Launcher | None = None,
) -> FleetResult:
    """Run `command(dossier)` for every dossier, `jobs` at a time, started by `launcher`
    (an argv in a new interpreter by default); a dossier whose name is invalid is
    misconfigured without being started. `on_line(dossier, line)` gets each line a child
    writes on stderr (its logs)."""
    launcher = launcher or SubprocessLauncher()
    started = time.monotonic()
    children = _Children()
    results: dict[str, DossierRun] = {}
    with _forwarding(children), ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {}
        for dossier in dossiers:
            if dossier.problem:
                results[dossier.name] = DossierRun(dossier.name, EXIT_CONFIG, error=dossier.problem)
                continue
            futures[dossier.name] = pool.submit(
                _run_child, dossier, command(dossier), env, children, on_line, launcher
            )
        for name, future in futures.items():
            results[name] = future.result()
    runs = [results[d.name] for d in dossiers]
    return FleetResult(runs, jobs, time.monotonic() - started, children.signal_name)


__all__ = [
    "DossierRun",
    "FleetResult",
    "fleet_exit_status",
    "outcome",
    "parse_summary",
    "run_fleet",
]
