"""Loader speed and memory: a first, a no-change and a changed load of 20,000 and
100,000 slots from the fake API into raw_batisimply.

Each load runs in a fresh child process (spawn) so that its peak RSS (`VmHWM`, the
kernel's high-water mark of that process's memory) is its own: interpreter, libraries
and the data, as `batisync load` would see it. The fake API serves from this process. The
changed load follows 100 slots moved or edited upstream. A child also says whether
dlt's pipeline (its normaliser) was imported at all.

Issue 19's target: peak RSS at 100,000 slots at most 1.3 x the one at 20,000, and at
most 365 MiB. Nothing here fails on a figure (benchmarks report): the figures go to
`bench/report.md`; a load that fails, or loads the wrong rows, fails the benchmark.
`BENCH_LOADER_SIZES=2000,5000` makes a quick run while working.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from benchmarks.processes import vm_hwm_kib
from benchmarks.results import record
from devstack.fake_batisimply import Dataset, FakeBatiSimply, generate

SIZES = tuple(int(n) for n in os.environ.get("BENCH_LOADER_SIZES", "20000,100000").split(","))
WINDOW_DAYS = 180
CHANGED_SLOTS = 100
TODAY = date(2026, 6, 30)
MAX_RSS_RATIO = 1.3
MAX_RSS_MB = 365.0


def _own_peak_rss_mb() -> float:
    """This process's own peak RSS (`processes.vm_hwm_kib`: not `ru_maxrss`, which Linux
    carries over an exec from the benchmark that holds the dataset and the fake API)."""
    kib = vm_hwm_kib(os.getpid())
    if kib is None:
        raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")
    return kib / 1024


def _load_in_child(kwargs: dict[str, Any], out: Any) -> None:
    from batisync.loader.api.auth import ApiCredentials
    from batisync.loader.pipeline import run_load
    from batisync.loader.window import sliding_window

    began = time.perf_counter()
    report = run_load(
        staging_url=kwargs["staging_url"],
        credentials=ApiCredentials(**kwargs["credentials"]),
        window=sliding_window(WINDOW_DAYS, TODAY),
        pipelines_dir=kwargs["pipelines_dir"],
    )
    seconds = time.perf_counter() - began
    peak_mb = _own_peak_rss_mb()
    out.send(
        {
            "seconds": round(seconds, 2),
            "peak_rss_mb": round(peak_mb, 1),
            "slots": report.to_dict()["resources"]["time_slots"],
            "dlt_pipeline_imported": "dlt.normalize" in sys.modules,
        }
    )


def _run_child(kwargs: dict[str, Any]) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_load_in_child, args=(kwargs, sender))
    child.start()
    sender.close()
    result = receiver.recv()
    child.join(timeout=60)
    assert child.exitcode == 0
    return result


def _change(dataset: Dataset) -> None:
    """Half the slots moved by an hour, half with other minutes: what a working day does."""
    ids = sorted(dataset.slots, key=int)[-CHANGED_SLOTS * 3 :: 3]
    for n, slot_id in enumerate(ids):
        if n % 2:
            dataset.move_slot(slot_id, 60)
        else:
            dataset.change_minutes(slot_id, 123)


def _measure(slots: int, new_database: Callable[[str], str]) -> dict[str, Any]:
    dataset = generate(n_slots=slots, n_projects=40, days=WINDOW_DAYS, seed=3, today=TODAY)
    staging_url = new_database("bench_loader")
    with FakeBatiSimply(dataset) as api, tempfile.TemporaryDirectory() as workdir:
        kwargs = {
            "staging_url": staging_url,
            "pipelines_dir": workdir,
            "credentials": {
                "api_url": api.api_url,
                "sso_url": api.sso_url,
                "client_id": api.client_id,
                "client_secret": api.client_secret,
                "username": api.username,
                "password": api.password,
            },
        }
        first = _run_child(kwargs)
        nochange = _run_child(kwargs)
        _change(dataset)
        changed = _run_child(kwargs)
    engine = sa.create_engine(staging_url)
    with engine.connect() as conn:
        loaded = conn.execute(sa.text("select count(*) from raw_batisimply.time_slots")).scalar()
    engine.dispose()
    assert loaded == slots
    assert first["slots"]["new"] == slots
    assert nochange["slots"]["unchanged"] == slots
    assert changed["slots"]["changed"] == CHANGED_SLOTS
    runs = {"first": first, "nochange": nochange, "changed": changed}
    print(
        f"\nloader {slots:,} slots: "
        + ", ".join(
            f"{name} {r['seconds']} s {r['peak_rss_mb']:.0f} MiB"
            f"{' (dlt pipeline imported)' if r['dlt_pipeline_imported'] else ''}"
            for name, r in runs.items()
        )
    )
    return {"slots": slots, **runs}


def test_load_first_nochange_changed(benchmark: Any, new_database: Callable[[str], str]) -> None:
    sizes: list[dict[str, Any]] = []
    benchmark.pedantic(
        lambda: sizes.extend(_measure(n, new_database) for n in SIZES), rounds=1, iterations=1
    )
    by_size = {size["slots"]: size for size in sizes}
    peaks = {
        n: max(run["peak_rss_mb"] for key, run in size.items() if key != "slots")
        for n, size in by_size.items()
    }
    details: dict[str, Any] = {"sizes": sizes, "peak_rss_mb": peaks}
    if 20_000 in peaks and 100_000 in peaks:
        ratio = peaks[100_000] / peaks[20_000]
        details["peak_rss_ratio_100k_20k"] = round(ratio, 3)
        details["rss_target_met"] = ratio <= MAX_RSS_RATIO and peaks[100_000] <= MAX_RSS_MB
        print(
            f"loader peak RSS 100k / 20k = {ratio:.2f} (target <= {MAX_RSS_RATIO}), "
            f"100k {peaks[100_000]:.0f} MiB (target <= {MAX_RSS_MB:.0f})"
        )
    figures = {
        f"loader_{run}_seconds_{n // 1000}k": by_size[n][run]["seconds"]
        for n in by_size
        for run in ("first", "nochange", "changed")
    }
    record("loader", figures, details)
    benchmark.extra_info.update(figures)


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "-s", "--benchmark-only"])
