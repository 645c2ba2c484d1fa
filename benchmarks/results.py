"""Figures the benchmarks measured in this run, one small JSON file per benchmark.

Each benchmark calls `record(name, figures, details)`: `figures` holds keys of
`bench/report.json` (e.g. `exporter_speedup_10k_1ms`), `details` whatever else the
report shows. The session-finish hook of `benchmarks/conftest.py` assembles the report
from every file present (`benchmarks/report.py`); `reset()` at session start makes
sure nothing from an earlier run is reported as this run's.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parents[1] / "bench"
RESULTS_DIR = BENCH_DIR / "results"


# what a bench session writes (`bench/` also holds `make reliability`'s table: kept)
OUTPUTS = ("report.json", "report.md", "sync_times.png")


def reset(bench_dir: Path = BENCH_DIR) -> None:
    """Remove the previous run's results and report (the folder is git-ignored)."""
    shutil.rmtree(bench_dir / "results", ignore_errors=True)
    for name in OUTPUTS:
        (bench_dir / name).unlink(missing_ok=True)
    (bench_dir / "results").mkdir(parents=True)


def record(
    name: str,
    figures: dict[str, float | int | None],
    details: dict[str, Any] | None = None,
    *,
    bench_dir: Path = BENCH_DIR,
) -> Path:
    """Write this benchmark's figures for the report; returns the file written."""
    folder = bench_dir / "results"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"figures": figures, "details": details or {}}, indent=2))
    return path


def load_all(bench_dir: Path = BENCH_DIR) -> dict[str, dict[str, Any]]:
    """Every benchmark's recorded result of this run, by name."""
    folder = bench_dir / "results"
    if not folder.is_dir():
        return {}
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}
