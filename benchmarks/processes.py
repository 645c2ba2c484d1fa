"""`batisync` in a subprocess, as cron runs it: its wall time, its peak RSS, its output.

The peak RSS is the child's `VmHWM` (the high-water mark of its address space: its
interpreter, imports and data) plus that of every process it started (dbt's worker,
`batisync.transform.worker`), read from /proc while they run: high-water marks, so the
last reading before each exits is its peak, and their sum is at least the tree's peak
at any moment. Not `wait4`'s `ru_maxrss`: Linux carries that over an exec from the
process that forked, so every child would report at least this benchmark's own size (it
holds the fake API and the dataset). Nothing is left running: each child is waited for
before the call returns.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Finished:
    exit_code: int
    seconds: float
    peak_rss_mb: float
    stdout: str
    stderr: str


def vm_hwm_kib(pid: int) -> int | None:
    """The process's `VmHWM` now, or None once it has exited (a zombie has none)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def child_pids(pid: int) -> list[int]:
    """The processes `pid` started that are running now (any of its threads')."""
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


class _PeakWatch(threading.Thread):
    """Reads the `VmHWM` of a child and of its descendants every few milliseconds until it
    exits; the peak is the sum of each process's largest reading."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.done = pid, threading.Event()
        self.peaks: dict[int, int] = {}

    @property
    def peak_kib(self) -> int:
        return sum(self.peaks.values())

    def run(self) -> None:
        while not self.done.is_set():
            tree, i = [self.pid], 0
            while i < len(tree):
                tree += child_pids(tree[i])
                i += 1
            for pid in tree:
                kib = vm_hwm_kib(pid)
                if kib is not None:
                    self.peaks[pid] = max(self.peaks.get(pid, 0), kib)
            self.done.wait(0.01)


def run_python(args: Sequence[str], env: dict[str, str]) -> Finished:
    """`python ARGS` with `env`, waited for; wall seconds and the child's own peak RSS."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        began = time.perf_counter()
        child = subprocess.Popen([sys.executable, *args], env=env, cwd=REPO, stdout=out, stderr=err)
        watch = _PeakWatch(child.pid)
        watch.start()
        # waitid with WNOWAIT: the child has exited but stays a zombie until reaped, so
        # its last VmHWM reading is already taken (a zombie has none) and its pid not reused
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
        watch.done.set()
        watch.join()
        status = child.wait()
        seconds = time.perf_counter() - began
        out.seek(0)
        err.seek(0)
        return Finished(
            status, seconds, watch.peak_kib / 1024, out.read().decode(), err.read().decode()
        )


def batisync(
    args: Sequence[str], env: dict[str, str], *, expect: int = 0, flags: Sequence[str] = ()
) -> Finished:
    """`python [FLAGS] -m batisync ARGS`; a run that does not exit `expect` fails the bench."""
    done = run_python([*flags, "-m", "batisync", *args], env)
    if done.exit_code != expect:
        raise AssertionError(
            f"batisync {' '.join(args)} exited {done.exit_code}, not {expect}: "
            f"{done.stderr[-3000:]}"
        )
    return done


def sync(env: dict[str, str]) -> dict[str, Any]:
    """One successful `batisync sync --json`: what the report shows of it."""
    return run_figures(batisync(["sync", "--json"], env))


def run_figures(done: Finished) -> dict[str, Any]:
    """What the report shows of a finished `batisync sync --json`."""
    summary = json.loads(done.stdout)
    return {
        "seconds": round(done.seconds, 2),
        "peak_rss_mb": round(done.peak_rss_mb, 1),
        "stages": summary["stage_durations_s"],
        "ran": [s["name"] for s in summary["stages"] if s["status"] == "ok"],
        "skipped_because": summary.get("skipped_because"),
        "staging_changed": summary.get("staging_changed"),
        "suivimo": summary.get("suivimo"),
        "drift": summary.get("drift"),
    }


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each time over `runs` (stages one by one), the largest peak RSS."""
    stages = list(dict.fromkeys(name for r in runs for name in r["stages"]))
    return {
        "seconds": round(statistics.median(r["seconds"] for r in runs), 2),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "stages": {
            name: round(statistics.median(r["stages"].get(name, 0.0) for r in runs), 3)
            for name in stages
        },
        "runs": [r["seconds"] for r in runs],
        "ran": runs[0]["ran"],
        "skipped_because": runs[0]["skipped_because"],
        "suivimo": [r["suivimo"] for r in runs],
    }


__all__ = ["REPO", "Finished", "batisync", "median_run", "run_figures", "run_python", "sync"]
