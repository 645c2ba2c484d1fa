"""The fault matrix: each fault on a fresh copy of a synced stack, then a clean run.

A copy is two databases cloned from templates (`create database … template …`) that
hold the state after a first clean sync; the fake API then serves a changed dataset
(moves, a new slot, a project change, an un-validation, a deletion, other minutes), so
every faulty run has work to do. Syncs are subprocesses (`crashing.py`), so SIGKILL is
real; every loop is bounded; everything listens on loopback only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from batisync.orchestrate.lock import sync_lock
from devstack import hostile
from devstack.batigest import create_standin, seed_salaries
from devstack.fake_batisimply import Dataset, FakeBatiSimply, generate
from devstack.pg import EmbeddedPostgres
from devstack.verify import healthy_keys, staging_rows, verdict

WINDOW_DAYS = 30
MAX_STATEMENTS = 80  # bound of the statement crash loop
# passwords the runs are given (trust auth ignores them): none may ever be printed
STAGING_PASSWORD = "Staging-S3cret-9f2"
BATIGEST_PASSWORD = "Batigest-S3cret-7c1"
STAGES = ("load", "transform", "export", "publish")


@dataclass
class Outcome:
    fault: str
    runs: int = 0
    converged: int = 0
    lost: int = 0
    duplicated: int = 0
    notes: list[str] = field(default_factory=list)

    def record(self, converged: bool, lost: int, duplicated: int) -> None:
        self.runs += 1
        self.converged += int(converged)
        self.lost += lost
        self.duplicated += duplicated


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def summary(self) -> dict:
        try:
            return json.loads(self.stdout)  # `sync --json` prints one (indented) document
        except ValueError:
            return {}


class Stack:
    """One embedded PostgreSQL, one fake API, template databases after a first sync."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        # the cluster in a folder of its own under /tmp (root runs it as `postgres`)
        self.pg = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="batisync-rel-pg-")))
        self.pg.start()
        self.dataset = generate(n_employees=4, n_projects=3, days=20, seed=12)
        # secrets long enough to be searched for: the fake's default "pw" turns up in
        # any hash or base64 text, and the scan would flag it as printed
        self.api = FakeBatiSimply(
            self.dataset,
            client_secret="reliability-client-secret-7f3a",
            password="reliability-api-password-9c1e",
        ).start()
        self.secrets = [
            STAGING_PASSWORD,
            BATIGEST_PASSWORD,
            self.api.client_secret,
            self.api.password,
        ]
        self.leaks: list[str] = []
        self._copies = 0
        try:
            self._make_templates()
        except BaseException:
            self.close()
            raise

    def _make_templates(self) -> None:
        self.pg.create_database("tpl_batigest", replace=True)
        standin = create_standin(self.pg.url("tpl_batigest"))
        rows = self.dataset.salarie_rows()
        seed_salaries(standin, [(r["Code"], r["Nom"], r["codebs"]) for r in rows])
        standin.dispose()
        self.pg.create_database("tpl_staging", replace=True)
        first = self.sync(self.env("tpl_staging", "tpl_batigest", "tpl"))
        if first.code != 0:
            raise RuntimeError(f"the first sync failed: {first.stdout}\n{first.stderr[-3000:]}")
        _change(self.dataset)

    def close(self) -> None:
        self.api.stop()
        self.pg.destroy()

    def env(self, staging: str, batigest: str, name: str) -> dict[str, str]:
        batigest_url = sa.make_url(self.pg.url(batigest)).set(password=BATIGEST_PASSWORD)
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "CREDENTIALS_FILE": "",  # no settings file: the environment only
            **self.api.settings_env(),
            **self.pg.env(staging),
            "PGPASSWORD": STAGING_PASSWORD,
            "BATIGEST_URL": batigest_url.render_as_string(hide_password=False),
            "HEURES_WINDOW_DAYS": str(WINDOW_DAYS),
            "HEURES_CHUNK_DAYS": str(WINDOW_DAYS + 1),
            "EXPORT_BATCH_SIZE": "3",  # several batches: more crash points
            "DBT_TARGET_PATH": str(self.workdir / name / "dbt_target"),
            "DBT_LOG_PATH": str(self.workdir / name / "dbt_logs"),
            "LOADER_PIPELINES_DIR": str(self.workdir / name / "dlt"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        }

    def copy(self) -> tuple[dict[str, str], str]:
        """Fresh databases cloned from the templates: (env for a sync, Batigest URL)."""
        self._copies += 1
        name = f"c{self._copies}"
        self.pg.create_database(f"{name}_staging", replace=True, template="tpl_staging")
        batigest = self.pg.create_database(
            f"{name}_batigest", replace=True, template="tpl_batigest"
        )
        return self.env(f"{name}_staging", f"{name}_batigest", name), batigest

    def sync(self, env: dict[str, str], point: str = "none") -> Run:
        return self._scan(self.start(env, point))

    def start(self, env: dict[str, str], point: str = "none") -> subprocess.Popen[str]:
        args = [sys.executable, "-m", "devstack.reliability.crashing", point, "--verbose"]
        return subprocess.Popen(
            args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def _scan(self, process: subprocess.Popen[str]) -> Run:
        stdout, stderr = process.communicate(timeout=900)
        run = Run(process.returncode, stdout, stderr)
        self.leaks += [s for s in self.secrets if s and (s in stdout or s in stderr)]
        return run

    def expected(self) -> dict:
        return healthy_keys(self.dataset, date.today(), WINDOW_DAYS)

    def settle(self, env: dict[str, str], batigest: str, outcome: Outcome) -> None:
        """A clean run after the fault, then the oracle's verdict."""
        clean = self.sync(env)
        if clean.code != 0:
            outcome.notes.append(f"clean run exit {clean.code}: {clean.summary.get('error')}")
        found = verdict(self.expected(), batigest)
        outcome.record(clean.code == 0 and found.converged, found.lost, found.duplicated)
        self._check_history(env)

    def _check_history(self, env: dict[str, str]) -> None:
        url = self.pg.url(env["PGDATABASE"])
        text = "select coalesce(error, '') || coalesce(summary::text, '') from sync_runs"
        rows = staging_rows(url, text)
        self.leaks += [s for s in self.secrets for (text,) in rows if s and s in text]


def _change(ds: Dataset) -> None:
    """Work for every faulty run: each kind of change the exporter handles."""
    ids = sorted((i for i, s in ds.slots.items() if s["managementStatus"] == "VALIDATED"), key=int)
    base = hostile.template(ds)
    ds.move_slot(ids[-1], 60)
    ds.move_slot(ids[-2], -45)
    ds.change_minutes(ids[-3], 123)
    ds.unvalidate(ids[-4])
    ds.delete(ids[-5])
    current = ds.slots[ids[-6]]["project"]["id"]
    ds.change_project(ids[-6], next(p.id for p in ds.projects if p.code and p.id != current))
    night = datetime.combine(date.today() - timedelta(days=2), datetime.min.time()) + timedelta(
        hours=2
    )
    ds.add_slot(base["user"]["id"], base["project"]["id"], night, 240)


# -- the faults ---------------------------------------------------------------------------


def crash_points(stack: Stack, quick: bool) -> Iterator[Outcome]:
    boundaries = Outcome("SIGKILL at a stage boundary")
    points = [f"{when}:{stage}" for stage in STAGES for when in ("before", "after")]
    for point in points[:1] if quick else points:
        env, batigest = stack.copy()
        stack.sync(env, point)
        stack.settle(env, batigest, boundaries)
    yield boundaries
    statements = Outcome("SIGKILL after an exporter statement")
    for n in range(1, 2 if quick else MAX_STATEMENTS):
        env, batigest = stack.copy()
        run = stack.sync(env, f"statement:{n}")
        stack.settle(env, batigest, statements)
        if run.code == 0:  # the export had fewer statements: every point was tried
            statements.notes.append(f"{n - 1} statements")
            break
    yield statements


def api_faults(stack: Stack, quick: bool) -> Iterator[Outcome]:
    outcome = Outcome("API: 429, 5xx, resets, slow, down")
    faults: list[Callable[[FakeBatiSimply], None]] = [
        lambda api: api.fail_next(429, times=4, retry_after=0),
        lambda api: api.fail_next(503, times=4),
        lambda api: api.reset_next(times=3),
        lambda api: api.slow_next(2.0, times=2),
        lambda api: api.fail_always(500),
        lambda api: api.expire_all_tokens(),
    ]
    for inject in faults[:1] if quick else faults:
        env, batigest = stack.copy()
        inject(stack.api)
        stack.sync(env)
        stack.api.clear_faults()
        stack.settle(env, batigest, outcome)
    yield outcome


def database_restarts(stack: Stack, quick: bool) -> Iterator[Outcome]:
    """The cluster (staging and the stand-in) restarts while a stage runs."""
    outcome = Outcome("database restart mid-run")
    clear = 0
    for stage in () if quick else ("load", "transform", "export"):
        env, batigest = stack.copy()
        process = stack.start(env)
        lines: list[str] = []
        reader = threading.Thread(target=_read_lines, args=(process, lines), daemon=True)
        reader.start()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and process.poll() is None:
            if any(f"stage {stage}: started" in line for line in list(lines)):
                break
            time.sleep(0.05)
        stack.pg.restart()
        stdout = process.communicate(timeout=900)[0]
        reader.join(timeout=10)
        run = Run(process.returncode, stdout, "".join(lines))
        stack.leaks += [s for s in stack.secrets if s in run.stdout or s in run.stderr]
        error = run.summary.get("error") or ""
        if run.code == 1 and "the next run resumes" in error:
            clear += 1
        elif run.code == 1:
            outcome.notes.append(f"unclear failure at {stage}: {error[:160]}")
        elif run.code != 0:
            outcome.notes.append(f"exit {run.code} at {stage}")
        stack.settle(env, batigest, outcome)
    if outcome.runs:
        outcome.notes.append(f"{clear} run(s) stopped with the one-line cause")
    yield outcome


def _read_lines(process: subprocess.Popen[str], lines: list[str]) -> None:
    for line in process.stderr or []:
        lines.append(line)


def hostile_corpus(stack: Stack, quick: bool) -> Iterator[Outcome]:
    outcome = Outcome(f"hostile corpus ({len(hostile.corpus(stack.dataset))} records)")
    entries = hostile.corpus(stack.dataset)
    hostile.install(stack.dataset, entries)
    try:
        env, batigest = stack.copy()
        for _ in range(1 if quick else 2):  # the run with them, and the next one
            run = stack.sync(env)
            found = verdict(stack.expected(), batigest)
            outcome.record(run.code == 0 and found.converged, found.lost, found.duplicated)
        wrong = hostile.fate_mismatches(stack.pg.url(env["PGDATABASE"]), entries)
        outcome.notes += wrong[:5]
        if wrong:
            outcome.converged = 0
    finally:
        hostile.uninstall(stack.dataset)
    yield outcome


def concurrency(stack: Stack, quick: bool) -> Iterator[Outcome]:
    outcome = Outcome("two syncs at once (lock, exit 75)")
    env, batigest = stack.copy()
    conninfo = {
        "host": env["PGHOST"],
        "port": int(env["PGPORT"]),
        "user": env["PGUSER"],
        "dbname": env["PGDATABASE"],
    }
    with sync_lock(conninfo):
        held = stack.sync(env)
    if held.code != 75:
        outcome.notes.append(f"a sync under a held lock exited {held.code}")
    both = [stack.start(env), stack.start(env)]
    codes = sorted(stack._scan(p).code for p in both)
    if codes not in ([0, 0], [0, 75]):
        outcome.notes.append(f"two syncs at once exited {codes}")
    found = verdict(stack.expected(), batigest)
    ok = held.code == 75 and codes in ([0, 0], [0, 75])
    outcome.record(ok and found.converged, found.lost, found.duplicated)
    yield outcome


SCENARIOS = (crash_points, api_faults, database_restarts, hostile_corpus, concurrency)


def run_matrix(
    *,
    quick: bool = False,
    workdir: Path | None = None,
    scenarios: tuple[Callable[[Stack, bool], Iterator[Outcome]], ...] = SCENARIOS,
) -> list[Outcome]:
    """Every scenario on one stack; the secrets row checks every output of every run."""
    root = workdir or Path(tempfile.mkdtemp(prefix="batisync-reliability-"))
    stack = Stack(root)
    outcomes: list[Outcome] = []
    try:
        for scenario in scenarios:
            try:
                for outcome in scenario(stack, quick):
                    outcomes.append(outcome)
                    print(f"done: {render([outcome]).splitlines()[2]}", file=sys.stderr, flush=True)
            except Exception as error:  # a harness failure is a row, not a lost table
                failed = Outcome(scenario.__name__.replace("_", " "))
                failed.notes.append(f"harness error: {type(error).__name__}: {error}"[:200])
                outcomes.append(failed)
    finally:
        stack.close()
    runs = sum(o.runs for o in outcomes) + 1
    secrets = Outcome("secrets never printed (every output, sync_runs)", runs=runs)
    secrets.converged = runs if not stack.leaks else 0
    secrets.notes += sorted({"a secret was printed"} if stack.leaks else set())
    return [*outcomes, secrets]


def render(outcomes: list[Outcome], started: datetime | None = None) -> str:
    head = "| fault | runs | converged | lost | duplicated |"
    lines = [head, "|---|---:|---:|---:|---:|"]
    for o in outcomes:
        note = f" ({'; '.join(o.notes)})" if o.notes else ""
        lines.append(f"| {o.fault}{note} | {o.runs} | {o.converged} | {o.lost} | {o.duplicated} |")
    when = (started or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join([*lines, "", f"_make reliability, {when}_"])


def passed(outcomes: list[Outcome]) -> bool:
    return all(
        o.runs > 0 and o.converged == o.runs and not o.lost and not o.duplicated
        for o in outcomes
        if o.runs or o.notes
    )
