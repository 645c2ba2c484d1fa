"""The endpoint in a child process, for clients that hold the GIL while they wait.

mssql-python's bulkcopy() runs in its Rust core without releasing the GIL, so an
endpoint thread in the same interpreter could never answer it. `EndpointProcess`
runs `python -m devstack.tds` instead; it has no `stats` (they live in the child).
"""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

from devstack.tds.server import pg_conninfo
from devstack.tds.urls import dbapi_connect, driver_url

_LISTENING = re.compile(r"on 127\.0\.0\.1:(\d+)")


class EndpointProcess:
    """`with EndpointProcess(pg_url) as ep:` like TdsEndpoint, served by a child process."""

    host = "127.0.0.1"

    def __init__(self, pg_url: str, port: int = 0) -> None:
        self.pg_url, self.requested_port = pg_url, port
        self.conninfo, self.database = pg_conninfo(pg_url)
        self.port = 0
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> EndpointProcess:
        cmd = [sys.executable, "-m", "devstack.tds", "--pg-url", self.pg_url]
        cmd += ["--port", str(self.requested_port)]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()  # the first line names the port
        if not (m := _LISTENING.search(line)):
            self.__exit__()
            raise RuntimeError(f"the TDS endpoint process did not start: {line!r}")
        self.port = int(m[1])
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
            if self._proc.stdout:
                self._proc.stdout.close()
            self._proc = None

    def url(self, driver: str, **query: str) -> str:
        return driver_url(driver, self.host, self.port, self.database, **query)

    def connect(self, driver: str, *, autocommit: bool = True) -> Any:
        return dbapi_connect(driver, self.host, self.port, self.database, autocommit=autocommit)
