"""dbt in a process of its own, started while the load runs (issue 19).

A changed run's load is CPU-bound Python (the window's records classified): a thread
importing dbt and parsing the project in the sync's own process only takes turns with
it under the GIL (tried: no gain). A worker process imports dbt and parses on the other
core, then runs the sync's dbt commands (the transform's build, the publish's run) with
that parse; the sync receives each command's `DbtResult` (without dbt's own objects) and
its node progress.

Whatever goes wrong with the worker (it cannot start, dies, breaks the pipe) leaves the
command to run in the sync's process as before: `run` returns None then. The worker
never outlives the sync: it dies with its parent (Linux's parent-death signal, SIGKILL
included; elsewhere a watchdog on its parent's pid, within `PARENT_POLL_S`) and `stop`
ends it before the sync releases its lock. The worker is `python -m
batisync.transform.worker FD`, talking over a socket pair with multiprocessing's
`Connection` (pickled messages).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any, ClassVar

from batisync.core.errors import first_line
from batisync.core.logs import REDACT, setup_logging
from batisync.transform.dbt_runner import DbtResult

log = logging.getLogger("batisync.transform.worker")  # also when run as __main__

STOP_TIMEOUT_S = 5.0
PARENT_POLL_S = 0.2
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class DbtWorker:
    """One worker per run, started at most once (`start`), ended by `stop`."""

    # what `python -m` runs: this module (the fault matrix runs one that wraps `main`)
    module: ClassVar[str] = "batisync.transform.worker"

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self.env: dict[str, str] | None = None  # what its parse was given

    @property
    def started(self) -> bool:
        return self._process is not None

    def prepare(self, env: Callable[[], Mapping[str, str]]) -> None:
        """`start`, with `env()` computed here, in the caller's thread (the Batigest
        inspection, the incremental variables), while the worker imports dbt (most of its
        preparation); if `env()` fails, the worker is stopped and the commands run here."""
        if self.started or not self._spawn():
            return
        try:
            wanted = env()
        except Exception as error:
            log.info("dbt worker stopped: no environment (%s)", type(error).__name__)
            self.stop()
            return
        self._configure(wanted)

    def start(self, env: Mapping[str, str]) -> None:
        """Start the worker, which imports dbt and parses the project with `env` (the
        build's environment); nothing when it was started already or cannot start."""
        if not self.started and self._spawn():
            self._configure(env)

    def _spawn(self) -> bool:
        """The worker process, importing dbt until `_configure` sends the environment it
        parses with; False when it cannot start (the commands run in this process)."""
        # a process of its own (`python -m`, not multiprocessing's spawn, which imports
        # the parent's __main__ again: Dagster's is a command line), a socket to talk
        ours, theirs = socket.socketpair()
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", self.module, str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
            )
        except Exception as error:  # the commands run in this process
            log.info("dbt worker not started: %s", first_line(error))
            ours.close()
            return False
        finally:
            theirs.close()
        conn = Connection(ours.detach())
        level = logging.getLogger().getEffectiveLevel()
        try:  # through the socket, never the command line: the secrets among them
            conn.send((level, sorted(REDACT.secrets)))
        except OSError as error:
            log.info("dbt worker not started: %s", first_line(error))
            conn.close()
            _end(process)
            return False
        self._process, self._conn = process, conn
        log.info("dbt worker started (pid %s)", process.pid)
        return True

    def _configure(self, env: Mapping[str, str]) -> None:
        """Send the started worker the environment it parses with (its parse serves
        commands of that environment only)."""
        assert self._conn is not None
        try:
            self._conn.send(dict(env))
        except OSError as error:
            log.info("dbt worker lost before its parse: %s", first_line(error))
            self.stop()
            return
        self.env = dict(env)

    def run(
        self,
        args: Sequence[str],
        env: Mapping[str, str],
        on_node: Callable[[int, int], None] | None = None,
        display: Mapping[str, str] | None = None,
    ) -> DbtResult | None:
        """`dbt <args>` run by the worker with `env` and `display` (dbt's output options:
        its parse serves only the environment `env` it was given), or None when the
        worker cannot run it (the caller runs it)."""
        if self._conn is None:
            return None
        try:
            self._conn.send((list(args), dict(env), dict(display or {})))
            while True:
                kind, *payload = self._conn.recv()
                if kind == "result":
                    return payload[0]
                if on_node is not None:
                    on_node(*payload)
        except (EOFError, OSError) as error:
            log.warning("dbt worker lost (%s): the command runs in this process", error)
            self.stop()
            return None

    def stop(self) -> None:
        """End the worker (idle or not): nothing it started is left running."""
        process, conn = self._process, self._conn
        self._conn = None
        if conn is not None:
            conn.close()
        if process is not None:
            _end(process)


def _end(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(STOP_TIMEOUT_S)
    if process.poll() is None:
        process.kill()
        process.wait(STOP_TIMEOUT_S)


def serve(conn: Connection, level: int, secrets: Iterable[str]) -> None:
    """The worker's main: dbt imported, then the project parsed with the environment
    received first, then each command received run (with that parse when given the same
    environment), its nodes and its result sent back, until the pipe closes."""
    _leave_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the sync, which stops us
    setup_logging(secrets=secrets, interactive=False)
    logging.getLogger().setLevel(level)
    # dbt prints: the sync's stdout is its summary (`--json` must parse)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    began = time.monotonic()
    # most of the preparation, and it needs no environment: done while the sync computes it
    import dbt.cli.main  # noqa: F401

    from batisync.transform.dbt_runner import parse_manifest, run_dbt

    imported = time.monotonic()
    try:
        env = conn.recv()
    except (EOFError, OSError):
        return  # stopped before its parse: the run needs no dbt, or computes it elsewhere
    received = time.monotonic()
    manifest: Any = None
    with contextlib.suppress(Exception):  # then each command parses, and says why it fails
        manifest = parse_manifest(env=env)
    log.info(
        "dbt worker ready: dbt imported in %.1f s, parsed in %.1f s (%s) after %.1f s waiting",
        imported - began,
        time.monotonic() - received,
        "ok" if manifest is not None else "failed",
        received - imported,
    )
    while True:
        try:
            args, command_env, display = conn.recv()
        except (EOFError, OSError):
            return

        def node(done: int, total: int) -> None:
            conn.send(("node", done, total))

        parsed = manifest if command_env == env else None
        result = run_dbt(args, env={**display, **command_env}, manifest=parsed, on_node=node)
        conn.send(("result", replace(result, raw=None)))


def _leave_with_parent() -> None:
    parent = os.getppid()
    if _die_with_parent() and os.getppid() == parent:
        return  # the kernel kills this process when the sync ends, at once

    def watch() -> None:
        while os.getppid() == parent:  # reparented: the sync is gone (SIGKILL included)
            time.sleep(PARENT_POLL_S)
        os._exit(1)  # no cleanup: the sync is gone, and so is its lock

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _die_with_parent() -> bool:
    """Linux's PR_SET_PDEATHSIG: SIGKILL when the parent ends (no dbt command goes on
    writing once the sync is gone, and its lock with it); False elsewhere. The kernel
    ties it to the thread that started the worker: the sync's stages run on one
    thread, which outlives the worker (`Stages.close` stops it)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def main(argv: Sequence[str]) -> None:
    """`python -m batisync.transform.worker FD`: serve the sync on the socket FD."""
    channel = Connection(int(argv[1]))
    level, secrets = channel.recv()
    serve(channel, level, secrets)


if __name__ == "__main__":
    main(sys.argv)


__all__ = ["DbtWorker", "main", "serve"]
