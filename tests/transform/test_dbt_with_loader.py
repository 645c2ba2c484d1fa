"""End to end up to the marts: fake BatiSimply API → loader → `dbt build`.

dbt runs first on the empty database (no raw table yet: its staging views read the
missing sources as empty), then the loader creates and fills the raw tables and dbt
builds again on them. Expected marts are computed here from the generated dataset,
with zoneinfo for local times.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from batisync.loader.pipeline import run_load
from batisync.loader.window import sliding_window
from devstack.batigest import seed_salaries
from devstack.fake_batisimply import Dataset, FakeBatiSimply
from devstack.pg import EmbeddedPostgres
from devstack.sync_env import work_env
from tests.loader.helpers import FAST_RETRY, credentials_for
from tests.transform.helpers import Staging, simulate_export

PARIS = ZoneInfo("Europe/Paris")
TODAY = datetime.now(UTC).date()
pytestmark = [pytest.mark.slow, pytest.mark.dataset(seed=5, today=TODAY)]
BUILD = ("build", "--exclude", "test_type:unit")  # the unit tests run in test_dbt_project


def local_minute(api_date: str) -> datetime:
    utc = datetime.fromisoformat(api_date.replace("Z", "+00:00"))
    return utc.astimezone(PARIS).replace(second=0, microsecond=0, tzinfo=None)


def expected_marts(ds: Dataset) -> tuple[dict[str, tuple[Any, ...]], dict[str, str]]:
    """(to_push rows by id as (chantier, salarié, date, nb_h0, nb_h3, nb_h4), rejected
    reasons by id) for a first export of the dataset."""
    keyed: dict[str, tuple[Any, ...]] = {}
    rejected: dict[str, str] = {}
    for slot in ds.validated_slots():
        slot_id = str(slot["id"])
        employee = ds.employee(slot["user"]["id"])
        project = ds.project(slot["project"]["id"])
        if project is None or project.code is None:
            rejected[slot_id] = "no_project_code"
        elif employee is None or employee.code is None:
            rejected[slot_id] = "unknown_salarie"
        else:
            keyed[slot_id] = (
                project.code,
                employee.code,
                local_minute(slot["startDate"]),
                (Decimal(slot["totalTimeMinutes"]) / 60).quantize(Decimal("0.000001")),
                int(bool(slot.get("hasHomeToWorkJourney"))),
                int(bool(slot.get("hasPackedLunch"))),
            )
    holders = Counter(values[:3] for values in keyed.values())
    for slot_id, values in list(keyed.items()):
        if holders[values[:3]] > 1:
            rejected[slot_id] = "key_collision"
            del keyed[slot_id]
    return keyed, rejected


def test_loader_then_dbt_build_and_an_export_cycle(
    api: FakeBatiSimply, pg: EmbeddedPostgres, staging_url: str, batigest_url: str, tmp_path: Path
) -> None:
    ds = api.dataset
    engine = sa.create_engine(batigest_url)
    seed_salaries(engine, [(e.code, e.nom, e.id) for e in ds.employees if e.code])
    engine.dispose()
    # one VALIDATED slot of a known employee on the project without projectCode
    coded = next(e for e in ds.employees if e.code)
    uncoded = next(p for p in ds.projects if p.code is None)
    start = datetime.combine(TODAY - timedelta(days=2), time(9, 0), UTC)
    ds.add_slot(coded.id, uncoded.id, start, 60)
    bad = ds.add_malformed("bad_start_date")
    staging = Staging(
        staging_url,
        {**pg.env(sa.make_url(staging_url).database), **work_env(tmp_path)},
    )

    def load() -> None:
        run_load(
            staging_url=staging_url,
            credentials=credentials_for(api),
            window=sliding_window(30, TODAY),
            batigest_url=batigest_url,
            pipelines_dir=tmp_path / "dlt",
            retry=FAST_RETRY,
        )

    first = staging.dbt(*BUILD)  # empty database: dbt creates what it reads
    assert first.success, first.summary()
    load()
    result = staging.dbt(*BUILD)
    assert result.success, result.summary()

    keyed, rejected = expected_marts(ds)
    rejected[str(bad["id"])] = "bad_record"
    assert (
        keyed and "no_project_code" in rejected.values() and "unknown_salarie" in rejected.values()
    )
    to_push = staging.rows(
        "select id_heure, code_chantier, code_salarie, date_sqlserver, nb_h0, nb_h3, nb_h4, "
        "change_type from public.to_push"
    )
    assert {r["id_heure"]: tuple(r.values())[1:7] for r in to_push} == keyed
    assert {r["change_type"] for r in to_push} == {"new"}
    got_rejected = staging.rows("select id_heure, reason from public.heures_rejected")
    assert {r["id_heure"]: r["reason"] for r in got_rejected} == rejected

    # an export applied to_push: the next build has nothing left to push
    simulate_export(staging)
    result = staging.dbt(*BUILD)
    assert result.success, result.summary()
    assert staging.rows("select id_heure from public.to_push") == []

    # upstream moves one pushed slot, un-validates one, deletes one
    moved, unvalidated, deleted = sorted(keyed)[:3]
    ds.move_slot(moved, 60)
    ds.unvalidate(unvalidated)
    ds.delete(deleted)
    load()
    result = staging.dbt(*BUILD)
    assert result.success, result.summary()
    to_push = staging.rows("select * from public.to_push")
    assert [(r["id_heure"], r["change_type"]) for r in to_push] == [(moved, "key_changed")]
    assert to_push[0]["old_date_sqlserver"] == keyed[moved][2]
    assert to_push[0]["date_sqlserver"] == local_minute(ds.slots[moved]["startDate"])
    gone = staging.rows("select id_heure, reason from public.heures_gone order by reason")
    assert [(r["id_heure"], r["reason"]) for r in gone] == [
        (deleted, "deleted_upstream"),
        (unvalidated, "unvalidated"),
    ]
