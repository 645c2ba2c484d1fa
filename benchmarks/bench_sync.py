"""A whole sync as a site runs it, at 20k and 100k slots: first, no-change and changed runs.

Each run is `python -m batisync sync --json` in a subprocess, as cron runs it, against
the fake API (served from this process over loopback HTTP), a staging database and the
Batigest stand-in of this session's PostgreSQL (`benchmarks/processes.py`). Per size,
on one staging database and one SuiviMO, in this order:

1. the bare fetch of the 180-day window (plain HTTP and JSON decoding, median of 3);
2. **first**: the first sync, empty staging and SuiviMO, 180-day window;
3. **backfill** (`HEURES_WINDOW_DAYS=360`) and **window back** (180 again): the site's
   older history, 180 days before the window, lands in staging, the map and SuiviMO, as
   on a site that has run for a year; the fake API serves it only when asked for those
   dates (`generate(history_days=...)`);
4. **no-change**: nothing changed upstream (median of 3); the drift check runs in each
   (checked: a no-change run without its drift stage fails the benchmark);
5. at the smallest size only, the floors of a run's path (`benchmarks/floors.py`): one
   more no-change sync and, after a `batisync load`, a whole one (every stage), each
   under `python -X importtime`; then a fresh interpreter importing what each imported
   (`startup_floor_s`: the whole run's, `startup_floor_nochange_s`), and a sync refused
   by the sync lock;
6. **transform forced**: `batisync load` (nothing new), then a sync: it must transform
   (the staging generation moved) with nothing changed. Its transform stage at 100k is
   `dbt_floor_s`, dbt on an empty change;
7. **changed**: before each run, 50 slots moved by a few minutes and 50 edited
   (minutes, journey, lunch) in the fake API's dataset (median of 3);
8. the oracle (`devstack/verify.py`): every healthy slot of the window and of the
   history in SuiviMO exactly once, at its current key, with its current values, and no
   row left at a moved slot's old key. A sync that fails or a SuiviMO that does not
   converge fails the benchmark.

Nothing here asserts a target: the figures go to `bench/report.md` (benchmarks/report.py),
which says which targets this run met. Quick run while working: `BENCH_SYNC_SIZES=2000`
(`BENCH_NOCHANGE_RUNS`, `BENCH_CHANGED_RUNS`, `BENCH_HISTORY_DAYS` default to 3, 3, 180).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from batisync.loader.window import utc_today
from benchmarks.floors import median_bare_fetch, run_path_floors
from benchmarks.processes import batisync, median_run, sync
from benchmarks.results import record
from devstack.batigest import create_standin, seed_salaries
from devstack.fake_batisimply import FakeBatiSimply, generate
from devstack.pg import EmbeddedPostgres
from devstack.reliability.changes import move_and_edit
from devstack.sync_env import sync_env
from devstack.verify import healthy_keys, healthy_slots, verdict

SIZES = tuple(int(n) for n in os.environ.get("BENCH_SYNC_SIZES", "20000,100000").split(","))
NOCHANGE_RUNS = int(os.environ.get("BENCH_NOCHANGE_RUNS", "3"))
CHANGED_RUNS = int(os.environ.get("BENCH_CHANGED_RUNS", "3"))
HISTORY_DAYS = int(os.environ.get("BENCH_HISTORY_DAYS", "180"))
WINDOW_DAYS = 180
CHANGED_SLOTS = 100  # per changed run: half moved, half edited
KEY_SIZES = {20_000: "20k", 100_000: "100k"}  # the sizes report.json names
WINDOW_RUNS = ("first", "window_back", "nochange", "transform_forced", "changed")


class World:
    """One size's fake API, staging database and SuiviMO, and the environment of a sync."""

    def __init__(self, slots: int, new_database: Callable[[str], str], work: Path) -> None:
        self.today = utc_today()
        self.dataset = generate(
            n_slots=slots,
            n_projects=40,
            days=WINDOW_DAYS,
            seed=3,
            today=self.today,
            history_days=HISTORY_DAYS,
        )
        self.staging_url = new_database("bench_sync_staging")
        self.batigest_url = new_database("bench_sync_batigest")
        engine = create_standin(self.batigest_url)
        rows = self.dataset.salarie_rows()
        seed_salaries(engine, [(r["Code"], r["Nom"], r["codebs"]) for r in rows])
        engine.dispose()
        self.slots = slots
        self.work = work
        work.mkdir(parents=True)

    def env(self, api: FakeBatiSimply, window_days: int = WINDOW_DAYS) -> dict[str, str]:
        # dbt's target and dlt's pipelines kept across the runs of one size, as on a host
        return sync_env(
            self.staging_url,
            self.batigest_url,
            self.work,
            api=api,
            window_days=window_days,
            HOME=os.environ.get("HOME", str(self.work)),
        )


