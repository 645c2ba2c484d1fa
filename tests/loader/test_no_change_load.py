"""Issue 19: a load where nothing changed costs its fetch and a compare. It starts no
dlt pipeline and imports no dlt, writes what dlt's load of the same rows would have
(the bookkeeping by our own SQL), and any change of one resource still goes through
dlt and lands."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from batisync.loader import dlt_steps
from batisync.loader.pipeline import LoadReport
from devstack import hostile
from devstack.batigest import create_standin, seed_chantiers, seed_salaries
from devstack.fake_batisimply import MALFORMED_KINDS, Dataset, FakeBatiSimply
from devstack.pg import EmbeddedPostgres
from tests.loader.helpers import TODAY, WINDOW_DAYS, Loader, credentials_for, query, small_dataset

pytestmark = pytest.mark.dataset(factory=small_dataset)

RAW_SCHEMAS = ("raw_batisimply", "raw_batigest")
DLT_IDS = {"_dlt_load_id", "_dlt_id"}
LOAD_TIMES = {"_fetched_at", "last_seen_at", "looked_up_at", "checked_at"}


@pytest.fixture
def pipelines(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the dlt pipelines made from now on (each still made)."""
    made: list[str] = []
    real = dlt_steps.make_pipeline

    def spy(name: str, *args: Any) -> Any:
        made.append(name)
        return real(name, *args)

    monkeypatch.setattr(dlt_steps, "make_pipeline", spy)
    return made


@pytest.fixture
def world(dataset: Dataset, batigest_url: str, load: Loader) -> Callable[..., LoadReport]:
    """Every resource holds rows: Salarie, ChantierDef, a project asked by id, the
    malformed kinds and the hostile corpus in quarantine; one first load done."""
    engine = create_standin(batigest_url)
    seed_salaries(engine, [(r["Code"], r["Nom"], r["codebs"]) for r in dataset.salarie_rows()])
    seed_chantiers(engine, [p.code for p in dataset.projects if p.code])
    engine.dispose()
    dataset.unlist_project(dataset.projects[0].id)  # its slots make a project_lookups row
    for kind in MALFORMED_KINDS:
        dataset.add_malformed(kind)
    hostile.install(dataset, hostile.corpus(dataset))

    def run(**overrides: Any) -> LoadReport:
        return load(**({"batigest_url": batigest_url} | overrides))

    run()
    return run


def test_a_no_change_load_starts_no_dlt_pipeline(
    world: Callable[..., LoadReport], pipelines: list[str], staging_url: str
) -> None:
    report = world()

    assert pipelines == []
    counts = report.resources["time_slots"]
    assert (counts.new, counts.changed, counts.deleted, report.reference_changed) == (0, 0, 0, [])
    at = report.fetched_at
    for table, column in (
        ("raw_batisimply.quarantine", "last_seen_at"),
        ("raw_batisimply.project_lookups", "looked_up_at"),
        ("raw_batigest.chantier_check", "checked_at"),
        ("raw_batisimply.time_slots", "_fetched_at"),
    ):
        assert query(staging_url, f"select distinct {column} from {table}") == [(at,)], table
    # dbt's source freshness reads the projects' and salarie's load id
    for table in ("raw_batisimply.projects", "raw_batigest.salarie"):
        loaded = query(
            staging_url, f"select distinct to_timestamp(_dlt_load_id::float) from {table}"
        )
        assert [abs((t - at).total_seconds()) < 1 for (t,) in loaded] == [True], table


_SUBPROCESS_LOAD = """
import json, sys
from datetime import date
from batisync.loader.api.auth import ApiCredentials
from batisync.loader.pipeline import run_load
from batisync.loader.window import sliding_window
p = json.loads(sys.argv[1])
report = run_load(
    staging_url=p["staging_url"],
    credentials=ApiCredentials(**p["credentials"]),
    window=sliding_window(p["days"], date.fromisoformat(p["today"])),
    chunk_days=31,
    batigest_url=p["batigest_url"],
    pipelines_dir=p["pipelines_dir"],
)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("dlt", "sqlglot"))
slots = report.resources["time_slots"]
print(json.dumps({"changed": slots.new + slots.changed + slots.deleted, "modules": loaded}))
"""


