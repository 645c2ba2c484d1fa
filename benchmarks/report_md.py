"""`bench/report.md` (pure): one whole `make bench` run, ready to paste into the
performance section of `docs/EVIDENCE.md` unchanged (headings from level 3; the chart
named relative to the page, copied beside it by `python -m benchmarks.evidence`)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from benchmarks.targets import GROUPS, KEYS, Figures, Target

CHART = "sync_times.png"
STAGES = ("load", "transform", "export", "publish", "drift")
NOT_MEASURED = "not measured"

# the runs of one size in bench_sync.py's order: (key, what the row is)
RUN_KINDS = (
    ("first", "first: empty staging and SuiviMO"),
    ("backfill", "backfill of the older history (360-day window; no target)"),
    ("window_back", "window back to 180 days (the window changed: everything transformed)"),
    ("nochange", "no-change, drift check included (median of {nochange_runs})"),
    ("transform_forced", "transform forced, nothing changed (`batisync load` just before)"),
    ("changed", "changed: {changed_slots} slots moved or edited (median of {changed_runs})"),
)


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return NOT_MEASURED
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def render(
    figures: Figures,
    results: dict[str, dict[str, Any]],
    box: dict[str, Any],
    *,
    when: datetime,
    took_s: float | None = None,
    chart: str | None = None,
    failed: int = 0,
) -> str:
    took = f"; the whole `make bench` took {took_s / 60:.1f} min" if took_s else ""
    lines = [
        f"### `make bench` of {when:%Y-%m-%d %H:%M} UTC",
        "",
        f"{box['nproc']} CPU(s) ({box['cpu']}), Python {box['python']}, {box['system']}"
        f"{took}. Every figure below was measured in this run; a figure no benchmark of "
        f'this run measured says "{NOT_MEASURED}".',
    ]
    if failed:
        lines += [
            "",
            f"**{failed} benchmark(s) of this run failed** (a sync that failed, a SuiviMO "
            "that did not converge, an exporter writing other rows than the seed's): the "
            "session's output says which; what they did not record is not measured.",
        ]
    for group in GROUPS:
        lines += ["", f"#### {group.title}", ""]
        lines += target_table(group.targets, figures)
    lines += ["", "#### Figures (`bench/report.json`)", "", "| key | this run | what it is |"]
    lines += ["|---|---:|---|"]
    lines += [f"| `{key}` | {fmt(figures.get(key))} | {text} |" for key, text in KEYS.items()]
    for key in (k for k in figures if k not in KEYS):
        source = next(n for n, r in results.items() if key in r.get("figures", {}))
        lines.append(f"| `{key}` | {fmt(figures[key])} | recorded by benchmark `{source}` |")
    lines += sync_section(results.get("sync", {}).get("details", {}), chart)
    for name, result in sorted(results.items()):
        if name != "sync" and result.get("details"):
            lines += ["", f"#### Benchmark `{name}`", "", *detail_table(result["details"])]
    return "\n".join(lines) + "\n"


def target_table(targets: tuple[Target, ...], figures: Figures) -> list[str]:
    lines = ["| figure | this run | from | target | stretch | verdict |"]
    lines += ["|---|---:|---|---|---|---|"]
    for target in targets:
        value, verdict = target.check(figures)
        operands = [figures.get(target.numerator), figures.get(target.denominator or "")]
        measured = target.denominator and any(v is not None for v in operands)
        source = " / ".join(fmt(v) for v in operands) if measured else ""
        lines.append(
            f"| {target.text} | {fmt(value)} | {source} | {target.bound(target.limit)} | "
            f"{target.bound(target.stretch)} | {verdict} |"
        )
    return lines


def sync_section(sync: dict[str, Any], chart: str | None) -> list[str]:
    if not sync.get("sizes"):
        return []
    lines = [
        "",
        "#### Whole sync (`benchmarks/bench_sync.py`)",
        "",
        "`batisync sync --json` in a subprocess against the fake API (loopback HTTP), a "
        "staging database and the Batigest stand-in; seconds of wall clock, stages from "
        f"the summary's `stage_durations_s`, peak RSS of the process with its dbt worker. A "
        f"{sync['window_days']}-day window; from the backfill on, "
        f"{sync['history_days']} days of older history beside it in staging, the map and "
        "SuiviMO. x bare fetch: the run's seconds over the same window fetched with plain "
        "HTTP and JSON decoding in this run.",
        "",
        "| slots | run | seconds | x bare fetch | " + " | ".join(STAGES) + " | peak RSS MiB |",
        "|---:|---|---:|---:|" + "---:|" * len(STAGES) + "---:|",
    ]
    for size in sync["sizes"]:
        bare = size.get("bare_fetch_s")
        for kind, text in RUN_KINDS:
            run = size["runs"].get(kind)
            if run is None:
                continue
            ratio = run["seconds"] / bare if bare else None
            ran = run.get("ran", STAGES)
            stages = " | ".join(_stage(run["stages"].get(s) if s in ran else None) for s in STAGES)
            lines.append(
                f"| {size['slots']:,} | {text.format(**sync)} | {fmt(run['seconds'])} | "
                f"{fmt(ratio, 1)} | {stages} | {fmt(run['peak_rss_mb'], 0)} |"
            )
        lines.append(
            f"| {size['slots']:,} | bare fetch ({size.get('fetched_slots', 0):,} slots, "
            f"median of 3) | {fmt(bare)} | 1.0 | " + " | ".join("" for _ in STAGES) + " | |"
        )
    lines += floors_lines(sync["sizes"])
    if chart is not None:
        lines += ["", f"![a sync's time against the window's slots, per stage]({chart})"]
    return lines


def _stage(seconds: float | None) -> str:
    return "—" if seconds is None else fmt(seconds)  # — : the stage did not run (skipped)


def floors_lines(sizes: list[dict[str, Any]]) -> list[str]:
    """The floors of a run's path, from the size that measured them."""
    size = next((s for s in sizes if "floors" in s), None)
    if size is None:
        return []
    floors, lock = size["floors"], size["floors"]["lock"]
    lines = [
        "",
        f"Floors, measured at {size['slots']:,} slots (`benchmarks/floors.py`): one more sync "
        "of each path under `python -X importtime`, then a fresh interpreter importing every "
        "module that sync imported and nothing else (median of "
        f"{len(lock['lock_refused_runs_s'])}). The interpreter alone (`python -c pass`): "
        f"{fmt(lock['interpreter_s'], 3)} s; a `batisync sync` refused by the sync lock "
        f"(imports up to the lock, settings, one connection): {fmt(lock['lock_refused_s'])} s. "
        "An import that raises here (an optional package a library probes for, absent) "
        "raised in the run too.",
        "",
        "| path | stages that ran | the traced run | its imports (`-X importtime`) "
        "| Python and imports alone | the costliest packages (s) |",
        "|---|---|---:|---:|---:|---|",
    ]
    for path, text in (("whole", "whole (`startup_floor_s`)"), ("nochange", "no-change")):
        run = floors[path]
        floor = run["floor"]
        raised = ", ".join(name.split(":")[0] for name in floor["failed"])
        failed = f" ({len(floor['failed'])} imports raised: {raised})" if raised else ""
        packages = ", ".join(f"{n} {s:.2f}" for n, s in run["by_package_s"].items())
        lines.append(
            f"| {text} | {', '.join(run['ran']) or 'none'} | {fmt(run['run_s'])} | "
            f"{fmt(run['imports_s'])} | {fmt(floor['seconds'])}{failed} | {packages} |"
        )
    return lines


def detail_table(details: dict[str, Any]) -> list[str]:
    lines = ["| figure | value |", "|---|---:|"]
    for key, value in details.items():
        shown = json.dumps(value) if isinstance(value, dict | list) else fmt(value)
        lines.append(f"| {key} | {shown} |")
    return lines


__all__ = ["CHART", "NOT_MEASURED", "STAGES", "fmt", "render"]
