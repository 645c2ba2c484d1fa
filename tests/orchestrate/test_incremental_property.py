"""Issue 19: the incremental transform gives the marts a full refresh gives.

Seeded random rounds of upstream changes (slots moved, edited, deleted, added,
un-validated, moved to another project; a project's code changed; a Salarie's codebs
filled in or cleared; a chantier closed or opened; the window shrunk, leaving history
older than it in staging, and grown back) each go through the real sync
(`sync_from_settings`: fake API → load → incremental dbt → export to the Batigest
stand-in → publish). After each sync the staging database is copied
(`create database … template …`) and the copy rebuilt with `dbt build --full-refresh`:
int_time_slots_resolved, to_push, heures_rejected and batigest_heures must hold the same
rows in both. The original goes on to the next round, so the incremental state is the
one syncs accumulate. Last, `batisync sync --full-refresh` gives the same marts and keeps
batigest_heures (a view on it survives). BATISYNC_INCREMENTAL_ROUNDS makes it longer
(`make reliability`).
"""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from batisync.core.settings import Settings, load_settings
from batisync.orchestrate import wiring
from batisync.orchestrate.sync import sync_from_settings
from batisync.transform.build import TRANSFORM_ARGS, dbt_env
from batisync.transform.dbt_runner import run_dbt
from devstack.batigest import create_standin, seed_chantiers, seed_salaries
from devstack.fake_batisimply import Dataset, FakeBatiSimply
from devstack.sync_env import sync_env

pytestmark = [pytest.mark.slow, pytest.mark.dataset(seed=23)]

ROUNDS = int(os.environ.get("BATISYNC_INCREMENTAL_ROUNDS", "4"))
# relation -> columns left out of the comparison (a clock's value; the adopted serial;
# which run wrote the row, for the data tests: a full refresh writes every row again)
COMPARED = {
    "intermediate.int_time_slots_resolved": ("written_since",),
    "public.to_push": (),
    "public.heures_rejected": ("first_rejected_at",),
    "public.batigest_heures": ("id",),
}
CHANGES = (
    "move",
    "minutes",
    "delete",
    "add",
    "unvalidate",
    "validate",
    "project",
    "project_code",
    "codebs",
    "chantier",
    "window",
)


