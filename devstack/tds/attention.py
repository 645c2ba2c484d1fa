"""Cancel (ATTENTION) while a request runs: the client sends it instead of waiting.

While a request executes, a watcher thread reads the socket; an ATTENTION packet
cancels the running PostgreSQL query and the reply becomes DONE with the ATTN bit.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import threading
from collections.abc import Callable

from devstack.tds import wire

log = logging.getLogger(__name__)


class AttentionWatcher:
    """`with AttentionWatcher(sock, cancel) as w: ...run...`; then `w.cancelled`."""

    def __init__(self, sock: socket.socket, cancel: Callable[[], None]) -> None:
        self.sock, self.cancel = sock, cancel
        self.cancelled = False
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> AttentionWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        os.write(self._wake_w, b"x")
        self._thread.join()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _watch(self) -> None:
        while True:
            readable, _, _ = select.select([self.sock, self._wake_r], [], [])
            if self._wake_r in readable:
                return
            try:
                kind, _ = wire.read_message(self.sock)
            except (wire.ConnectionClosed, OSError):
                return
            if kind == wire.ATTENTION:
                self.cancelled = True
                self.cancel()
            else:  # a client may only send ATTENTION while it waits for a reply
                log.warning("ignored packet type 0x%02X received during a request", kind)
