"""The sync benchmark's peak RSS counts the processes a sync starts (dbt's worker): a
child that starts a process holding memory reports that memory too."""

from __future__ import annotations

import os
import textwrap

from benchmarks.processes import run_python

# the child starts a grandchild that holds 200 MiB for a moment, and waits for it
PROGRAM = textwrap.dedent(
    """
    import subprocess, sys
    hold = "x = bytearray(200 * 2**20); x[::4096] = b'1' * len(x[::4096]); "
    hold += "import time; time.sleep(0.5)"
    subprocess.run([sys.executable, "-c", hold], check=True)
    """
)


def test_the_peak_rss_counts_what_the_child_starts() -> None:
    done = run_python(["-c", PROGRAM], dict(os.environ))
    assert done.exit_code == 0, done.stderr
    assert done.peak_rss_mb > 200
    alone = run_python(["-c", "pass"], dict(os.environ))
    assert alone.peak_rss_mb < 100