def _measure(world: World, smallest: bool) -> dict[str, Any]:
    runs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    with FakeBatiSimply(world.dataset) as api:
        bare_s, bare_slots = median_bare_fetch(api, WINDOW_DAYS, world.today)
        env = world.env(api)
        runs["first"] = sync(env)
        if HISTORY_DAYS:
            runs["backfill"] = sync(world.env(api, WINDOW_DAYS + HISTORY_DAYS))
            runs["window_back"] = sync(env)
        nochange = [sync(env) for _ in range(NOCHANGE_RUNS)]
        assert all("drift" in r["ran"] for r in nochange), "a no-change run without its drift"
        runs["nochange"] = median_run(nochange)
        if smallest:
            extra["floors"] = run_path_floors(env, world.staging_url)
        batisync(["load", "--json"], env)  # moves the staging generation, changes nothing
        runs["transform_forced"] = sync(env)
        total_days = WINDOW_DAYS + HISTORY_DAYS
        before = healthy_keys(world.dataset, world.today, total_days)
        rng, changed_ids, changed = random.Random(29), set(), []
        for _ in range(CHANGED_RUNS):
            ids = move_and_edit(world.dataset, CHANGED_SLOTS // 2, rng, world.today, WINDOW_DAYS)
            changed_ids.update(ids)
            changed.append(sync(env))
        if changed:
            runs["changed"] = median_run(changed)
    expected = healthy_slots(world.dataset, world.today, total_days)
    previous = {i: before[i] for i in changed_ids if i in before}
    found = verdict(expected, world.batigest_url, previous=previous)
    assert found.converged, f"SuiviMO did not converge: {found}"
    print(
        f"\nsync {bare_slots:,} slots: "
        + ", ".join(f"{kind} {run['seconds']} s" for kind, run in runs.items())
        + f"; bare fetch {bare_s:.2f} s"
    )
    return {
        "slots": world.slots,
        "fetched_slots": bare_slots,
        "history_slots": len(world.dataset.slots) - bare_slots,
        "bare_fetch_s": round(bare_s, 2),
        "runs": runs,
        "suivimo_expected": found.expected,
        **extra,
    }


def figures_of(sizes: list[dict[str, Any]]) -> dict[str, float | None]:
    """The report.json keys these sizes give (only the sizes report.json names)."""
    figures: dict[str, float | None] = {}
    for size in sizes:
        if "floors" in size:
            floors = size["floors"]
            figures["startup_floor_s"] = floors["whole"]["floor"]["seconds"]
            figures["startup_floor_nochange_s"] = floors["nochange"]["floor"]["seconds"]
        label = KEY_SIZES.get(size["slots"])
        if label is None:
            continue
        runs = size["runs"]
        figures[f"bare_fetch_seconds_{label}"] = size["bare_fetch_s"]
        for kind in ("first", "nochange", "changed"):
            if kind in runs:
                figures[f"e2e_{kind}_seconds_{label}"] = runs[kind]["seconds"]
        figures[f"peak_rss_mb_{label}"] = max(
            runs[kind]["peak_rss_mb"] for kind in WINDOW_RUNS if kind in runs
        )
        if label == "100k":
            figures["dbt_floor_s"] = runs["transform_forced"]["stages"].get("transform")
    return figures


def test_sync_runs(
    benchmark: Any, pg: EmbeddedPostgres, new_database: Callable[[str], str], tmp_path: Path
) -> None:
    sizes: list[dict[str, Any]] = []

    def measure_all() -> None:
        for n in SIZES:
            world = World(n, new_database, tmp_path / f"sync_{n}")
            sizes.append(_measure(world, smallest=n == min(SIZES)))

    benchmark.pedantic(measure_all, rounds=1, iterations=1)
    figures = figures_of(sizes)
    details = {
        "sizes": sizes,
        "window_days": WINDOW_DAYS,
        "history_days": HISTORY_DAYS,
        "changed_slots": CHANGED_SLOTS,
        "nochange_runs": NOCHANGE_RUNS,
        "changed_runs": CHANGED_RUNS,
        "seconds": round(benchmark.stats.stats.max, 1),
    }
    record("sync", figures, details)
    benchmark.extra_info.update(figures)
