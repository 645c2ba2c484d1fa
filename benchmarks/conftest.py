"""Benchmarks (`make bench`): files are named `bench_*.py`; each session has its own cluster.

Every session starts from an empty `bench/` and ends by writing `bench/report.json` and
`bench/report.md` from what its benchmarks recorded (benchmarks/results.py), pass or fail.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from benchmarks.report import write_report
from benchmarks.results import reset
from devstack.pg_fixtures import new_database, pg  # noqa: F401 (fixtures)

STARTED = pytest.StashKey[datetime]()


def pytest_sessionstart(session: pytest.Session) -> None:
    reset()  # nothing of an earlier run may pass for this one's
    session.config.stash[STARTED] = datetime.now(UTC)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    started = session.config.stash.get(STARTED, None)
    report = write_report(started=started, failed=session.testsfailed)
    if report is not None:
        print(f"\nbenchmark report: {report} (and report.json)")


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Module | None:
    # pytest collects only test_*.py by default; benchmarks live in bench_*.py
    # (a file named on the command line is collected by pytest itself)
    if (
        file_path.suffix == ".py"
        and file_path.name.startswith("bench_")
        and not parent.session.isinitpath(file_path)
    ):
        return pytest.Module.from_parent(parent, path=file_path)
    return None
