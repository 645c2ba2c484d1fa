"""Work a run leaves unfinished after its load (issue 17): the next run, with nothing
new upstream, must still transform and export it.

Each fault loads the world's changes (a few hundred over a few thousand slots) and
stops before they reach SuiviMO: a sync stopped (SIGTERM, SIGKILL) at the start of its
transform, after some of its models committed, or just before its export;
`batisync load` alone; a dbt data test failing on planted bad data, then the data
fixed; the cluster restarted once the load committed. Then a sync with nothing new
upstream, and the oracle. Under `HEURES_ON_GONE=delete`: a run killed while it
retracts 400 rows, and slots deleted upstream whose retraction waits for a second
complete fetch that finds nothing else new.
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa

from devstack.batigest import seed_chantiers
from devstack.reliability.stack import Outcome, Run, Stack
from devstack.verify import Key

# where the transform is stopped: its start, once dbt reports the node NODE done (the
# staging and intermediate models up to int_time_slots_resolved committed, to_push not
# rebuilt), just before the export
NODE = "int_time_slots_resolved"
POINTS = ("before:transform", f"node:{NODE}", "before:export")
# where the cluster restarts: once the loader fetched the slots (dlt loads them next),
# as the transform builds int_time_slots_resolved (dbt prints it with --verbose)
RESTARTS = {
    "load": "batisync.loader.source: time slots",
    "transform": "START sql table model intermediate.int_time_slots_resolved",
}
RETRACTED = 400  # slots un-validated upstream, their rows retracted by a killed run


def _world(stack: Stack, quick: bool) -> Stack:
    return stack if quick else stack.large()


def _stopped(run: Run, signal: str) -> str | None:
    """Why `run` was not the interrupted run wanted, or None."""
    if signal == "sigkill":
        return None if run.code == -9 else f"not killed (exit {run.code})"
    status = run.summary.get("status")
    if run.code == 1 and status == "interrupted":
        return None
    return f"not interrupted (exit {run.code}, {status})"


def killed_after_load(stack: Stack, quick: bool) -> Iterator[Outcome]:
    world = _world(stack, quick)
    for signal in ("sigterm", "sigkill"):
        outcome = Outcome(f"{signal.upper()} after the load, then nothing new upstream")
        for point in POINTS[:1] if quick else POINTS:
            env, batigest = world.copy()
            if problem := _stopped(world.sync(env, f"{signal}/{point}"), signal):
                outcome.notes.append(f"{point}: {problem}")
            world.settle(env, batigest, outcome, what=point)
        yield outcome


def load_alone(stack: Stack, quick: bool) -> Iterator[Outcome]:
    world = _world(stack, quick)
    outcome = Outcome("`batisync load` alone, then a sync")
    env, batigest = world.copy()
    load = world.command(env, "load", "--json")
    if load.code != 0:
        outcome.notes.append(f"load exit {load.code}")
    world.settle(env, batigest, outcome)
    yield outcome


def failing_dbt_test(stack: Stack, quick: bool) -> Iterator[Outcome]:
    """Batigest's ChantierDef holds one code twice (`X` and `x`): the unique test on
    `stg_batigest__chantiers` fails, so does the run, before its export; then the
    duplicate is deleted in Batigest (the loader does not count ChantierDef changes)."""
    world = _world(stack, quick)
    outcome = Outcome("a dbt test failing on planted data, the data fixed, then a sync")
    env, batigest = world.copy()
    codes = sorted({p.code for p in world.dataset.projects if p.code})
    twin = next(code.lower() for code in codes if code.lower() != code)
    engine = sa.create_engine(batigest)
    try:
        seed_chantiers(engine, [*codes, twin])
        failed = world.sync(env)
        stage = next((s for s in failed.summary.get("stages", []) if s["status"] == "failed"), {})
        if failed.code != 1 or stage.get("name") != "transform":
            outcome.notes.append(f"planted run: exit {failed.code}, failed {stage.get('name')}")
        with engine.begin() as conn:
            conn.execute(sa.text('delete from dbo."ChantierDef" where "Code" = :c'), {"c": twin})
    finally:
        engine.dispose()
    world.settle(env, batigest, outcome)
    yield outcome


def restart_during_load_or_transform(stack: Stack, quick: bool) -> Iterator[Outcome]:
    """The cluster restarts during the load or the transform; then a healthy run."""
    if quick:
        return
    world = stack.large()
    outcome = Outcome("database restart during the load or the transform, then a healthy run")
    for where, marker in RESTARTS.items():
        env, batigest = world.copy()
        run = world.restart_during(env, marker)
        if run.code == 0:
            outcome.notes.append(f"{where}: the run completed anyway")
        world.settle(env, batigest, outcome, what=where)
    yield outcome


def _delete_policy(env: dict[str, str]) -> dict[str, str]:
    # every gone row may go in one run (the share guard is tested elsewhere)
    return {**env, "HEURES_ON_GONE": "delete", "HEURES_RETRACT_MAX_SHARE": "1"}


def killed_while_retracting(stack: Stack, quick: bool) -> Iterator[Outcome]:
    """Synced, then RETRACTED slots un-validated upstream: a run killed after its first
    retraction batches, then a run with nothing new upstream."""
    if quick:
        return
    world = stack.large()
    outcome = Outcome(f"SIGKILL while retracting {RETRACTED} rows (HEURES_ON_GONE=delete)")
    env, batigest = world.copy()
    env = _delete_policy(env)
    if (first := world.sync(env)).code != 0:
        outcome.notes.append(f"first run exit {first.code}")
    expected = world.expected()
    ids = sorted(expected, key=int)[:RETRACTED]
    retracted: dict[str, Key] = {i: expected[i].key for i in ids}
    for slot_id in ids:
        world.dataset.unvalidate(slot_id)
    try:
        killed = world.sync(env, "retract:2")
        if killed.code != -9:
            outcome.notes.append(f"not killed (exit {killed.code})")
        world.settle(env, batigest, outcome, retracted=retracted)
    finally:
        for slot_id in ids:
            world.dataset.validate(slot_id)
    yield outcome


def deleted_then_confirmed(stack: Stack, quick: bool) -> Iterator[Outcome]:
    """Synced, then three slots deleted upstream (HEURES_ON_GONE=delete): the next run
    marks them, the one after confirms them gone and must retract their rows."""
    if quick:
        return
    world = stack.large()
    outcome = Outcome("3 slots deleted upstream, retracted after a second fetch (delete)")
    env, batigest = world.copy()
    env = _delete_policy(env)
    if (first := world.sync(env)).code != 0:
        outcome.notes.append(f"first run exit {first.code}")
    expected = world.expected()
    ids = sorted(expected, key=int)[-3:]
    retracted: dict[str, Key] = {i: expected[i].key for i in ids}
    saved = {i: world.dataset.delete(i) for i in ids}
    try:
        marked = world.sync(env)  # marks them deleted: retraction waits for a second fetch
        if marked.code != 0:
            outcome.notes.append(f"marking run exit {marked.code}")
        world.settle(env, batigest, outcome, retracted=retracted)
    finally:
        for slot_id, slot in saved.items():
            world.dataset.slots[slot_id] = slot
            world.dataset.touch(slot_id)
    yield outcome


SCENARIOS = (
    killed_after_load,
    load_alone,
    failing_dbt_test,
    restart_during_load_or_transform,
    killed_while_retracting,
    deleted_then_confirmed,
)

__all__ = [
    "SCENARIOS",
    "deleted_then_confirmed",
    "failing_dbt_test",
    "killed_after_load",
    "killed_while_retracting",
    "load_alone",
    "restart_during_load_or_transform",
]
