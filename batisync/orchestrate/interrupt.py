"""SIGTERM (systemd, `timeout`, a container stop) and SIGINT (Ctrl-C) end a run cleanly.

The first signal raises `Interrupted` in the main thread, wherever it is (an HTTP read,
dbt, a database call): the stage fails, the rest are skipped, the run is recorded as
`interrupted`, the summary printed and the lock released on the way out. Later signals
are ignored so that this cleanup itself is not cut short.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Interrupted(KeyboardInterrupt):
    """The run was asked to stop by a signal (its name is the message)."""


@dataclass
class Stop:
    signal: str | None = None  # the name of the first signal received

    @property
    def requested(self) -> bool:
        return self.signal is not None


@contextlib.contextmanager
def interruptible() -> Iterator[Stop]:
    """Within the block, SIGTERM and SIGINT raise `Interrupted` once (main thread only)."""
    stop = Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if stop.requested:
            log.warning("%s received while stopping: finishing the cleanup first", name)
            return
        stop.signal = name
        log.warning("%s received: stopping the run", name)
        raise Interrupted(name)

    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield stop
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


__all__ = ["Interrupted", "Stop", "interruptible"]
