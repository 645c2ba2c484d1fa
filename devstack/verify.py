"""What a sync must have achieved, from the fake API's dataset alone (an independent
oracle, simpler than the property test's): every healthy slot in SuiviMO exactly once,
at its current key, with its current values.

A healthy slot is VALIDATED, of an employee with a `Salarie`, on a project with a code,
inside the window, and alone on its SuiviMO key (two slots on one key are rejected
`key_collision` by design). Its expectation is its key (CodeChantier, CodeSalarie,
local Date to the minute) and its values: NbH0 = minutes / 60 (6 decimals), NbH3 = the
home-to-work journey, NbH4 = the packed lunch.

The verdict counts, per slot: `lost` (no row at its key), `wrong` (a row at its key with
other values, or its row still at an old key, or a row that should have been retracted
still there), and per key `duplicated` (SuiviMO keys holding more than one row).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from devstack.fake_batisimply import Dataset

Key = tuple[str, str, datetime]
Values = tuple[Decimal, Decimal, Decimal]  # NbH0, NbH3, NbH4
Row = tuple[Key, Values]
TOLERANCE = Decimal("0.000001")  # NbH0 is rounded to 6 decimals


@dataclass(frozen=True)
class Expectation:
    """What SuiviMO must hold for one slot."""

    key: Key
    values: Values

    def matches(self, found: Values) -> bool:
        return all(
            f is not None and abs(Decimal(f) - e) <= TOLERANCE
            for f, e in zip(found, self.values, strict=True)
        )


@dataclass(frozen=True)
class Verdict:
    expected: int
    lost: int
    duplicated: int
    missing_ids: tuple[str, ...] = ()
    wrong: int = 0
    wrong_ids: tuple[str, ...] = ()

    @property
    def converged(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.wrong == 0


def _local_minute(value: str, tz: ZoneInfo) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0)


def healthy_slots(
    dataset: Dataset, today: date, window_days: int, tz: str = "Europe/Paris"
) -> dict[str, Expectation]:
    """id → key and values of every healthy slot of the dataset (see the module doc)."""
    zone, first = ZoneInfo(tz), today - timedelta(days=window_days)
    codes = {p.id: p.code for p in dataset.projects}
    employees = {e.id: e for e in dataset.employees}  # a dict: large worlds (the bench)
    found: dict[str, Expectation] = {}
    for slot_id, slot in dataset.slots.items():
        employee = employees.get(slot["user"]["id"])
        code = codes.get(slot["project"]["id"])
        if slot.get("managementStatus") != "VALIDATED" or employee is None or not code:
            continue
        if employee.code is None or slot["startDate"][:10] < first.isoformat():
            continue
        key = (code, employee.code, _local_minute(slot["startDate"], zone))
        hours = round(Decimal(str(slot["totalTimeMinutes"])) / 60, 6)
        flags = (
            Decimal(bool(slot.get("hasHomeToWorkJourney"))),
            Decimal(bool(slot.get("hasPackedLunch"))),
        )
        found[slot_id] = Expectation(key, (hours, *flags))
    shared = Counter(e.key for e in found.values())
    return {i: e for i, e in found.items() if shared[e.key] == 1}


def healthy_keys(
    dataset: Dataset, today: date, window_days: int, tz: str = "Europe/Paris"
) -> dict[str, Key]:
    """id → SuiviMO key of every healthy slot of the dataset (see the module doc)."""
    return {i: e.key for i, e in healthy_slots(dataset, today, window_days, tz).items()}


def suivimo_rows(batigest_url: str, schema: str = "dbo") -> list[Row]:
    engine = sa.create_engine(batigest_url)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                'select "CodeChantier", "CodeSalarie", "Date", "NbH0", "NbH3", "NbH4" '
                f'from {schema}."SuiviMO"'
            ).all()
    finally:
        engine.dispose()
    return [((r[0], r[1], r[2]), (r[3], r[4], r[5])) for r in rows]


def suivimo_keys(batigest_url: str, schema: str = "dbo") -> Counter[Key]:
    return Counter(key for key, _ in suivimo_rows(batigest_url, schema))


def judge(
    expected: Mapping[str, Expectation | Key],
    rows: Iterable[Row],
    *,
    previous: Mapping[str, Key] | None = None,
    retracted: Mapping[str, Key] | None = None,
) -> Verdict:
    """The verdict on SuiviMO's `rows` (pure). `expected`: each slot's expectation (a bare
    key checks presence only); `previous`: keys slots held before (a row left there is
    `wrong`); `retracted`: keys whose row must be gone (one still there is `wrong`). An
    old key that another slot now expects is that slot's, not a leftover."""
    counts: Counter[Key] = Counter()
    values: defaultdict[Key, list[Values]] = defaultdict(list)
    for key, found in rows:
        counts[key] += 1
        values[key].append(found)
    keys = {e.key if isinstance(e, Expectation) else e: i for i, e in expected.items()}
    previous, retracted = previous or {}, retracted or {}

    def left_at(key: Key | None) -> bool:
        return key is not None and counts[key] > 0 and key not in keys

    lost, wrong = [], []
    for slot_id, want in expected.items():
        key = want.key if isinstance(want, Expectation) else want
        stale = left_at(previous.get(slot_id))
        if not counts[key]:
            (wrong if stale else lost).append(slot_id)
        elif stale or (
            isinstance(want, Expectation) and not any(want.matches(v) for v in values[key])
        ):
            wrong.append(slot_id)
    wrong += [slot_id for slot_id, key in retracted.items() if left_at(key)]
    duplicated = sum(1 for n in counts.values() if n > 1)
    return Verdict(
        len(expected), len(lost), duplicated, tuple(sorted(lost)), len(wrong), tuple(sorted(wrong))
    )


def verdict(
    expected: Mapping[str, Expectation | Key],
    batigest_url: str,
    *,
    previous: Mapping[str, Key] | None = None,
    retracted: Mapping[str, Key] | None = None,
) -> Verdict:
    """`judge` on the SuiviMO of the database at `batigest_url`."""
    rows = suivimo_rows(batigest_url)
    return judge(expected, rows, previous=previous, retracted=retracted)


def staging_rows(staging_url: str, sql: str, **params: Any) -> list[tuple]:
    engine = sa.create_engine(staging_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


__all__ = [
    "Expectation",
    "Verdict",
    "healthy_keys",
    "healthy_slots",
    "judge",
    "staging_rows",
    "suivimo_keys",
    "suivimo_rows",
    "verdict",
]
