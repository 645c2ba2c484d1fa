"""A synced stack the faults are tried on, and what a fault's row counts.

A stack is one embedded PostgreSQL and a *world*: a dataset served by a fake API, and
template databases (`create database … template …`) holding the state after a first
clean sync; the API then serves the world's changes, so every faulty run has work to
do. The small world (a hundred slots, a few changes of each kind) serves the quick
matrix; `Stack.large()` adds, on the same cluster, a world of 3,000 slots with 300
changes. Syncs are subprocesses (`crashing.py`), so SIGKILL is real; every loop is
bounded; everything listens on loopback only.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from devstack.batigest import create_standin, seed_salaries
from devstack.fake_batisimply import Dataset, FakeBatiSimply, generate
from devstack.pg import EmbeddedPostgres
from devstack.reliability import changes
from devstack.sync_env import sync_env
from devstack.verify import Expectation, Key, Verdict, healthy_slots, staging_rows, verdict

WINDOW_DAYS = changes.WINDOW_DAYS
# passwords the runs are given (trust auth ignores them): none may ever be printed
STAGING_PASSWORD = "Staging-S3cret-9f2"
BATIGEST_PASSWORD = "Batigest-S3cret-7c1"
# long enough to be searched for: the fake's default "pw" turns up in any hash or base64
# text, and the scan would flag it as printed
API_CLIENT_SECRET = "reliability-client-secret-7f3a"
API_PASSWORD = "reliability-api-password-9c1e"


@dataclass
class Outcome:
    fault: str
    runs: int = 0
    converged: int = 0
    lost: int = 0
    duplicated: int = 0
    notes: list[str] = field(default_factory=list)
    wrong: int = 0

    def record(self, converged: bool, lost: int, duplicated: int, wrong: int = 0) -> None:
        self.runs += 1
        self.converged += int(converged)
        self.lost += lost
        self.duplicated += duplicated
        self.wrong += wrong

    def judge(self, ok: bool, found: Verdict, what: str = "", run: Run | None = None) -> None:
        """Record one run: `ok` (exit status and the rest), the oracle's verdict, and a
        note saying what went wrong (`what`: which case)."""
        self.record(ok and found.converged, found.lost, found.duplicated, found.wrong)
        parts = []
        if run is not None and run.code != 0:
            parts.append(f"exit {run.code}: {run.cause()}")
        if not found.converged and run is not None and run.summary.get("skipped_because"):
            parts.append("skipped (nothing changed)")
        if not found.converged:
            counts = {"lost": found.lost, "wrong": found.wrong, "duplicated": found.duplicated}
            parts.append(", ".join(f"{n} {name}" for name, n in counts.items() if n))
        if parts:
            self.notes.append(f"{what}: {'; '.join(parts)}" if what else "; ".join(parts))


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def summary(self) -> dict:
        try:
            return json.loads(self.stdout)  # `--json` prints one (indented) document
        except ValueError:
            return {}

    def cause(self, width: int = 100) -> str:
        """The run's error in one short line (a dbt database error: its message)."""
        error = self.summary.get("error") or ""
        lines = [line.strip() for line in error.splitlines() if line.strip()]
        line = (
            lines[1]
            if len(lines) > 1 and "Database Error" in lines[0]
            else lines[0]
            if lines
            else ""
        )
        return line[:width]


@dataclass(frozen=True)
class World:
    name: str
    make: Callable[[], Dataset]
    change: Callable[[Dataset], None]
    batch_size: int


SMALL = World(
    "small", lambda: generate(n_employees=4, n_projects=3, days=20, seed=12), changes.every_kind, 3
)
LARGE = World(
    "large", lambda: generate(n_projects=12, days=28, n_slots=3000, seed=17), changes.many, 50
)


