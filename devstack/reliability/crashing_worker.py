"""dbt's worker process for `devstack.reliability.crashing`'s `node:NAME` points.

A sync runs its dbt commands in a worker process (`batisync/transform/worker.py`), so
dbt reports its nodes there: `crashing` makes the sync start this module instead
(`DbtWorker.module`), which wraps the node counter as `crashing` does in-process and,
once the node is done, sends the signal to the sync. Under SIGKILL the worker dies with
it (the parent-death signal); under SIGTERM the sync stops and ends its worker.
"""

from __future__ import annotations

import os
import signal
import sys

from batisync.transform import worker
from devstack.reliability.crashing import NODE_ENV, after_node


def install() -> None:
    how, _, name = os.environ.get(NODE_ENV, "").partition(":")
    if name:
        number = signal.SIGTERM if how == "sigterm" else signal.SIGKILL
        sync = os.getppid()
        after_node(name, lambda: os.kill(sync, number))


if __name__ == "__main__":
    install()
    worker.main(sys.argv)
