"""`bench/report.json` and `bench/report.md` from recorded results: every key present,
null when no benchmark of the run measured it, the worst of several, the verdicts, and a
page that pastes under a level-2 heading of docs/EVIDENCE.md."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.report import assemble, write_report
from benchmarks.report_md import render
from benchmarks.results import record, reset
from benchmarks.targets import KEYS

BOX = {"nproc": 2, "cpu": "test CPU", "python": "3.11", "system": "Linux"}
WHEN = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def run(seconds: float, rss: float, **stages: float) -> dict:
    return {"seconds": seconds, "peak_rss_mb": rss, "stages": stages, "ran": list(stages)}


def sync_details() -> dict:
    runs = {
        "first": run(40.0, 300.0, load=10.0, transform=20.0, export=8.0, publish=2.0),
        "backfill": run(80.0, 500.0, load=20.0),
        "nochange": run(3.0, 150.0, load=2.5, transform=0.0, drift=0.5)
        | {"runs": [3.0, 3.1, 2.9], "ran": ["load", "drift"]},  # a skipped stage: 0 s
        "changed": run(8.0, 280.0, load=3.0, transform=4.0, drift=0.5),
    }
    size = {"slots": 100_000, "fetched_slots": 100_000, "bare_fetch_s": 2.0, "runs": runs}
    floor = {"seconds": 0.9, "runs_s": [0.9] * 5, "modules": 40, "failed": []}
    size["floors"] = {
        "lock": {"lock_refused_s": 0.5, "lock_refused_runs_s": [0.5] * 5, "interpreter_s": 0.02},
        "nochange": {
            "run_s": 3.0,
            "ran": ["load", "drift"],
            "imports_s": 0.8,
            "by_package_s": {"dlt": 0.2},
            "floor": floor,
        },
        "whole": {
            "run_s": 9.0,
            "ran": ["load", "transform", "export", "publish", "drift"],
            "imports_s": 3.1,
            "by_package_s": {"dbt": 2.0, "dlt": 0.6},
            "floor": floor | {"seconds": 3.5, "failed": ["x: ImportError"]},
        },
    }
    return {
        "sizes": [size],
        "window_days": 180,
        "history_days": 180,
        "changed_slots": 100,
        "nochange_runs": 3,
        "changed_runs": 3,
    }


def test_assemble_keeps_every_key_the_worst_of_several_and_nothing_else() -> None:
    figures = assemble(
        {
            "drivers_a": {"figures": {"batigest_roundtrips_per_1000": 6.2}},
            "drivers_b": {"figures": {"batigest_roundtrips_per_1000": 7.9}},
            "other": {"figures": {"not_a_key": 1, "startup_floor_s": None}},
        }
    )
    assert list(figures) == [*KEYS, "not_a_key"]  # a benchmark's own key comes last
    assert figures["batigest_roundtrips_per_1000"] == 7.9
    assert figures["startup_floor_s"] is None and figures["not_a_key"] == 1


def test_assemble_computes_the_ratios_from_this_runs_figures_only() -> None:
    figures = assemble(
        {
            "sync": {
                "figures": {
                    "peak_rss_mb_20k": 250.0,
                    "peak_rss_mb_100k": 325.0,
                    "e2e_changed_seconds_100k": 9.0,
                    "bare_fetch_seconds_100k": 2.0,
                    "e2e_first_seconds_20k": 30.0,
                }
            }
        }
    )
    assert figures["peak_rss_ratio_100k_20k"] == 1.3
    assert figures["e2e_changed_x_bare_fetch_100k"] == 4.5
    assert figures["e2e_first_x_bare_fetch_20k"] is None  # no bare fetch at 20k
    assert figures["e2e_nochange_x_bare_fetch_100k"] is None


def test_the_page_states_each_target_and_says_not_measured() -> None:
    figures = dict.fromkeys(KEYS) | {
        "e2e_changed_seconds_100k": 9.0,
        "bare_fetch_seconds_100k": 2.0,
        "e2e_first_seconds_100k": 50.0,
    }
    page = render(figures, {"sync": {"details": sync_details()}}, BOX, when=WHEN, took_s=600)
    lines = page.splitlines()
    assert lines[0] == "### `make bench` of 2026-12-01 10:00 UTC"
    assert "took 10.0 min" in page
    assert "of this run failed" not in page
    failing = render(figures, {}, BOX, when=WHEN, failed=2)
    assert "**2 benchmark(s) of this run failed**" in failing
    # pastes under a level-2 heading: nothing above level 3
    assert not [line for line in lines if re.match(r"#{1,2} ", line)]
    changed = next(line for line in lines if line.startswith("| changed run (100 slots)"))
    assert changed.endswith("| 4.50 | 9.00 / 2.00 | ≤ 10 | ≤ 8 | met, stretch too |")
    first = next(line for line in lines if line.startswith("| first run / bare fetch, 100k"))
    assert first.endswith("| 25.00 | 50.00 / 2.00 | ≤ 20 | ≤ 15 | NOT met |")
    rss = next(line for line in lines if line.startswith("| peak RSS 100k / 20k"))
    assert rss.endswith("| not measured |  | ≤ 1.3 |  | not measured |")
    assert "| `dossiers_20x2k_seconds` | not measured |" in page
    assert "| 20 dossiers x 2k, `--jobs 2` / one by one | not measured |" in page


def test_the_sync_table_gives_each_run_against_the_bare_fetch() -> None:
    page = render(dict.fromkeys(KEYS), {"sync": {"details": sync_details()}}, BOX, when=WHEN)
    rows = [line for line in page.splitlines() if line.startswith("| 100,000 |")]
    assert [row.split(" | ")[1] for row in rows] == [
        "first: empty staging and SuiviMO",
        "backfill of the older history (360-day window; no target)",
        "no-change, drift check included (median of 3)",
        "changed: 100 slots moved or edited (median of 3)",
        "bare fetch (100,000 slots, median of 3)",
    ]
    # seconds, x bare fetch, load, transform, export, publish, drift, RSS
    assert rows[2].split(" | ")[2:] == ["3.00", "1.5", "2.50", "—", "—", "—", "0.50", "150 |"]
    assert (
        "refused by the sync lock (imports up to the lock, settings, one connection): 0.50 s"
        in page
    )
    assert (
        "| whole (`startup_floor_s`) | load, transform, export, publish, drift | 9.00 | 3.10 "
        "| 3.50 (1 imports raised: x) | dbt 2.00, dlt 0.60 |" in page
    )
    assert "| no-change | load, drift | 3.00 | 0.80 | 0.90 | dlt 0.20 |" in page
    assert "![" not in page  # no chart named: none linked


def test_write_report_from_recorded_results(tmp_path: Path) -> None:
    (tmp_path / "reliability.md").write_text("| fault |\n")
    (tmp_path / "report.md").write_text("an earlier run's report")
    reset(tmp_path)
    assert not (tmp_path / "report.md").exists()
    assert (tmp_path / "reliability.md").exists()  # make reliability's table is kept
    assert write_report(tmp_path) is None  # nothing recorded: no report
    record("sync", {"startup_floor_s": 0.5}, sync_details(), bench_dir=tmp_path)
    record("export", {"exporter_speedup_10k_1ms": 61.5}, {"rows": 10_000}, bench_dir=tmp_path)
    record("loader", {"loader_first_seconds_20k": 4.25}, bench_dir=tmp_path)
    md = write_report(tmp_path, started=datetime.now(UTC))
    figures = json.loads((tmp_path / "report.json").read_text())
    assert figures == dict.fromkeys(KEYS) | {
        "startup_floor_s": 0.5,
        "exporter_speedup_10k_1ms": 61.5,
        "loader_first_seconds_20k": 4.25,
    }
    page = md.read_text()
    assert "| `loader_first_seconds_20k` | 4.25 | recorded by benchmark `loader` |" in page
    assert "| exporter / seed's algorithm, 10k rows, 1 ms | 61.50 |  | ≥ 60 |  | met |" in page
    assert "#### Benchmark `export`" in page and "| rows | 10,000 |" in page
    assert (tmp_path / "sync_times.png").stat().st_size > 0
    assert "(sync_times.png)" in page
