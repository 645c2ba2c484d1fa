"""A dbt worker busy for an hour, its pid watch an hour long too: it can only die with
its parent through the kernel (Linux's parent-death signal). Run by
`test_the_worker_dies_with_the_sync_even_busy` as `DbtWorker.module`; it touches the
file named by `READY_FILE` once it has set itself up."""

from __future__ import annotations

import os
import time
from pathlib import Path

from batisync.transform import worker

if __name__ == "__main__":
    worker.PARENT_POLL_S = 3600.0
    worker._leave_with_parent()
    Path(os.environ["READY_FILE"]).touch()
    time.sleep(3600)  # a dbt command that goes on and on
