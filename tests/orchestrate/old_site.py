"""A site switching from the old connector (issue 17): its staging database as the old
connector left it (`devstack/old_deployment.py`), a sync role that owns it and is no
superuser (as docs/OPERATIONS.md "4. The staging PostgreSQL" sets one up), an analyst role, and
`batisync sync` run as a process against the fake API and the Batigest stand-in."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

from devstack.batigest import seed_salaries
from devstack.fake_batisimply import Dataset, FakeBatiSimply
from devstack.old_deployment import OldHeure, old_heure, write_old_deployment
from devstack.sync_env import sync_env
from devstack.verify import healthy_keys
from tests.orchestrate.helpers import conninfo_of

WINDOW_DAYS = 30
SEED_QUERY = (
    "select id_heure from public.batigest_heures where status_management = 'VALIDATED' and not sync"
)
SUIVIMO = 'select "CodeChantier", "CodeSalarie", "Date", "NbH0", "NbH3", "NbH4" from dbo."SuiviMO"'


@dataclass
class OldSite:
    api: FakeBatiSimply
    staging_url: str  # as the cluster's superuser
    batigest: sa.Engine
    sync_role: str
    analyst: str
    other: str  # a third role (owns a view in a refusal case)
    env: dict[str, str]
    # rows of the old table the new loader never loads (ids), and which of them the
    # seed's query keeps listing (VALIDATED and not sync)
    not_loaded: set[str] = field(default_factory=set)
    not_loaded_listed: set[str] = field(default_factory=set)
    # SuiviMO rows the old connector pushed for slots never loaded again: left alone
    kept_suivimo: list[tuple] = field(default_factory=list)

    @property
    def dataset(self) -> Dataset:
        return self.api.dataset

    def connect(self, role: str | None = None) -> psycopg.Connection[Any]:
        """A connection as `role` (the superuser when None), autocommit."""
        info = conninfo_of(self.staging_url) | ({"user": role} if role else {})
        return psycopg.connect(**info, autocommit=True)

    def rows(self, sql: str, role: str | None = None) -> list[tuple]:
        with self.connect(role) as conn:
            return [tuple(r) for r in conn.execute(sql).fetchall()]  # type: ignore[arg-type]

    def sync(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "batisync", "sync", "--json"],
            env=self.env, cwd=self.env["DBT_TARGET_PATH"].rsplit("/", 1)[0],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip

    def suivimo(self) -> list[tuple]:
        with self.batigest.connect() as conn:
            return sorted(tuple(r) for r in conn.execute(sa.text(SUIVIMO)))

    def expected_suivimo(self) -> list[tuple]:
        """Every healthy slot's row with the values the slot says, plus the rows the old
        connector pushed for slots batisync never loads."""
        data, rows = self.dataset, list(self.kept_suivimo)
        assert data.today is not None
        for slot_id, key in healthy_keys(data, data.today, WINDOW_DAYS).items():
            slot = data.slots[slot_id]
            if slot["totalTimeMinutes"] > 1440:  # too_many_minutes
                continue
            rows.append(
                (*key, hours(Decimal(slot["totalTimeMinutes"])),
                 int(slot["hasHomeToWorkJourney"]), int(slot["hasPackedLunch"]))
            )  # fmt: skip
        return sorted(rows)

    def ids(self) -> dict[str, int]:
        return dict(self.rows("select id_heure, id from public.batigest_heures"))  # type: ignore[arg-type]


def hours(minutes: Decimal) -> Decimal:
    return (minutes / 60).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)


def summary_of(run: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    return json.loads(run.stdout)


def dba_sql(error: str) -> str:
    """The script a refused adoption prints for a DBA (from `begin;` to `commit;`)."""
    found = re.search(r"^begin;$.*^commit;$", error, re.S | re.M)
    assert found, error
    return found.group(0)


def _create_roles(staging_url: str) -> tuple[str, str, str]:
    suffix = uuid.uuid4().hex[:8]
    names = (f"bs_sync_{suffix}", f"bs_analyst_{suffix}", f"bs_other_{suffix}")
    database = sa.make_url(staging_url).database
    with psycopg.connect(**conninfo_of(staging_url), autocommit=True) as conn:
        for name in names:
            conn.execute(f"create role {name} login")  # type: ignore[arg-type]
        conn.execute(f'alter database "{database}" owner to {names[0]}')  # type: ignore[arg-type]
    return names


def _local(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None, second=0, microsecond=0)


def build_old_site(
    api: FakeBatiSimply, staging_url: str, batigest_url: str, tmp_path: Path
) -> OldSite:
    """The old connector's staging database and SuiviMO, then slots entered after the
    switch that its table cannot hold; nothing of batisync has run yet."""
    data = api.dataset
    assert data.today is not None
    sync_role, analyst, other = _create_roles(staging_url)
    batigest = sa.create_engine(batigest_url)
    seed_salaries(batigest, [(r["Code"], r["Nom"], r["codebs"]) for r in data.salarie_rows()])
    salarie = {r["codebs"]: r["Code"] for r in data.salarie_rows()}
    healthy = sorted(healthy_keys(data, data.today, WINDOW_DAYS))
    moved, changed = healthy[len(healthy) // 3], healthy[len(healthy) // 2]
    old = {slot_id: old_heure(data, slot_id) for slot_id in data.slots}
    # before the switch the old connector saw `moved` an hour earlier, `changed` shorter
    old[moved] = _shift(old[moved], timedelta(hours=-1))
    old[changed] = _replace_minutes(old[changed], old[changed].total_heure - 30)
    pushed = {moved, changed, *healthy[::2]}

    # rows batisync never loads: outside the window, or deleted upstream before the switch
    employee = next(e for e in data.employees if e.code is not None)
    project = next(p for p in data.projects if p.code is not None)
    far = datetime.combine(data.today - timedelta(days=200), time(5, 3), tzinfo=UTC)
    near = datetime.combine(data.today - timedelta(days=5), time(5, 7), tzinfo=UTC)
    gone = {
        "900001": (far, "VALIDATED", True),
        "900002": (far + timedelta(hours=1), "VALIDATED", False),
        "900003": (far + timedelta(hours=2), "TO_VALIDATE", False),
        "900004": (near, "VALIDATED", True),
        "900005": (near + timedelta(hours=1), "VALIDATED", False),
    }
    for slot_id, (start, status, _) in gone.items():
        old[slot_id] = OldHeure(
            slot_id, _local(start), _local(start + timedelta(minutes=90)), employee.id,
            project.id, status, Decimal("90.00"), False, True, project.code,
        )  # fmt: skip
    pushed |= {i for i, (_, _, was_pushed) in gone.items() if was_pushed}
    with psycopg.connect(**conninfo_of(staging_url) | {"user": sync_role}) as conn:
        keys = write_old_deployment(conn, batigest, old.values(), salarie, pushed=pushed)
    kept = [
        (*keys[i], hours(old[i].total_heure), int(old[i].trajet), int(old[i].panier))
        for i in sorted(gone)
        if i in keys
    ]
    _add_slots_after_the_switch(data, employee.id, project.id)
    # the sync runs as the old connector's role, which owns the old table
    env = sync_env(
        staging_url, batigest_url, tmp_path, api=api, window_days=WINDOW_DAYS, PGUSER=sync_role
    )
    return OldSite(
        api, staging_url, batigest, sync_role, analyst, other, env,
        not_loaded=set(gone), not_loaded_listed={"900002", "900005"}, kept_suivimo=kept,
    )  # fmt: skip


def _shift(row: OldHeure, by: timedelta) -> OldHeure:
    return OldHeure(
        **{**row.__dict__, "date_debut": row.date_debut + by, "date_fin": row.date_fin + by}
    )


def _replace_minutes(row: OldHeure, minutes: Decimal) -> OldHeure:
    return OldHeure(**{**row.__dict__, "total_heure": minutes})


def _add_slots_after_the_switch(data: Dataset, user_id: str, project_id: int) -> dict[str, str]:
    """Slots the old table cannot hold: 1,200 minutes (numeric(5,2)), 5,000 minutes
    (rejected, kept in batigest_heures), a user id that is no UUID, a bigint project."""
    assert data.today is not None
    base = datetime.combine(data.today - timedelta(days=2), time(4, 11), tzinfo=UTC)
    return {
        "long": data.add_slot(user_id, project_id, base, 1200),
        "too_long": data.add_slot(user_id, project_id, base + timedelta(minutes=1), 5000),
        "not_uuid": data.add_slot("external-user-7", project_id, base, 60),
        "bigint": data.add_slot(user_id, 3_000_000_000, base + timedelta(minutes=2), 60),
    }


__all__ = [
    "SEED_QUERY",
    "WINDOW_DAYS",
    "OldSite",
    "build_old_site",
    "dba_sql",
    "summary_of",
]
