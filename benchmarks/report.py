"""`bench/report.json`, `bench/report.md` and the chart, from the figures of this run.

The report states each target of issue 13 as a ratio and says whether this run met it;
it never fails the session (benchmarks report, they are not tests). A figure no
benchmark of this run measured is null ("not measured"), never copied from elsewhere.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.results import BENCH_DIR, load_all

KEYS = (
    "bare_fetch_seconds_100k",
    "e2e_first_seconds_20k",
    "e2e_nochange_seconds_20k",
    "e2e_first_seconds_100k",
    "e2e_nochange_seconds_100k",
    "peak_rss_mb_100k",
    "exporter_speedup_10k_1ms",
    "batigest_roundtrips_per_1000",
)
CHART = "sync_times.png"
STAGES = ("load", "transform", "export", "publish")

Figures = dict[str, Any]


@dataclass(frozen=True)
class Target:
    text: str
    value: Callable[[Figures], float | None]  # the ratio (or figure) this run measured
    limit: float
    at_most: bool = True  # False: at least

    def check(self, figures: Figures) -> tuple[float | None, str]:
        try:
            value = self.value(figures)
        except (TypeError, ZeroDivisionError):  # a figure is missing
            value = None
        if value is None:
            return None, "not measured"
        met = value <= self.limit if self.at_most else value >= self.limit
        return value, "met" if met else "NOT met"


TARGETS = (
    Target(
        "no-change / first run, 20k slots",
        lambda f: f["e2e_nochange_seconds_20k"] / f["e2e_first_seconds_20k"],
        0.2,
    ),
    Target(
        "no-change / first run, 100k slots",
        lambda f: f["e2e_nochange_seconds_100k"] / f["e2e_first_seconds_100k"],
        0.2,
    ),
    Target(
        "first run 100k / bare fetch",
        lambda f: f["e2e_first_seconds_100k"] / f["bare_fetch_seconds_100k"],
        3.0,
    ),
    Target(
        "no-change run 100k / bare fetch",
        lambda f: f["e2e_nochange_seconds_100k"] / f["bare_fetch_seconds_100k"],
        1.5,
    ),
    Target(
        "exporter / seed's algorithm, 10k rows, 1 ms",
        lambda f: f["exporter_speedup_10k_1ms"],
        40.0,
        at_most=False,
    ),
    Target("peak RSS at 100k (MiB)", lambda f: f["peak_rss_mb_100k"], 400.0),
)


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


def assemble(results: dict[str, dict[str, Any]]) -> Figures:
    """The report's keys, from whichever benchmark of this run recorded them. A key
    several results give (e.g. round trips, one result per driver) keeps the largest:
    the worst case."""
    figures: Figures = dict.fromkeys(KEYS)
    for result in results.values():
        for key, value in result.get("figures", {}).items():
            if key in figures and value is not None:
                figures[key] = value if figures[key] is None else max(figures[key], value)
    return figures


def write_report(bench_dir: Path = BENCH_DIR) -> Path | None:
    """Write report.json, report.md (and the chart when the sync benchmark ran)."""
    results = load_all(bench_dir)
    if not results:
        return None
    figures = assemble(results)
    (bench_dir / "report.json").write_text(json.dumps(figures, indent=2) + "\n")
    sync = results.get("sync", {}).get("details", {})
    chart = _chart(sync, bench_dir / CHART) if sync.get("sizes") else None
    md = bench_dir / "report.md"
    md.write_text(_markdown(figures, results, chart))
    return md


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _markdown(figures: Figures, results: dict[str, dict[str, Any]], chart: Path | None) -> str:
    box = machine()
    lines = [
        "# Benchmark report",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {box['nproc']} CPU(s), {box['cpu']}, "
        f"Python {box['python']}, {box['system']}. Every figure below was measured in this run.",
        "",
        "## Targets (issue 13)",
        "",
        "| target | this run | limit | |",
        "|---|---|---|---|",
    ]
    for target in TARGETS:
        value, verdict = target.check(figures)
        limit = f"{'≤' if target.at_most else '≥'} {target.limit:g}"
        lines.append(f"| {target.text} | {_fmt(value)} | {limit} | {verdict} |")
    lines += ["", "## Figures (`report.json`)", "", "| key | value |", "|---|---|"]
    lines += [f"| `{key}` | {_fmt(figures[key])} |" for key in KEYS]
    lines += _sync_section(results.get("sync", {}).get("details", {}), chart)
    for name, result in results.items():
        if name != "sync" and result.get("details"):
            lines += ["", f"## {name}", "", "```", json.dumps(result["details"], indent=2), "```"]
    return "\n".join(lines) + "\n"


def _sync_section(sync: dict[str, Any], chart: Path | None) -> list[str]:
    if not sync.get("sizes"):
        return []
    runs = sync["nochange_runs"]
    how = f"median of {runs} runs" if runs > 1 else "1 run"
    lines = [
        "",
        "## Whole sync (`batisync sync --json` in a subprocess)",
        "",
        f"Seconds, wall clock of the process; stages from the summary's `stage_durations_s`; "
        f"no-change: {how}. Bare fetch: {_fmt(sync.get('bare_fetch_seconds'))} s for "
        f"{sync.get('bare_fetch_slots')} slots (plain HTTP and JSON decoding, median of 3).",
        "",
        "| slots | run | total | " + " | ".join(STAGES) + " | peak RSS MiB |",
        "|---|---|---|" + "---|" * len(STAGES) + "---|",
    ]
    for size in sync["sizes"]:
        for kind in ("first", "nochange"):
            run = size[kind]
            stages = " | ".join(_fmt(run["stages"].get(s)) for s in STAGES)
            lines.append(
                f"| {size['slots']:,} | {kind} | {_fmt(run['seconds'])} | {stages} | "
                f"{_fmt(run['peak_rss_mb'], 0)} |"
            )
    if chart is not None:
        lines += ["", f"![time against slots, per stage]({chart.name})"]
    return lines


def _chart(sync: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # no display: a file only
    import matplotlib.pyplot as plt

    sizes = sync["sizes"]
    slots = [s["slots"] for s in sizes]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, kind, title in zip(
        axes, ("first", "nochange"), ("first run", "no-change run"), strict=True
    ):
        for stage in STAGES:
            ax.plot(slots, [s[kind]["stages"].get(stage, 0) for s in sizes], "o-", label=stage)
        ax.plot(slots, [s[kind]["seconds"] for s in sizes], "k--", marker="s", label="total")
        ax.set_title(title)
        ax.set_xlabel("slots in the window")
        ax.set_xticks(slots, [f"{n // 1000}k" for n in slots])
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("seconds")
    axes[1].legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


__all__ = ["KEYS", "TARGETS", "assemble", "machine", "write_report"]
