"""How `sync --all` starts one dossier's process, and what it needs of it.

* `SubprocessLauncher`: `command` is a whole argv, run in a fresh interpreter.
* `WarmLauncher`: `command` is `batisync`'s own arguments, run in a process forked from a
  forkserver that imported the sync's modules once. A fresh interpreter pays Python's
  start-up and the imports of dbt, dlt and SQLAlchemy (2 to 4 s of CPU) for every
  dossier; forked from the warm server, 20 dossiers pay them once. Each dossier is still
  a process of its own (dbt's runner changes its process's environment; a crash stays
  one dossier's) with its own environment, stdout, stderr and session.

Either way a child's stderr is read line by line while it runs, its stdout goes to a
file (a dry run's JSON may be large), and its exit status is negative when a signal
killed it (`-N` for signal N), as `subprocess` reports it.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Protocol

# what a whole sync imports (the CLI, the stages' heavy libraries): imported once by the
# forkserver; a module that fails to import there is simply imported by each child
WARM_MODULES = (
    "batisync.cli",
    "batisync.orchestrate.wiring",
    "batisync.loader.pipeline",
    "batisync.transform.build",
    "batisync.export.runner",
    "dbt.cli.main",
    "dlt",
)


class Child(Protocol):
    def lines(self) -> Iterator[bytes]:
        """Its stderr, line by line, until it closes it (when it ends)."""

    def wait(self) -> int:
        """Its exit status (`-N` when signal N killed it)."""

    def terminate(self) -> None:
        """SIGTERM (it stops cleanly and says so in its summary)."""


class Launcher(Protocol):
    def start(
        self, command: Sequence[str], env: Mapping[str, str] | None, stdout: Path
    ) -> Child: ...


class _Popen:
    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._process = process

    def lines(self) -> Iterator[bytes]:
        assert self._process.stderr is not None
        yield from self._process.stderr

    def wait(self) -> int:
        return self._process.wait()

    def terminate(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self._process.send_signal(signal.SIGTERM)


class SubprocessLauncher:
    """`command` is an argv, run as a new process in a session of its own (a terminal's
    Ctrl-C reaches `sync --all`, which forwards it)."""

    def start(self, command: Sequence[str], env: Mapping[str, str] | None, stdout: Path) -> Child:
        with stdout.open("wb") as out:
            process = subprocess.Popen(
                list(command),
                stdout=out,
                stderr=subprocess.PIPE,
                env=dict(env) if env is not None else None,
                start_new_session=True,
            )
        return _Popen(process)


class _Forked:
    def __init__(self, process: multiprocessing.process.BaseProcess, stderr: Connection) -> None:
        self._process, self._stderr = process, stderr

    def lines(self) -> Iterator[bytes]:
        with os.fdopen(os.dup(self._stderr.fileno()), "rb") as stream:
            yield from stream
        self._stderr.close()

    def wait(self) -> int:
        self._process.join()
        code = self._process.exitcode
        return code if code is not None else 1

    def terminate(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self._process.terminate()


class WarmLauncher:
    """`command` is `entry`'s arguments (for the CLI's entry, `batisync`'s own:
    `["sync", "--dossier", NAME, "--json"]`), run in a process forked from the warm
    forkserver. `entry` is a module-level function: the child imports it by name."""

    def __init__(
        self,
        entry: Callable[[list[str]], int],
        modules: Sequence[str] = WARM_MODULES,
    ) -> None:
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(list(modules))
        self._entry = entry

    def start(self, command: Sequence[str], env: Mapping[str, str] | None, stdout: Path) -> Child:
        reader, writer = self._context.Pipe(duplex=False)
        environment = dict(env if env is not None else os.environ)
        process = self._context.Process(
            target=run_forked,
            args=(self._entry, list(command), environment, str(stdout), writer),
            daemon=False,
        )
        process.start()
        writer.close()  # the child holds the only writer: end of file when it ends
        return _Forked(process, reader)


def run_forked(
    entry: Callable[[list[str]], int],
    command: list[str],
    env: dict[str, str],
    stdout: str,
    stderr: Connection,
) -> None:
    """The forked child: its own session, environment, stdout and stderr, then `entry`."""
    os.setsid()
    with open(stdout, "wb") as out:
        os.dup2(out.fileno(), 1)
    os.dup2(stderr.fileno(), 2)
    stderr.close()
    os.environ.clear()
    os.environ.update(env)
    code = entry(command)
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)


__all__ = ["WARM_MODULES", "Child", "Launcher", "SubprocessLauncher", "WarmLauncher"]
