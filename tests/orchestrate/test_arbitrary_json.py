"""Issue 12, property: whatever JSON the API sends next to healthy slots, the loader, the
dbt models and the exporter complete, and every healthy slot is in SuiviMO once.

Arbitrary JSON values (hypothesis) and healthy slots with arbitrary values in their
fields are served by the fake API (real HTTP on loopback) in every time slot answer.
As in `test_sync_property.py`, dbt builds the marts as views once, in a template
database; each example loads and exports on its own copy, so the models compute live.
"""

from __future__ import annotations

import copy
import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batisync.export import ExportOptions, run_export
from batisync.loader.pipeline import run_load
from batisync.loader.window import days_window
from batisync.transform.dbt_runner import run_dbt
from devstack import hostile
from devstack.batigest import create_standin, seed_salaries
from devstack.fake_batisimply import Dataset, FakeBatiSimply, generate
from devstack.pg import EmbeddedPostgres
from devstack.sync_env import work_env
from devstack.verify import healthy_keys, verdict
from tests.loader.helpers import FAST_RETRY, credentials_for

pytestmark = pytest.mark.slow

TODAY = date(2026, 3, 10)
WINDOW = days_window(TODAY - timedelta(days=12), TODAY)
_names = itertools.count()

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "9999-12-31T23:30:00Z",
            "0001-01-01T00:00:00Z",
            "2026-03-05T08:00:00Z",
            "2026-03-05T07:00:00+02:00",
            "VALIDATED",
            "validated",
            "x" * 5000,
            "a\x00b",
            1e300,
            10**12,
            -1,
        ]
    )
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = [
    "id",
    "startDate",
    "endDate",
    "totalTimeMinutes",
    "managementStatus",
    "user",
    "project",
    "hasPackedLunch",
    "hasHomeToWorkJourney",
    "comment",
    "anything",
]


@st.composite
def mutated_slots(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """A healthy slot (on a night minute of its own) with some fields replaced."""
    record = copy.deepcopy(base)
    minute = draw(st.integers(min_value=0, max_value=119))
    start = f"{base['startDate'][:10]}T{1 + minute // 60:02d}:{minute % 60:02d}:00Z"
    record |= {"id": 800_000 + draw(st.integers(0, 10**6)), "startDate": start, "endDate": start}
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=4, unique=True)):
        record[name] = draw(json_values)
    return record


@dataclass(frozen=True)
class Template:
    dataset: Dataset
    api: FakeBatiSimply
    staging: str
    batigest: str
    workdir: Path


@pytest.fixture(scope="module")
def template(pg: EmbeddedPostgres) -> Iterator[Template]:
    workdir = Path(tempfile.mkdtemp(prefix="arbitrary-json-"))
    dataset = generate(n_employees=3, n_projects=3, days=10, seed=8, today=TODAY)
    staging, batigest = f"aj_staging_{os.getpid()}", f"aj_batigest_{os.getpid()}"
    standin = create_standin(pg.create_database(batigest, replace=True))
    seed_salaries(standin, [(r["Code"], r["Nom"], r["codebs"]) for r in dataset.salarie_rows()])
    standin.dispose()
    pg.create_database(staging, replace=True)
    with FakeBatiSimply(dataset) as api:
        _load(api, pg.url(staging), pg.url(batigest), workdir / "dlt-template")
        built = run_dbt(
            ["build", "--vars", "{marts_materialized: view}", "--exclude", "test_type:unit"],
            env={**pg.env(staging), **work_env(workdir)},
        )
        assert built.success, built.summary()
        _export(pg.url(staging), pg.url(batigest))
        yield Template(dataset, api, staging, batigest, workdir)
    pg.drop_database(staging)
    pg.drop_database(batigest)
    shutil.rmtree(workdir, ignore_errors=True)


def _load(api: FakeBatiSimply, staging_url: str, batigest_url: str, dlt_dir: Path) -> Any:
    return run_load(
        staging_url=staging_url,
        batigest_url=batigest_url,
        credentials=credentials_for(api),
        window=WINDOW,
        chunk_days=31,
        pipelines_dir=dlt_dir,
        retry=FAST_RETRY,
    )


def _export(staging_url: str, batigest_url: str) -> Any:
    staging, batigest = sa.create_engine(staging_url), sa.create_engine(batigest_url)
    try:
        options = ExportOptions(on_gone="delete", retract_max_share=1.0)
        return run_export(staging, batigest, options)
    finally:
        staging.dispose()
        batigest.dispose()


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_arbitrary_json_never_stops_a_run(
    template: Template, pg: EmbeddedPostgres, data: st.DataObject
) -> None:
    base = hostile.template(template.dataset)
    records = data.draw(
        st.lists(json_values | mutated_slots(base), min_size=1, max_size=12), label="records"
    )
    n = next(_names)
    staging = pg.create_database(f"aj_s_{os.getpid()}_{n}", template=template.staging)
    batigest = pg.create_database(f"aj_b_{os.getpid()}_{n}", template=template.batigest)
    with template.dataset._lock:
        template.dataset.served_always[:] = records
        template.dataset.touch()
    try:
        for run in range(2):  # the run with them, and the next one
            load = _load(template.api, staging, batigest, template.workdir / f"dlt-{n}")
            counts = load.resources["time_slots"]
            assert counts.fetched >= len(records), run
            _export(staging, batigest)
            expected = healthy_keys(template.dataset, TODAY, 30)
            found = verdict(expected, batigest)
            assert len(expected) > 10 and found.converged, found
    finally:
        template.dataset.served_always.clear()
        template.dataset.touch()
        pg.drop_database(sa.make_url(staging).database or "")
        pg.drop_database(sa.make_url(batigest).database or "")
