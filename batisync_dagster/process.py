"""One dossier's sync as a process of its own: `batisync sync --dossier NAME --json`.

A process per run, as `sync --all` does: dbt's runner changes the process environment,
and the sync's lock, signal handling and summary are the CLI's. Its logs (stderr) go on
to ours as they come (Dagster keeps them as the step's compute logs); its stdout is the
JSON summary. A run that outlives `timeout_s` gets SIGTERM, which the sync turns into a
clean stop (summary `interrupted`, its own alert), then SIGKILL after `grace_s`.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

EXIT_BUSY = 75  # the CLI's: another sync holds the dossier's lock, nothing was done
TAIL_LINES = 30


@dataclass(frozen=True)
class SyncProcess:
    """What one `batisync sync --dossier NAME --json` process left."""

    dossier: str
    returncode: int  # negative: killed by that signal
    summary: dict[str, Any] | None  # the one-dossier JSON summary, when it printed one
    stderr_tail: tuple[str, ...] = ()
    timed_out: bool = False
    duration_s: float = 0.0

    @property
    def exit_status(self) -> int | None:
        """The CLI's exit status; None when a signal ended the process."""
        return self.returncode if self.returncode >= 0 else None

    @property
    def killed_by(self) -> str | None:
        if self.returncode >= 0:
            return None
        with contextlib.suppress(ValueError):
            return signal.Signals(-self.returncode).name
        return f"signal {-self.returncode}"


def sync_command(dossier: str, python: str = sys.executable) -> list[str]:
    return [python, "-m", "batisync", "sync", "--dossier", dossier, "--json"]


def parse_summary(stdout: str, dossier: str) -> dict[str, Any] | None:
    """The dossier's summary from the CLI's stdout (None: nothing parsable was printed).
    Accepts `sync --all`'s shape too (`{"dossiers": [{"dossier", "summary"}]}`)."""
    try:
        payload = json.loads(stdout)
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    if isinstance(payload.get("dossiers"), list):
        entry = next((d for d in payload["dossiers"] if d.get("dossier") == dossier), None)
        summary = entry.get("summary") if entry else None
        return summary if isinstance(summary, dict) else None
    return payload


def run_sync_process(
    dossier: str,
    *,
    timeout_s: float,
    grace_s: float = 60.0,
    env: Mapping[str, str] | None = None,
    command: Sequence[str] | None = None,
    log_to: IO[str] | None = None,
) -> SyncProcess:
    """Run the dossier's sync to its end (or its timeout); never raises for what the
    process did. An interruption of ours (Dagster terminating the run) stops it the same
    way, SIGTERM then SIGKILL, and is raised again."""
    args = list(command or sync_command(dossier))
    started = time.monotonic()
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    out: list[str] = []
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(env) if env is not None else None,
    )
    assert proc.stdout is not None and proc.stderr is not None
    readers = [
        threading.Thread(target=_forward, args=(proc.stderr, tail, log_to or sys.stderr)),
        threading.Thread(target=lambda: out.append(proc.stdout.read())),  # type: ignore[union-attr]
    ]
    for reader in readers:
        reader.daemon = True
        reader.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        _stop(proc, grace_s)
    except BaseException:
        _stop(proc, grace_s)
        raise
    finally:
        for reader in readers:
            reader.join(timeout=10)
    return SyncProcess(
        dossier=dossier,
        returncode=proc.returncode,
        summary=parse_summary("".join(out), dossier),
        stderr_tail=tuple(tail),
        timed_out=timed_out,
        duration_s=time.monotonic() - started,
    )


def _forward(stream: IO[str], tail: deque[str], sink: IO[str]) -> None:
    for line in stream:
        tail.append(line.rstrip("\n"))
        with contextlib.suppress(ValueError, OSError):  # our own stderr closed: keep reading
            sink.write(line)
            sink.flush()


def _stop(proc: subprocess.Popen[str], grace_s: float) -> None:
    """SIGTERM (the sync stops cleanly and prints its summary), SIGKILL after `grace_s`."""
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()


__all__ = ["EXIT_BUSY", "SyncProcess", "parse_summary", "run_sync_process", "sync_command"]
