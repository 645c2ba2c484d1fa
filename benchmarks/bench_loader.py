"""Loader speed and memory: 100,000 slots from the fake API into raw_batisimply.

Target (issue 3): at most 30 s and 500 MB peak RSS on a 2-core machine. The load runs
in a fresh child process (spawn) so that its peak RSS is its own: interpreter, dlt,
SQLAlchemy and the data, as `batisync load` would see it. The fake API serves from
this process.
"""

from __future__ import annotations

import multiprocessing
import resource
import tempfile
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from benchmarks.results import record
from devstack.fake_batisimply import FakeBatiSimply, generate

N_SLOTS = 100_000
MAX_SECONDS = 30.0
MAX_RSS_MB = 500.0
TODAY = date(2026, 6, 30)


def _load_in_child(kwargs: dict[str, Any], out: Any) -> None:
    from batisync.loader.api.auth import ApiCredentials
    from batisync.loader.pipeline import run_load
    from batisync.loader.window import sliding_window

    began = time.perf_counter()
    report = run_load(
        staging_url=kwargs["staging_url"],
        credentials=ApiCredentials(**kwargs["credentials"]),
        window=sliding_window(180, TODAY),
        pipelines_dir=kwargs["pipelines_dir"],
    )
    seconds = time.perf_counter() - began
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    out.send({"seconds": seconds, "peak_mb": peak_mb, "report": report.to_dict()})


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


def test_load_100k_slots(benchmark: Any, new_database: Callable[[str], str]) -> None:
    dataset = generate(n_slots=N_SLOTS, n_projects=40, days=180, seed=3, today=TODAY)
    assert len(dataset.slots) == N_SLOTS
    staging_url = new_database("bench_loader")
    results: list[dict[str, Any]] = []
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
        benchmark.pedantic(lambda: results.append(_run_child(kwargs)), rounds=1, iterations=1)

    result = results[0]
    engine = sa.create_engine(staging_url)
    with engine.connect() as conn:
        loaded = conn.execute(sa.text("select count(*) from raw_batisimply.time_slots")).scalar()
    engine.dispose()
    benchmark.extra_info.update(
        {"load_seconds": round(result["seconds"], 2), "peak_rss_mb": round(result["peak_mb"], 1)}
    )
    record("loader", {}, dict(benchmark.extra_info) | {"slots": N_SLOTS})
    print(
        f"\nloader: {N_SLOTS} slots in {result['seconds']:.1f} s, "
        f"peak RSS {result['peak_mb']:.0f} MB"
    )
    assert loaded == N_SLOTS
    assert result["report"]["resources"]["time_slots"]["new"] == N_SLOTS
    assert result["seconds"] <= MAX_SECONDS, f"took {result['seconds']:.1f} s"
    assert result["peak_mb"] <= MAX_RSS_MB, f"peak RSS {result['peak_mb']:.0f} MB"


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "-s", "--benchmark-only"])
