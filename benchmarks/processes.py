"""`batisync` in a subprocess, as cron runs it: its wall time, its own peak RSS, its output.

`os.wait4` gives the rusage of that child alone, so the peak RSS is the process's own
(interpreter, imports, data), not the benchmark's. Nothing is left running: each child is
waited for before the call returns.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
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


def run_python(args: Sequence[str], env: dict[str, str]) -> Finished:
    """`python ARGS` with `env`, waited for; wall seconds and the child's peak RSS."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        began = time.perf_counter()
        child = subprocess.Popen([sys.executable, *args], env=env, cwd=REPO, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - began
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Finished(
            child.returncode,
            seconds,
            usage.ru_maxrss / 1024,  # KiB on Linux
            out.read().decode(),
            err.read().decode(),
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
