"""SuiviMO rows changed by hand (issue 17): the seed promises the connector restores
them from PostgreSQL's state, and a person's move must stand.

After a sync, some mapped rows are deleted in SuiviMO, others get other NbH0 and NbH3,
and one is moved to another time of the same day (same CodeChantier and CodeSalarie,
so an unmapped row that looks moved by hand). Then a sync with nothing new upstream
must exit 0, restore the deleted and edited rows, report the moved one `moved_by_hand`
and leave it where the person put it, with no second row at its old key.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import sqlalchemy as sa

from devstack.reliability.stack import Outcome, Stack
from devstack.verify import Expectation, Key, suivimo_rows

WHERE_KEY = '"CodeChantier" = :c and "CodeSalarie" = :s and "Date" = :d'


def _params(key: Key) -> dict[str, object]:
    return {"c": key[0], "s": key[1], "d": key[2]}


def _free_minute(key: Key, used: set[tuple[str, datetime]]) -> Key:
    """The key moved to a minute of the same day its Salarie holds no row at."""
    for minutes in (17, -17, 23, -23, 29, -29, 37, -37):
        date = key[2] + timedelta(minutes=minutes)
        if date.date() == key[2].date() and (key[1], date) not in used:
            return (key[0], key[1], date)
    raise RuntimeError(f"no free minute near {key}")


def plan(
    expected: dict[str, Expectation], used: set[tuple[str, datetime]], n: int
) -> tuple[str, Key, list[str], list[str]]:
    """(moved id, its new key, ids to delete, ids to edit): the deleted and edited rows
    are of other Salarie-days than the moved one, so none can pass for its move."""
    ids = sorted(expected, key=int)
    moved = ids[len(ids) // 2]
    day = (expected[moved].key[1], expected[moved].key[2].date())
    others = [i for i in ids if (expected[i].key[1], expected[i].key[2].date()) != day]
    step = max(1, len(others) // (2 * n))
    chosen = others[::step][: 2 * n]
    return moved, _free_minute(expected[moved].key, used), chosen[:n], chosen[n:]


def hand_edits(stack: Stack, quick: bool) -> Iterator[Outcome]:
    world = stack if quick else stack.large()
    outcome = Outcome("SuiviMO rows deleted, edited and moved by hand, then a sync")
    env, batigest = world.copy()
    if (first := world.sync(env)).code != 0:
        outcome.notes.append(f"first sync exit {first.code}")
    if not (before := world.verdict(batigest)).converged:
        outcome.notes.append(f"first sync: {before.lost} lost, {before.wrong} wrong")
    expected = world.expected()
    used = {(key[1], key[2]) for key, _ in suivimo_rows(batigest)}
    used |= {(e.key[1], e.key[2]) for e in expected.values()}
    moved, new_key, deleted, edited = plan(expected, used, 1 if quick else 10)
    engine = sa.create_engine(batigest)
    try:
        with engine.begin() as conn:
            for slot_id in deleted:
                conn.execute(
                    sa.text(f'delete from dbo."SuiviMO" where {WHERE_KEY}'),
                    _params(expected[slot_id].key),
                )
            for slot_id in edited:
                conn.execute(
                    sa.text(
                        'update dbo."SuiviMO" set "NbH0" = "NbH0" + 1, "NbH3" = 1 - "NbH3" '
                        f"where {WHERE_KEY}"
                    ),
                    _params(expected[slot_id].key),
                )
            conn.execute(
                sa.text(f'update dbo."SuiviMO" set "Date" = :new where {WHERE_KEY}'),
                {**_params(expected[moved].key), "new": new_key[2]},
            )
    finally:
        engine.dispose()
    old_key = expected[moved].key
    expected[moved] = Expectation(new_key, expected[moved].values)  # the person's move stands
    run = world.sync(env)
    reported = "moved_by_hand" in run.stdout
    if not reported:
        outcome.notes.append(f"slot {moved} moved by hand: not reported moved_by_hand")
    found = world.verdict(batigest, expected, previous={moved: old_key})
    outcome.judge(run.code == 0 and reported, found, "the sync after", run)
    world.check_history(env)
    yield outcome


__all__ = ["hand_edits", "plan"]
