"""The fault matrix: each fault on a fresh copy of a synced stack (`stack.py`), then a
clean run, then the oracle (`devstack/verify.py`): every healthy slot in SuiviMO once,
at its current key, with its current values.

The faults of issue 12 (crashes, API faults, restarts, hostile corpus, lock) run on the
small world; the work left unfinished of issue 17 (`unfinished.py`: a run stopped after
its load, `batisync load` alone, a failing dbt test, a restart, an interrupted
retraction), the old connector's deployment (`takeover.py`) and rows edited by hand
(`hand_edits.py`) on the large one (the small one in `--quick`).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from batisync.orchestrate.lock import sync_lock
from devstack import hostile
from devstack.fake_batisimply import FakeBatiSimply
from devstack.reliability import hand_edits, takeover, unfinished
from devstack.reliability.stack import Outcome, Stack

MAX_STATEMENTS = 80  # bound of the statement crash loop
STAGES = ("load", "transform", "export", "publish")


# -- the faults ---------------------------------------------------------------------------


def crash_points(stack: Stack, quick: bool) -> Iterator[Outcome]:
    boundaries = Outcome("SIGKILL at a stage boundary")
    points = [f"{when}:{stage}" for stage in STAGES for when in ("before", "after")]
    for point in points[:1] if quick else points:
        env, batigest = stack.copy()
        stack.sync(env, point)
        stack.settle(env, batigest, boundaries, what=point)
    yield boundaries
    statements = Outcome("SIGKILL after an exporter statement")
    for n in range(1, 2 if quick else MAX_STATEMENTS):
        env, batigest = stack.copy()
        run = stack.sync(env, f"statement:{n}")
        stack.settle(env, batigest, statements, what=f"statement {n}")
        if run.code == 0:  # the export had fewer statements: every point was tried
            statements.notes.append(f"{n - 1} statements")
            break
    yield statements


def api_faults(stack: Stack, quick: bool) -> Iterator[Outcome]:
    outcome = Outcome("API: 429, 5xx, resets, slow, down")
    faults: dict[str, Callable[[FakeBatiSimply], None]] = {
        "429": lambda api: api.fail_next(429, times=4, retry_after=0),
        "503": lambda api: api.fail_next(503, times=4),
        "resets": lambda api: api.reset_next(times=3),
        "slow": lambda api: api.slow_next(2.0, times=2),
        "down": lambda api: api.fail_always(500),
        "tokens revoked": lambda api: api.expire_all_tokens(),
    }
    for name, inject in list(faults.items())[:1] if quick else faults.items():
        env, batigest = stack.copy()
        inject(stack.api)
        stack.sync(env)
        stack.api.clear_faults()
        stack.settle(env, batigest, outcome, what=name)
    yield outcome


def database_restarts(stack: Stack, quick: bool) -> Iterator[Outcome]:
    """The cluster (staging and the stand-in) restarts while a stage runs."""
    outcome = Outcome("database restart mid-run")
    clear = 0
    for stage in () if quick else ("load", "transform", "export"):
        env, batigest = stack.copy()
        run = stack.restart_during(env, f"stage {stage}: started")
        error = run.summary.get("error") or ""
        if run.code == 1 and "the next run resumes" in error:
            clear += 1
        elif run.code == 1:
            outcome.notes.append(f"unclear failure at {stage}: {error[:160]}")
        elif run.code != 0:
            outcome.notes.append(f"exit {run.code} at {stage}")
        stack.settle(env, batigest, outcome, what=stage)
    if outcome.runs:
        outcome.notes.append(f"{clear} run(s) stopped with the one-line cause")
    yield outcome


def hostile_corpus(stack: Stack, quick: bool) -> Iterator[Outcome]:
    outcome = Outcome(f"hostile corpus ({len(hostile.corpus(stack.dataset))} records)")
    entries = hostile.corpus(stack.dataset)
    hostile.install(stack.dataset, entries)
    try:
        env, batigest = stack.copy()
        for n in range(1, 2 if quick else 3):  # the run with them, and the next one
            run = stack.sync(env)
            outcome.judge(run.code == 0, stack.verdict(batigest), f"run {n}", run)
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
    outcome.judge(held.code == 75 and codes in ([0, 0], [0, 75]), stack.verdict(batigest))
    yield outcome


SCENARIOS = (
    crash_points,
    api_faults,
    database_restarts,
    hostile_corpus,
    concurrency,
    *unfinished.SCENARIOS,
    takeover.old_deployment,
    hand_edits.hand_edits,
)


def run_matrix(
    *,
    quick: bool = False,
    workdir: Path | None = None,
    scenarios: tuple[Callable[[Stack, bool], Iterator[Outcome]], ...] = SCENARIOS,
    stack: Stack | None = None,
) -> list[Outcome]:
    """Every scenario on one stack (a new one unless given; a given one is left open);
    the secrets row checks every output of every run."""
    own = stack is None
    if stack is None:
        stack = Stack(workdir or Path(tempfile.mkdtemp(prefix="batisync-reliability-")))
    leaks_before = len(stack.leaks)
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
        if own:
            stack.close()
    runs = sum(o.runs for o in outcomes) + int(own)  # and the templates' first sync
    leaked = len(stack.leaks) > leaks_before
    secrets = Outcome("secrets never printed (every output, sync_runs)", runs=runs)
    secrets.converged = runs if not leaked else 0
    secrets.notes += ["a secret was printed"] if leaked else []
    return [*outcomes, secrets]


def render(outcomes: list[Outcome], started: datetime | None = None) -> str:
    head = "| fault | runs | converged | lost | wrong | duplicated |"
    lines = [head, "|---|---:|---:|---:|---:|---:|"]
    for o in outcomes:
        note = f" ({'; '.join(o.notes)})" if o.notes else ""
        counts = f"{o.runs} | {o.converged} | {o.lost} | {o.wrong} | {o.duplicated}"
        lines.append(f"| {o.fault}{note} | {counts} |")
    when = (started or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join([*lines, "", f"_make reliability, {when}_"])


def passed(outcomes: list[Outcome]) -> bool:
    return all(
        o.runs > 0 and o.converged == o.runs and not (o.lost or o.wrong or o.duplicated)
        for o in outcomes
        if o.runs or o.notes
    )
