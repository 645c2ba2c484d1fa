"""A whole sync, first and no-change runs, at 20k and 100k slots; and the bare fetch floor.

Each run is `python -m batisync sync --json` in a subprocess, as cron runs it, against
the fake API (served from this process over loopback HTTP), a staging database and the
Batigest stand-in of this session's PostgreSQL. Its wall time and its own peak RSS
(`os.wait4` gives the rusage of that child alone) are measured here; per-stage times come
from the summary's `stage_durations_s`. The floor is the same window fetched from the
same server with plain HTTP calls and JSON decoding, nothing else.

Nothing here asserts a target: the figures go to `bench/report.md` (benchmarks/report.py),
which says which targets this run met. A sync that does not succeed fails the benchmark.
`BENCH_SYNC_SIZES=2000,5000` and `BENCH_NOCHANGE_RUNS=1` make a quick run while working.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import requests

from batisync.loader.window import DEFAULT_CHUNK_DAYS, chunk_window, sliding_window, utc_today
from benchmarks.results import record
from devstack.batigest import create_standin, seed_salaries
from devstack.fake_batisimply import FakeBatiSimply, generate
from devstack.pg import EmbeddedPostgres
from devstack.sync_env import sync_env

SIZES = tuple(int(n) for n in os.environ.get("BENCH_SYNC_SIZES", "20000,100000").split(","))
NOCHANGE_RUNS = int(os.environ.get("BENCH_NOCHANGE_RUNS", "3"))
WINDOW_DAYS = 180
REPO = Path(__file__).resolve().parents[1]
KEY_SIZES = {20_000: "20k", 100_000: "100k"}  # the sizes report.json names


def _sync(env: dict[str, str]) -> dict[str, Any]:
    """One `batisync sync --json` process: wall seconds, its peak RSS, its summary."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        began = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "batisync", "sync", "--json"],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=err,
        )
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - began
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if child.returncode != 0:
        raise AssertionError(f"sync exited {child.returncode}: {stderr[-3000:]}")
    summary = json.loads(stdout)
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # KiB on Linux
        "stages": summary["stage_durations_s"],
        "staging_changed": summary.get("staging_changed"),
        "suivimo": summary.get("suivimo"),
    }


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure over `runs` (stages one by one)."""
    return {
        "seconds": round(statistics.median(r["seconds"] for r in runs), 2),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "stages": {
            stage: round(statistics.median(r["stages"].get(stage, 0.0) for r in runs), 3)
            for stage in runs[0]["stages"]
        },
        "runs": [r["seconds"] for r in runs],
    }


def bare_fetch(api: FakeBatiSimply) -> tuple[float, int]:
    """The window, as the sync asks for it (same chunks), with plain HTTP: (seconds, slots)."""
    began = time.perf_counter()
    session = requests.Session()
    token = session.post(
        api.sso_url,
        data={
            "grant_type": "password",
            "client_id": api.client_id,
            "client_secret": api.client_secret,
            "username": api.username,
            "password": api.password,
        },
        timeout=60,
    ).json()["access_token"]
    session.headers["Authorization"] = f"Bearer {token}"
    slots = 0
    for chunk in chunk_window(sliding_window(WINDOW_DAYS, utc_today()), DEFAULT_CHUNK_DAYS):
        url: str | None = f"{api.api_url}/timeSlotManagement/allUsers"
        params: dict[str, str] | None = chunk.api_params()
        while url:
            response = session.get(url, params=params, timeout=120)
            response.raise_for_status()
            body = orjson.loads(response.content)
            slots += len(body) if isinstance(body, list) else len(body.get("content", []))
            url, params = response.links.get("next", {}).get("url"), None
    return time.perf_counter() - began, slots


def _measure(
    slots: int, new_database: Callable[[str], str], work: Path
) -> tuple[dict[str, Any], tuple[float, int] | None]:
    dataset = generate(n_slots=slots, n_projects=40, days=WINDOW_DAYS, seed=3, today=utc_today())
    staging_url = new_database("bench_sync_staging")
    batigest_url = new_database("bench_sync_batigest")
    engine = create_standin(batigest_url)
    seed_salaries(engine, [(r["Code"], r["Nom"], r["codebs"]) for r in dataset.salarie_rows()])
    engine.dispose()
    work.mkdir()
    with FakeBatiSimply(dataset) as api:
        floor = None
        if slots == max(SIZES):
            fetches = [bare_fetch(api) for _ in range(3)]
            floor = (statistics.median(f[0] for f in fetches), fetches[0][1])
        # dbt's target and dlt's pipelines kept across the runs of one size, as on a host
        env = sync_env(
            staging_url,
            batigest_url,
            work,
            api=api,
            window_days=WINDOW_DAYS,
            HOME=os.environ.get("HOME", str(work)),
        )
        first = _sync(env)
        nochange = [_sync(env) for _ in range(NOCHANGE_RUNS)]
    print(
        f"\nsync {slots:,} slots: first {first['seconds']} s {first['stages']}, "
        f"no-change {[r['seconds'] for r in nochange]} s, peak RSS {first['peak_rss_mb']} MiB"
    )
    size = {"slots": slots, "first": first, "nochange": _median_run(nochange)}
    return size, floor


def test_sync_first_and_no_change(
    benchmark: Any, pg: EmbeddedPostgres, new_database: Callable[[str], str], tmp_path: Path
) -> None:
    sizes: list[dict[str, Any]] = []
    floors: list[tuple[float, int]] = []

    def measure_all() -> None:
        for n in SIZES:
            size, floor = _measure(n, new_database, tmp_path / f"sync_{n}")
            sizes.append(size)
            if floor:
                floors.append(floor)

    benchmark.pedantic(measure_all, rounds=1, iterations=1)

    figures: dict[str, float | None] = {}
    for size in sizes:
        if label := KEY_SIZES.get(size["slots"]):
            figures[f"e2e_first_seconds_{label}"] = size["first"]["seconds"]
            figures[f"e2e_nochange_seconds_{label}"] = size["nochange"]["seconds"]
            if label == "100k":
                figures["peak_rss_mb_100k"] = max(
                    size["first"]["peak_rss_mb"], size["nochange"]["peak_rss_mb"]
                )
    floor_s, floor_slots = floors[0] if floors else (None, None)
    if floor_slots in KEY_SIZES and KEY_SIZES[floor_slots] == "100k":
        figures["bare_fetch_seconds_100k"] = round(floor_s, 2) if floor_s else None
    details = {
        "sizes": sizes,
        "nochange_runs": NOCHANGE_RUNS,
        "bare_fetch_seconds": round(floor_s, 2) if floor_s else None,
        "bare_fetch_slots": floor_slots,
    }
    record("sync", figures, details)
    benchmark.extra_info.update(figures)