def test_a_no_change_load_imports_no_dlt(
    world: Callable[..., LoadReport],
    api: FakeBatiSimply,
    staging_url: str,
    batigest_url: str,
    tmp_path: Path,
) -> None:
    params = {
        "staging_url": staging_url,
        "credentials": asdict(credentials_for(api)),
        "days": WINDOW_DAYS,
        "today": TODAY.isoformat(),
        "batigest_url": batigest_url,
        "pipelines_dir": str(tmp_path / "dlt"),
    }
    done = subprocess.run(
        [sys.executable, "-c", _SUBPROCESS_LOAD, json.dumps(params)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer == {"changed": 0, "modules": []}


def _raw_tables(url: str) -> list[str]:
    rows = query(
        url,
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_schema = any(:schemas) and table_name not like '\\_dlt\\_%' "
        "and table_name <> 'staging_generation' order by 1",
        schemas=list(RAW_SCHEMAS),
    )
    return [table for (table,) in rows]


def _content(url: str, before: dict[str, set], at: datetime) -> dict[str, Any]:
    """Every raw table's columns and rows: this load's time as "now", a load id as
    "kept" or "new", dlt's row ids left out."""
    content: dict[str, Any] = {}
    for table in _raw_tables(url):
        schema, name = table.split(".")
        columns = [
            c
            for (c,) in query(
                url,
                "select column_name from information_schema.columns "
                "where table_schema = :s and table_name = :t order by 1",
                s=schema,
                t=name,
            )
        ]
        kept = [c for c in columns if c != "_dlt_id"]
        rows = []
        for row in query(url, f"select {', '.join(kept)} from {table}"):
            values = dict(zip(kept, row, strict=True))
            for column in LOAD_TIMES & values.keys():
                values[column] = "now" if values[column] == at else values[column]
            old = values.pop("_dlt_load_id")
            values["_dlt_load_id"] = "kept" if old in before[table] else "new"
            rows.append(repr(sorted(values.items())))
        content[table] = {"columns": columns, "rows": sorted(rows)}
    return content


def _load_ids(url: str) -> dict[str, set]:
    return {
        t: {i for (i,) in query(url, f"select _dlt_load_id from {t}")} for t in _raw_tables(url)
    }


@pytest.fixture
def copy_of(pg: EmbeddedPostgres) -> Iterator[Callable[[str], str]]:
    made: list[str] = []

    def copy(url: str) -> str:
        name = f"{sa.make_url(url).database}_copy"
        made.append(name)
        return pg.create_database(name, replace=True, template=sa.make_url(url).database)

    yield copy
    for name in made:
        pg.drop_database(name)


def test_a_no_change_load_writes_what_dlt_would_have(
    world: Callable[..., LoadReport], staging_url: str, copy_of: Callable[[str], str]
) -> None:
    """The same staging twice (a copy), loaded again with nothing changed: through our
    SQL on one, forced through dlt on the other; the raw tables end up the same."""
    forced_url = copy_of(staging_url)
    before = _load_ids(staging_url)

    ours = world()
    forced = world(staging_url=forced_url, always_dlt=True)

    assert ours.to_dict()["resources"] == forced.to_dict()["resources"]
    assert (ours.changes(), ours.reference_changed) == (forced.changes(), [])
    assert ours.generation == forced.generation  # the copy carried the generation too
    mine = _content(staging_url, before, ours.fetched_at)
    theirs = _content(forced_url, before, forced.fetched_at)
    assert mine.keys() == theirs.keys()
    for table in mine:
        assert mine[table] == theirs[table], table


def _rename_project(dataset: Dataset, url: str) -> Callable[[], bool]:
    record = dataset.project_records[0]
    record["projectName"] = "renamed"
    dataset.touch()
    sql = "select project_name from raw_batisimply.projects where id = :i"
    return lambda: query(url, sql, i=record["id"]) == [("renamed",)]


def _salarie_code(dataset: Dataset, url: str, batigest_url: str) -> Callable[[], bool]:
    code = dataset.salarie_rows()[0]["Code"]
    engine = sa.create_engine(batigest_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text('update dbo."Salarie" set codebs = :b where "Code" = :c'),
            {"b": "x-new-codebs", "c": code},
        )
    engine.dispose()
    sql = "select codebs from raw_batigest.salarie where code = :c"
    return lambda: query(url, sql, c=code) == [("x-new-codebs",)]


def _lookup_answer(dataset: Dataset, url: str) -> Callable[[], bool]:
    project_id = dataset.projects[0].id
    dataset.unlisted_project_records[project_id]["projectCode"] = "LOOKEDUP"
    dataset.touch()
    sql = "select project_code from raw_batisimply.project_lookups where id = :i"
    return lambda: query(url, sql, i=project_id) == [("LOOKEDUP",)]


def _quarantined_again(
    dataset: Dataset, url: str, world: Callable[..., LoadReport], pipelines: list[str]
) -> Callable[[], bool]:
    """A slot gone bad (quarantined by one load) comes back with other bad content."""
    record_id = sorted(dataset.slots, key=int)[0]
    dataset.slots[record_id]["totalTimeMinutes"] = "n/a"
    dataset.touch(record_id)
    world()
    pipelines.clear()
    dataset.slots[record_id]["totalTimeMinutes"] = "still n/a"
    dataset.touch(record_id)
    sql = "select payload from raw_batisimply.quarantine where record_id = :i"
    return lambda: ["still n/a" in p for (p,) in query(url, sql, i=record_id)] == [True]


def _chantier_closed(dataset: Dataset, url: str, batigest_url: str) -> Callable[[], bool]:
    code = next(p.code for p in dataset.projects if p.code)
    engine = sa.create_engine(batigest_url)
    with engine.begin() as conn:
        conn.execute(sa.text('delete from dbo."ChantierDef" where "Code" = :c'), {"c": code})
    engine.dispose()
    sql = "select count(*) from raw_batigest.chantiers where code = :c"
    return lambda: query(url, sql, c=code) == [(0,)]


@pytest.mark.parametrize(
    ("change", "pipeline"),
    [
        ("project renamed", "batisync_batisimply"),
        ("salarie codebs", "batisync_batigest"),
        ("lookup answer", "batisync_batisimply"),
        ("quarantined again", "batisync_batisimply"),
        ("chantier closed", "batisync_batigest"),
    ],
)
def test_a_change_in_one_small_resource_goes_through_dlt(
    world: Callable[..., LoadReport],
    dataset: Dataset,
    staging_url: str,
    batigest_url: str,
    pipelines: list[str],
    change: str,
    pipeline: str,
) -> None:
    landed = {
        "project renamed": lambda: _rename_project(dataset, staging_url),
        "salarie codebs": lambda: _salarie_code(dataset, staging_url, batigest_url),
        "lookup answer": lambda: _lookup_answer(dataset, staging_url),
        "quarantined again": lambda: _quarantined_again(dataset, staging_url, world, pipelines),
        "chantier closed": lambda: _chantier_closed(dataset, staging_url, batigest_url),
    }[change]()

    world()

    assert pipelines == [pipeline]  # only the pipeline with something to write
    assert landed()
    world()  # and the next load, nothing changed again, starts none
    assert pipelines == [pipeline]
