"""`bench/report.json`, `bench/report.md` and the chart, from the figures of this run.

`report.json` holds the keys of `benchmarks/targets.py` (null: not measured in this run);
`report.md` states each target as the ratio this run measured and whether it was met
(`benchmarks/report_md.py`), in a form that `python -m benchmarks.evidence` pastes into
`docs/EVIDENCE.md` unchanged. The report never fails the session (benchmarks report,
they are not tests), and a figure no benchmark of this run measured is never copied from
elsewhere.
"""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.report_md import CHART, render
from benchmarks.results import BENCH_DIR, load_all
from benchmarks.targets import KEYS, RATIOS, Figures


def machine() -> dict[str, Any]:
    model = platform.processor() or "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": model,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def assemble(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The report's figures: every key of `KEYS` (None when no benchmark of this run
    recorded it), then any other key a benchmark recorded. A key several results give
    (e.g. round trips, one result per driver) keeps the largest: the worst case. The
    ratios of `RATIOS` are computed from the figures of this run only."""
    figures: dict[str, Any] = dict.fromkeys(KEYS)
    for result in results.values():
        for key, value in result.get("figures", {}).items():
            current = figures.get(key)
            if value is None:
                figures[key] = current
            else:
                figures[key] = value if current is None else max(current, value)
    for key, (top, bottom) in RATIOS.items():
        if figures.get(top) is not None and figures.get(bottom):
            figures[key] = round(figures[top] / figures[bottom], 2)
    return figures


def write_report(
    bench_dir: Path = BENCH_DIR, *, started: datetime | None = None, failed: int = 0
) -> Path | None:
    """Write report.json, report.md (and the chart when the sync benchmark ran);
    `started`: when the session began (the report says how long it took); `failed`: how
    many benchmarks of the session failed (the report says so)."""
    results = load_all(bench_dir)
    if not results:
        return None
    figures: Figures = assemble(results)
    (bench_dir / "report.json").write_text(json.dumps(figures, indent=2) + "\n")
    sync = results.get("sync", {}).get("details", {})
    chart = None
    if sync.get("sizes"):
        from benchmarks.chart import draw

        chart = draw(sync, bench_dir / CHART).name
    now = datetime.now(UTC)
    took = (now - started).total_seconds() if started else None
    md = bench_dir / "report.md"
    md.write_text(
        render(figures, results, machine(), when=now, took_s=took, chart=chart, failed=failed)
    )
    return md


__all__ = ["assemble", "machine", "write_report"]