class Stack:
    """One cluster, one world served by its fake API, its templates after a first sync."""

    def __init__(
        self,
        workdir: Path,
        world: World = SMALL,
        *,
        pg: EmbeddedPostgres | None = None,
        leaks: list[str] | None = None,
    ) -> None:
        self.workdir, self.world = workdir, world
        self._own_pg = pg is None
        # the cluster in a folder of its own under /tmp (root runs it as `postgres`)
        self.pg = pg or EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="batisync-rel-pg-")))
        if self._own_pg:
            self.pg.start()
        self.dataset = world.make()
        self.api = FakeBatiSimply(
            self.dataset, client_secret=API_CLIENT_SECRET, password=API_PASSWORD
        ).start()
        self.secrets = [STAGING_PASSWORD, BATIGEST_PASSWORD, API_CLIENT_SECRET, API_PASSWORD]
        self.leaks: list[str] = [] if leaks is None else leaks
        self.previous: dict[str, Key] = {}  # each healthy slot's key before the change
        self._copies = 0
        self._large: Stack | None = None
        try:
            self._make_templates()
        except BaseException:
            self.close()
            raise

    def _make_templates(self) -> None:
        name = self.world.name
        self.pg.create_database(f"{name}_tpl_batigest", replace=True)
        standin = create_standin(self.pg.url(f"{name}_tpl_batigest"))
        rows = self.dataset.salarie_rows()
        seed_salaries(standin, [(r["Code"], r["Nom"], r["codebs"]) for r in rows])
        standin.dispose()
        self.pg.create_database(f"{name}_tpl_staging", replace=True)
        first = self.sync(self.env(f"{name}_tpl_staging", f"{name}_tpl_batigest", "tpl"))
        if first.code != 0:
            raise RuntimeError(f"the first sync failed: {first.stdout}\n{first.stderr[-3000:]}")
        self.previous = {i: e.key for i, e in self.expected().items()}
        self.world.change(self.dataset)

    def large(self) -> Stack:
        """The large world, on this cluster (made once, closed with this stack)."""
        if self._large is None:
            self._large = Stack(self.workdir / "large", LARGE, pg=self.pg, leaks=self.leaks)
        return self._large

    def close(self) -> None:
        if self._large is not None:
            self._large.close()
        self.api.stop()
        if self._own_pg:
            self.pg.destroy()

    def env(self, staging: str, batigest: str, name: str) -> dict[str, str]:
        def with_password(database: str, password: str) -> str:
            url = sa.make_url(self.pg.url(database)).set(password=password)
            return url.render_as_string(hide_password=False)

        return sync_env(
            with_password(staging, STAGING_PASSWORD),
            with_password(batigest, BATIGEST_PASSWORD),
            self.workdir / name,
            api=self.api,
            window_days=WINDOW_DAYS,
            HEURES_CHUNK_DAYS=str(WINDOW_DAYS + 1),
            EXPORT_BATCH_SIZE=str(self.world.batch_size),  # several batches: crash points
        )

    def copy(self, *, empty_staging: bool = False) -> tuple[dict[str, str], str]:
        """Fresh databases cloned from the templates (an empty staging one if asked):
        (env for a sync, Batigest URL)."""
        self._copies += 1
        world, name = self.world.name, f"{self.world.name}{self._copies}"
        template = None if empty_staging else f"{world}_tpl_staging"
        self.pg.create_database(f"{name}_staging", replace=True, template=template)
        batigest = self.pg.create_database(
            f"{name}_batigest", replace=True, template=f"{world}_tpl_batigest"
        )
        return self.env(f"{name}_staging", f"{name}_batigest", name), batigest

    @property
    def template_staging(self) -> str:
        """The URL of the staging database after the first sync (before the change)."""
        return self.pg.url(f"{self.world.name}_tpl_staging")

    def sync(self, env: Mapping[str, str], point: str = "none") -> Run:
        return self._scan(self.start(env, point))

    def start(self, env: Mapping[str, str], point: str = "none") -> subprocess.Popen[str]:
        args = [sys.executable, "-m", "devstack.reliability.crashing", point, "--verbose"]
        return subprocess.Popen(
            args, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def command(self, env: Mapping[str, str], *args: str) -> Run:
        """Another `batisync` command (`load`, …) on the same settings."""
        process = subprocess.Popen(
            [sys.executable, "-m", "batisync", *args],
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        return self._scan(process)

    def restart_during(self, env: Mapping[str, str], marker: str) -> Run:
        """A sync whose cluster (staging and the stand-in) restarts as soon as its log
        shows `marker` (at once if the run ends first)."""
        process = self.start(env)
        lines: list[str] = []
        reader = threading.Thread(target=_read_lines, args=(process, lines), daemon=True)
        reader.start()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and process.poll() is None:
            if any(marker in line for line in list(lines)):
                break
            time.sleep(0.05)
        self.pg.restart()
        stdout = process.communicate(timeout=900)[0]
        reader.join(timeout=10)
        run = Run(process.returncode, stdout, "".join(lines))
        self.leaks += [s for s in self.secrets if s in run.stdout or s in run.stderr]
        return run

    def _scan(self, process: subprocess.Popen[str]) -> Run:
        stdout, stderr = process.communicate(timeout=900)
        run = Run(process.returncode, stdout, stderr)
        self.leaks += [s for s in self.secrets if s and (s in stdout or s in stderr)]
        return run

    def expected(self) -> dict[str, Expectation]:
        return healthy_slots(self.dataset, date.today(), WINDOW_DAYS)

    def verdict(
        self,
        batigest: str,
        expected: Mapping[str, Expectation] | None = None,
        *,
        previous: Mapping[str, Key] | None = None,
        retracted: Mapping[str, Key] | None = None,
    ) -> Verdict:
        """Every slot's key and values; rows left at the keys slots held before the change."""
        return verdict(
            self.expected() if expected is None else expected,
            batigest,
            previous={**self.previous, **(previous or {})},
            retracted=retracted,
        )

    def settle(
        self,
        env: Mapping[str, str],
        batigest: str,
        outcome: Outcome,
        *,
        what: str = "",
        expected: Mapping[str, Expectation] | None = None,
        retracted: Mapping[str, Key] | None = None,
    ) -> Run:
        """A clean run after the fault (nothing new upstream), then the oracle's verdict."""
        clean = self.sync(env)
        found = self.verdict(batigest, expected, retracted=retracted)
        outcome.judge(clean.code == 0, found, what, clean)
        self.check_history(env)
        return clean

    def check_history(self, env: Mapping[str, str]) -> None:
        url = self.pg.url(env["PGDATABASE"])
        text = "select coalesce(error, '') || coalesce(summary::text, '') from sync_runs"
        rows = staging_rows(url, text)
        self.leaks += [s for s in self.secrets for (text,) in rows if s and s in text]


def _read_lines(process: subprocess.Popen[str], lines: list[str]) -> None:
    for line in process.stderr or []:
        lines.append(line)


__all__ = ["LARGE", "SMALL", "WINDOW_DAYS", "Outcome", "Run", "Stack", "World"]