def rows(url: str) -> dict[str, list[str]]:
    """Each compared relation's rows as sorted JSON texts."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            found = {}
            for relation, skipped in COMPARED.items():
                minus = "".join(f" - '{column}'" for column in skipped)
                query = f"select (to_jsonb(t){minus})::text from {relation} t order by 1"
                found[relation] = [row[0] for row in conn.execute(sa.text(query))]
            return found
    finally:
        engine.dispose()


def copy_database(url: str, name: str) -> str:
    """A copy of the database at `url` (nobody may be connected to it)."""
    source = sa.make_url(url)
    admin = sa.create_engine(source.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database if exists "{name}"'))
            conn.execute(sa.text(f'create database "{name}" template "{source.database}"'))
    finally:
        admin.dispose()
    return source.set(database=name).render_as_string(hide_password=False)


class Upstream:
    """The changes a round makes, drawn from one seeded random source."""

    def __init__(self, rng: random.Random, dataset: Dataset, batigest: sa.Engine) -> None:
        self.rng, self.dataset, self.batigest = rng, dataset, batigest
        self.closed: list[str] = []

    def slot(self) -> str:
        return self.rng.choice(sorted(self.dataset.slots, key=int))

    def apply(self, kind: str, monkeypatch: pytest.MonkeyPatch) -> str:
        rng, data = self.rng, self.dataset
        if kind == "move":
            data.move_slot(slot := self.slot(), rng.choice([-60, 30, 24 * 60]))
        elif kind == "minutes":
            data.change_minutes(slot := self.slot(), rng.randint(15, 600))
        elif kind == "delete":
            data.delete(slot := self.slot())
        elif kind == "add":
            start = datetime.now(UTC) - timedelta(days=rng.randint(1, 18), hours=rng.randint(0, 9))
            employee, project = rng.choice(data.employees), rng.choice(data.projects)
            slot = data.add_slot(employee.id, project.id, start.replace(tzinfo=None), 120)
        elif kind in ("unvalidate", "validate"):
            getattr(data, kind)(slot := self.slot())
        elif kind == "project":
            data.change_project(slot := self.slot(), rng.choice(data.projects).id)
        elif kind == "project_code":
            record = rng.choice(data.project_records)
            record["projectCode"] = rng.choice([None, "ZZ" + str(rng.randint(10, 99))])
            data.touch()
            slot = f"project {record.get('id')} -> {record['projectCode']}"
        elif kind == "codebs":
            employee = rng.choice([e for e in data.employees if e.code])
            codebs = rng.choice([None, employee.id])
            with self.batigest.begin() as conn:
                conn.execute(
                    sa.text('update dbo."Salarie" set codebs = :b where "Code" = :c'),
                    {"b": codebs, "c": employee.code},
                )
            slot = f"Salarie {employee.code} codebs {codebs}"
        elif kind == "chantier":
            slot = self._chantier()
        else:  # the window slides (a shorter one leaves older history in staging) or grows
            days = rng.choice([6, 12, 30])
            monkeypatch.setenv("HEURES_WINDOW_DAYS", str(days))
            slot = f"window {days} days"
        return f"{kind} {slot}"

    def _chantier(self) -> str:
        codes = sorted({p.code for p in self.dataset.projects if p.code})
        with self.batigest.begin() as conn:
            if self.closed and self.rng.random() < 0.5:
                code = self.closed.pop()
                opened = 'insert into dbo."ChantierDef" ("Code") values (:c)'
                conn.execute(sa.text(opened), {"c": code})
                return f"chantier {code} opened"
            code = self.rng.choice(codes)
            conn.execute(sa.text('delete from dbo."ChantierDef" where "Code" = :c'), {"c": code})
            self.closed.append(code)
            return f"chantier {code} closed"


def full_refresh(settings: Settings, url: str) -> None:
    """The transform of a sync, rebuilt from staging (`--full-refresh`), on `url`; and
    batigest_heures (never dropped by --full-refresh) dropped and built afresh."""
    target = sa.make_url(url)
    env: dict[str, Any] = {**dbt_env(settings), **wiring.batigest_env(settings)}
    env["PGDATABASE"] = str(target.database)
    env |= wiring.incremental_env(settings)  # the same dbt project version
    result = run_dbt([*TRANSFORM_ARGS, "--full-refresh"], env=env)
    assert result.success, result.summary()
    rebuild_batigest_heures(url, env)


def rebuild_batigest_heures(url: str, env: dict[str, Any]) -> None:
    """batigest_heures built from nothing (no table, no recorded map digest) on `url`."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("drop table public.batigest_heures cascade"))
            conn.execute(sa.text("drop table if exists public.batigest_heures_map_digest"))
    finally:
        engine.dispose()
    result = run_dbt(["run", "--select", "batigest_heures"], env=env)
    assert result.success, result.summary()


