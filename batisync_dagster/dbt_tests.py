"""The dbt data tests a sync runs, known before any run: Dagster declares one asset check
per test (as dagster-dbt does), then each run reports the results its own `dbt build`
gave (the summary's transform report), never running a test again.

The list comes from `dbt ls` on the project with the sync's own selection, run once per
version of `dbt_project/` (a few seconds) and kept in a cache file keyed by a digest of
its files: every Dagster process loading the code location (webserver, daemon, each run)
then reads a file. `dbt ls` parses only: no database is reached.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from batisync.transform.build import TRANSFORM_SELECTION
from batisync.transform.dbt_runner import DBT_PROJECT_DIR, dbt_args

log = logging.getLogger(__name__)

LS_ARGS = (
    "ls",
    "--resource-type",
    "test",
    *TRANSFORM_SELECTION,  # the sync's own: its build runs exactly these tests
    "--output",
    "json",
    "--output-keys",
    "name",
    "unique_id",
    "attached_node",
)
# what dbt writes and reads back is no part of the project's definition
_NOT_SOURCES = {"target", "logs", "dbt_packages"}


@dataclass(frozen=True)
class DataTest:
    name: str
    unique_id: str
    attached_node: str | None = None  # the model (or source) it tests

    @property
    def model(self) -> str | None:
        return self.attached_node.rsplit(".", 1)[-1] if self.attached_node else None


def project_digest(project_dir: Path = DBT_PROJECT_DIR) -> str:
    """A digest of the dbt project's files and of the selection: a new test, a renamed
    one or another selection gives another cache file."""
    digest = hashlib.sha256(" ".join(LS_ARGS).encode())
    for path in sorted(project_dir.rglob("*")):
        relative = path.relative_to(project_dir)
        if path.is_file() and relative.parts[0] not in _NOT_SOURCES:
            digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cache_dir() -> Path:
    """`$DAGSTER_HOME/batisync` (the instance's folder), else a folder of this user's in
    the temporary directory."""
    home = os.environ.get("DAGSTER_HOME")
    if home:
        return Path(home) / "batisync"
    return Path(tempfile.gettempdir()) / f"batisync-dagster-{os.getuid()}"


def parse_ls(output: str) -> list[DataTest]:
    """`dbt ls --output json`'s lines (one JSON object per test) as DataTests, by name."""
    tests = {}
    for line in output.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        item = json.loads(line)
        tests[item["name"]] = DataTest(item["name"], item["unique_id"], item.get("attached_node"))
    return [tests[name] for name in sorted(tests)]


def list_data_tests(work_dir: Path, python: str = sys.executable) -> list[DataTest]:
    """`dbt ls` in a process of its own (dbt changes the process environment); raises
    RuntimeError with dbt's last words when it fails."""
    env = {
        **os.environ,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "DBT_TARGET_PATH": str(work_dir / "dbt_target"),
        "DBT_LOG_PATH": str(work_dir / "dbt_logs"),
    }
    done = subprocess.run(
        [python, "-m", "dbt.cli.main", "--quiet", *dbt_args(LS_ARGS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        last = (done.stdout + done.stderr).strip().splitlines()[-3:]
        raise RuntimeError(f"dbt ls exited {done.returncode}: {' / '.join(last)}")
    return parse_ls(done.stdout)


def data_tests(folder: Path | None = None) -> list[DataTest]:
    """The data tests of a sync's `dbt build`, from the cache or from `dbt ls` (then
    cached). Empty, with a warning, when dbt cannot list them: the runs still report
    every result in their metadata."""
    folder = folder or cache_dir()
    cached = folder / f"dbt_tests-{project_digest()}.json"
    if cached.is_file():
        return [DataTest(**item) for item in json.loads(cached.read_text())]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tests = list_data_tests(folder)
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:
        log.warning("the dbt data tests could not be listed, no asset check declared: %s", error)
        return []
    partial = cached.with_suffix(f".{os.getpid()}.tmp")  # several processes may load at once
    partial.write_text(json.dumps([t.__dict__ for t in tests]))
    partial.replace(cached)
    return tests


__all__ = ["DataTest", "data_tests", "list_data_tests", "parse_ls", "project_digest"]
