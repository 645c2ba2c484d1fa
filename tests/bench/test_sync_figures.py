"""What the sync benchmark reports from its runs (pure parts): the report.json keys of
each size, the peak RSS of the window's runs, the floors, and `-X importtime`'s sum."""

from __future__ import annotations

from benchmarks.bench_sync import figures_of
from benchmarks.floors import import_seconds, top_level_imports
from benchmarks.processes import median_run


def run(seconds: float, rss: float, **stages: float) -> dict:
    return {
        "seconds": seconds,
        "peak_rss_mb": rss,
        "stages": stages,
        "ran": list(stages),
        "skipped_because": None,
        "suivimo": {},
    }


def size(slots: int, **runs: dict) -> dict:
    return {"slots": slots, "bare_fetch_s": 1.5, "runs": runs}


def test_each_named_size_gives_its_keys_and_the_window_runs_peak_rss() -> None:
    small = size(
        20_000,
        first=run(20, 250),
        backfill=run(40, 900),  # the 360-day backfill: not the window's memory
        nochange=run(3, 120),
        transform_forced=run(9, 260, transform=6.0),
        changed=run(8, 240),
    )
    small["floors"] = {
        "whole": {"floor": {"seconds": 2.4}},
        "nochange": {"floor": {"seconds": 0.6}},
    }
    big = size(100_000, first=run(50, 330), transform_forced=run(20, 340, transform=12.5))
    figures = figures_of([small, big, size(2_000, first=run(5, 100))])
    assert figures == {
        "startup_floor_s": 2.4,
        "startup_floor_nochange_s": 0.6,
        "bare_fetch_seconds_20k": 1.5,
        "e2e_first_seconds_20k": 20,
        "e2e_nochange_seconds_20k": 3,
        "e2e_changed_seconds_20k": 8,
        "peak_rss_mb_20k": 260,
        "bare_fetch_seconds_100k": 1.5,
        "e2e_first_seconds_100k": 50,
        "peak_rss_mb_100k": 340,
        "dbt_floor_s": 12.5,  # the 100k size's transform with nothing changed
    }


def test_median_run_takes_each_stage_median_and_the_largest_rss() -> None:
    runs = [run(3.0, 100, load=2.0), run(5.0, 130, load=4.0, drift=1.0), run(4.0, 90, load=1.0)]
    median = median_run(runs)
    assert median["seconds"] == 4.0 and median["peak_rss_mb"] == 130
    assert median["stages"] == {"load": 2.0, "drift": 0.0}
    assert median["runs"] == [3.0, 5.0, 4.0]


IMPORTTIME = """\
import time: self [us] | cumulative | imported package
import time:       300 |        300 |   _io
import time:      1000 |       1300 | encodings
import time:    200000 |     200000 |     dlt.common.json
import time:     50000 |     250000 |   dlt.common
import time:     20000 |     270000 | dlt
import time:    400000 |     400000 | dbt.cli.main
a line of the program's own
"""


def test_import_seconds_sums_every_module_own_time_by_package() -> None:
    found = import_seconds(IMPORTTIME, top=2)
    assert found["imports_s"] == 0.67
    assert found["by_package_s"] == {"dbt": 0.4, "dlt": 0.27}


def test_top_level_imports_are_the_chains_heads_in_order_without_main() -> None:
    stderr = IMPORTTIME + (
        "import time:       100 |        100 | batisync.__main__\n"
        "import time:       100 |        100 | dlt\n"  # again: once
    )
    assert top_level_imports(stderr) == ["encodings", "dlt", "dbt.cli.main"]
