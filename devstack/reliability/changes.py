"""What the fake API serves differently after the templates' first sync: the work every
faulty run of the matrix has to do."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from devstack import hostile
from devstack.fake_batisimply import Dataset, parse_utc
from devstack.verify import healthy_slots

WINDOW_DAYS = 30


def every_kind(ds: Dataset) -> None:
    """A few changes of each kind the exporter handles (the small world's)."""
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


def move_and_edit(
    ds: Dataset, n: int, rng: random.Random, today: date, window_days: int
) -> list[str]:
    """`n` moves (by a few minutes, each to a key no other slot holds) and `n` value edits
    (minutes, journey, lunch) of healthy slots of the window; returns the ids changed."""
    healthy = sorted(healthy_slots(ds, today, window_days), key=int)
    # (user, UTC minute) of every slot: a free one is a free SuiviMO key
    taken = {(s["user"]["id"], s["startDate"][:16]) for s in ds.slots.values()}
    picked = rng.sample(healthy, 2 * n)
    for slot_id in picked[:n]:
        slot = ds.slots[slot_id]
        start = parse_utc(slot["startDate"])
        assert start is not None
        for minutes in (7, -7, 11, -11, 13, -13, 17, -17, 19, -19):
            moved = (slot["user"]["id"], (start + timedelta(minutes=minutes)).isoformat()[:16])
            if moved not in taken:
                break
        taken.discard((slot["user"]["id"], slot["startDate"][:16]))
        taken.add(moved)
        ds.move_slot(slot_id, minutes)
    for i, slot_id in enumerate(picked[n:]):
        slot = ds.slots[slot_id]
        if i % 3 == 0:
            ds.change_minutes(slot_id, int(slot["totalTimeMinutes"]) + 15)
        elif i % 3 == 1:
            ds.set_flags(slot_id, home_to_work=not slot.get("hasHomeToWorkJourney"))
        else:
            ds.set_flags(slot_id, packed_lunch=not slot.get("hasPackedLunch"))
    return picked


def many(ds: Dataset, n: int = 100, seed: int = 17) -> None:
    """`n` moves, `n` value edits (minutes, journey, lunch) and `n` new slots, each on a
    key no other slot holds (the large world's: a few hundred over a few thousand)."""
    rng = random.Random(seed)
    move_and_edit(ds, n, rng, date.today(), WINDOW_DAYS)
    users = sorted(e.id for e in ds.employees if e.code is not None)
    projects = sorted(p.id for p in ds.projects if p.code is not None)
    evening = datetime.combine(date.today(), datetime.min.time(), UTC) + timedelta(hours=18)
    for i in range(n):  # 18:00 UTC + i minutes, where the generator puts nothing
        start = evening - timedelta(days=rng.randrange(1, WINDOW_DAYS - 5)) + timedelta(minutes=i)
        ds.add_slot(
            rng.choice(users),
            rng.choice(projects),
            start,
            rng.choice((30, 60, 90, 120)),
            packed_lunch=rng.random() < 0.5,
            home_to_work=rng.random() < 0.5,
        )


__all__ = ["WINDOW_DAYS", "every_kind", "many", "move_and_edit"]
