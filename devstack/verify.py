"""What a sync must have achieved, from the fake API's dataset alone (an independent
oracle, simpler than the property test's): every healthy slot in SuiviMO exactly once.

A healthy slot is VALIDATED, of an employee with a `Salarie`, on a project with a code,
inside the window, and alone on its SuiviMO key (two slots on one key are rejected
`key_collision` by design). `lost` counts healthy slots whose row is missing from
SuiviMO; `duplicated` counts SuiviMO keys holding more than one row.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from devstack.fake_batisimply import Dataset

Key = tuple[str, str, datetime]


@dataclass(frozen=True)
class Verdict:
    expected: int
    lost: int
    duplicated: int
    missing_ids: tuple[str, ...] = ()

    @property
    def converged(self) -> bool:
        return self.lost == 0 and self.duplicated == 0


def _local_minute(value: str, tz: ZoneInfo) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0)


def healthy_keys(
    dataset: Dataset, today: date, window_days: int, tz: str = "Europe/Paris"
) -> dict[str, Key]:
    """id → SuiviMO key of every healthy slot of the dataset (see the module doc)."""
    zone, first = ZoneInfo(tz), today - timedelta(days=window_days)
    codes = {p.id: p.code for p in dataset.projects}
    keys: dict[str, Key] = {}
    for slot_id, slot in dataset.slots.items():
        employee = dataset.employee(slot["user"]["id"])
        code = codes.get(slot["project"]["id"])
        if slot.get("managementStatus") != "VALIDATED" or employee is None or not code:
            continue
        if employee.code is None or slot["startDate"][:10] < first.isoformat():
            continue
        keys[slot_id] = (code, employee.code, _local_minute(slot["startDate"], zone))
    shared = Counter(keys.values())
    return {i: k for i, k in keys.items() if shared[k] == 1}


def suivimo_keys(batigest_url: str, schema: str = "dbo") -> Counter[Key]:
    engine = sa.create_engine(batigest_url)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                f'select "CodeChantier", "CodeSalarie", "Date" from {schema}."SuiviMO"'
            ).all()
    finally:
        engine.dispose()
    return Counter((r[0], r[1], r[2]) for r in rows)


def verdict(expected: dict[str, Key], batigest_url: str) -> Verdict:
    rows = suivimo_keys(batigest_url)
    missing = tuple(sorted(i for i, key in expected.items() if rows[key] == 0))
    duplicated = sum(1 for n in rows.values() if n > 1)
    return Verdict(len(expected), len(missing), duplicated, missing)


def staging_rows(staging_url: str, sql: str, **params: Any) -> list[tuple]:
    engine = sa.create_engine(staging_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


__all__ = ["Verdict", "healthy_keys", "staging_rows", "suivimo_keys", "verdict"]