def test_incremental_marts_equal_a_full_refresh(
    api: FakeBatiSimply,
    staging_url: str,
    batigest_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env / credentials.json of the repository
    for name, value in sync_env(staging_url, batigest_url, tmp_path, api=api).items():
        monkeypatch.setenv(name, value)
    batigest = create_standin(batigest_url)
    salaries = api.dataset.salarie_rows()
    # one employee without codebs yet: a round may fill it in (their slots get pushable)
    rows_ = [(r["Code"], r["Nom"], r["codebs"] if i else None) for i, r in enumerate(salaries)]
    seed_salaries(batigest, rows_)
    seed_chantiers(batigest, sorted({p.code for p in api.dataset.projects if p.code}))
    upstream = Upstream(random.Random(19), api.dataset, batigest)

    history = []
    for round_no in range(ROUNDS + 1):
        if round_no:  # round 0: the first sync
            kinds = upstream.rng.choices(CHANGES, k=upstream.rng.randint(1, 4))
            history.append([upstream.apply(kind, monkeypatch) for kind in kinds])
        settings = load_settings()
        summary = sync_from_settings(settings)
        assert summary.status == "success", (history, summary.error)
        # heures_rejected was built before the export: again, on the map the export left
        result = run_dbt(
            ["run", "--select", "heures_rejected"],
            env={**dbt_env(settings), **wiring.batigest_env(settings)},
        )
        assert result.success, result.summary()
        incremental = rows(staging_url)
        copy = copy_database(staging_url, f"{sa.make_url(staging_url).database}_full")
        full_refresh(settings, copy)
        rebuilt = rows(copy)
        for relation in COMPARED:
            assert incremental[relation] == rebuilt[relation], (relation, history)
        assert incremental["intermediate.int_time_slots_resolved"]  # not two empty sets

    # `batisync sync --full-refresh`: rebuilt, the same marts; batigest_heures is not
    # dropped, so a view someone built on it survives
    staging = sa.create_engine(staging_url)
    with staging.begin() as conn:
        conn.execute(sa.text("create view public.my_hours as select * from public.batigest_heures"))
    before = rows(staging_url)
    summary = sync_from_settings(load_settings(), full_refresh=True)
    assert summary.status == "success", summary.error
    assert {s.name: s.status for s in summary.stages}["transform"] == "ok"  # not skipped
    assert rows(staging_url) == before
    with staging.connect() as conn:
        assert conn.execute(sa.text("select count(*) from public.my_hours")).scalar_one() > 0
    staging.dispose()
    batigest.dispose()


def test_batigest_heures_follows_the_map_edited_between_syncs(
    api: FakeBatiSimply,
    staging_url: str,
    batigest_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """batigest_heures is incremental in its inputs: a sync compares only the slots whose
    resolved row it wrote or whose map row moved since the last build (the map digest's
    buckets). A map row deleted or changed outside the export (a retract, a repair, a
    hand edit) must still reach `sync`: the next publish equals a build from nothing."""
    monkeypatch.chdir(tmp_path)
    for name, value in sync_env(staging_url, batigest_url, tmp_path, api=api).items():
        monkeypatch.setenv(name, value)
    batigest = create_standin(batigest_url)
    seed_salaries(
        batigest, [(r["Code"], r["Nom"], r["codebs"]) for r in api.dataset.salarie_rows()]
    )
    seed_chantiers(batigest, sorted({p.code for p in api.dataset.projects if p.code}))
    settings = load_settings()
    assert sync_from_settings(settings).status == "success"

    staging = sa.create_engine(staging_url)
    with staging.begin() as conn:
        synced = (
            conn.execute(
                sa.text("select id_heure from public.batigest_heures where sync order by 1 limit 2")
            )
            .scalars()
            .all()
        )
        assert len(synced) == 2
        conn.execute(
            sa.text("delete from public.batigest_heures_map where id_heure = :i"), {"i": synced[0]}
        )
        conn.execute(
            sa.text(
                "update public.batigest_heures_map set values_hash = 'edited' where id_heure = :i"
            ),
            {"i": synced[1]},
        )
    env: dict[str, Any] = {**dbt_env(settings), **wiring.batigest_env(settings)}
    env |= wiring.incremental_env(settings)  # as the sync's publish: the since, read
    result = run_dbt(["run", "--select", "batigest_heures"], env=env)
    assert result.success, result.summary()
    compiled = Path(tmp_path).rglob("batigest_heures.sql")
    assert any("moved_map_buckets" in f.read_text() for f in compiled if "compiled" in f.parts)
    with staging.connect() as conn:
        flags = dict(
            conn.execute(
                sa.text(
                    "select id_heure, sync from public.batigest_heures where id_heure = any(:ids)"
                ),
                {"ids": synced},
            ).all()
        )
    assert flags == {synced[0]: False, synced[1]: False}

    staging.dispose()  # nobody connected: the copy below
    incremental = rows(staging_url)["public.batigest_heures"]
    copy = copy_database(staging_url, f"{sa.make_url(staging_url).database}_fresh")
    rebuild_batigest_heures(copy, {**env, "PGDATABASE": sa.make_url(copy).database})
    assert rows(copy)["public.batigest_heures"] == incremental
    batigest.dispose()
