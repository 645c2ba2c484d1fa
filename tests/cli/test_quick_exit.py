"""`batisync` (the console script, `python -m batisync`) leaves without Python's teardown
(`batisync.cli.entry_point`): its status, its buffered output, the atexit handlers and the
threads still running are kept as a normal exit keeps them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

# a program that leaves through the console script with things a quick exit could lose:
# stdout still buffered (a pipe), an atexit handler writing a file, a thread writing one
# after `main` returned; `sync` with no setting exits 2
PROGRAM = textwrap.dedent(
    """
    import atexit, sys, threading, time
    from pathlib import Path
    from batisync.cli import entry_point

    out = Path(sys.argv[1])
    atexit.register(lambda: (out / "atexit").write_text("ran"))
    def late():
        time.sleep(0.5)
        (out / "thread").write_text("done")
    threading.Thread(target=late).start()
    print("buffered line")
    sys.argv = ["batisync", "sync"]
    entry_point()
    """
)


def test_the_quick_exit_keeps_status_output_handlers_and_threads(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "CREDENTIALS_FILE": ""}
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(tmp_path)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == "buffered line\n"
    assert "BATIGEST_URL" in result.stderr
    assert (tmp_path / "atexit").read_text() == "ran"
    assert (tmp_path / "thread").read_text() == "done"


def test_the_console_script_and_python_dash_m_both_exit_quickly() -> None:
    (script,) = entry_points(group="console_scripts", name="batisync")
    assert script.value == "batisync.cli:entry_point"
    main_module = Path(__file__).resolve().parents[2] / "batisync" / "__main__.py"
    assert "entry_point()" in main_module.read_text()
