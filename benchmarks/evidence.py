"""`python -m benchmarks.evidence [bench] [reliability] [--partial]`: put the last
`make bench` and `make reliability` into `docs/EVIDENCE.md`, unchanged.

`make bench` ends with it (section `bench`), `make reliability` too (`reliability`),
`make evidence` pastes both again. `bench/report.md` replaces what stands between the
page's `<!-- bench: begin -->` and `<!-- bench: end -->` (and its chart is copied beside
the page), `bench/reliability.md` what stands between the `reliability` markers. A file
that is not there leaves its section as it was, and says so: the page never mixes a
figure of one run into the table of another. A bench run that is not whole (a smoke run
with `BENCH_SYNC_SIZES`, a `-k` selection that left the sync out) is not pasted unless
`--partial` is given: the page shows the 20k and 100k runs the issue's targets name.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from benchmarks.report_md import CHART
from benchmarks.results import BENCH_DIR

PAGE = Path(__file__).resolve().parents[1] / "docs" / "EVIDENCE.md"
SECTIONS = {"bench": "report.md", "reliability": "reliability.md"}
# a whole bench run measured these (the sync benchmark at both sizes)
WHOLE_RUN_KEYS = tuple(
    f"{figure}_{size}"
    for size in ("20k", "100k")
    for figure in (
        "bare_fetch_seconds",
        "e2e_first_seconds",
        "e2e_nochange_seconds",
        "e2e_changed_seconds",
        "peak_rss_mb",
    )
)


class MarkersMissing(ValueError):
    pass


def paste(page: str, name: str, text: str) -> str:
    """`page` with `text` between the markers of section `name` (pure)."""
    begin, end = f"<!-- {name}: begin -->", f"<!-- {name}: end -->"
    head, found, rest = page.partition(begin)
    _, found_end, tail = rest.partition(end)
    if not found or not found_end:
        raise MarkersMissing(f"the page has no '{begin}' … '{end}' markers")
    return f"{head}{begin}\n{text.strip()}\n{end}{tail}"


def missing_for_a_whole_run(bench_dir: Path) -> list[str]:
    """The keys of a whole bench run that `bench/report.json` lacks (all when absent)."""
    report = bench_dir / "report.json"
    figures = json.loads(report.read_text()) if report.exists() else {}
    return [key for key in WHOLE_RUN_KEYS if figures.get(key) is None]


def update(
    page_path: Path = PAGE,
    bench_dir: Path = BENCH_DIR,
    *,
    sections: tuple[str, ...] = tuple(SECTIONS),
    partial: bool = False,
) -> list[str]:
    """Paste every chosen section whose file is there; returns what was done, line by line."""
    page, done = page_path.read_text(encoding="utf-8"), []
    for name in sections:
        source = bench_dir / SECTIONS[name]
        if not source.exists():
            done.append(f"{name}: {source} not found, section left as it was")
            continue
        missing = missing_for_a_whole_run(bench_dir) if name == "bench" else []
        if missing and not partial:
            done.append(
                f"{name}: not a whole run ({', '.join(missing)} not measured), section left "
                "as it was (--partial pastes it all the same)"
            )
            continue
        page = paste(page, name, source.read_text(encoding="utf-8"))
        done.append(f"{name}: pasted {source}")
        chart = bench_dir / CHART
        if name == "bench" and chart.exists():
            shutil.copyfile(chart, page_path.parent / CHART)
            done.append(f"chart: copied {chart} to {page_path.parent / CHART}")
    page_path.write_text(page, encoding="utf-8")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.evidence")
    parser.add_argument("sections", nargs="*", help=f"of {', '.join(SECTIONS)} (default: all)")
    parser.add_argument("--partial", action="store_true", help="paste a partial bench run too")
    args = parser.parse_args(argv)
    if unknown := set(args.sections) - set(SECTIONS):
        parser.error(f"no such section: {', '.join(sorted(unknown))}")
    try:
        for line in update(sections=tuple(args.sections or SECTIONS), partial=args.partial):
            print(f"docs/EVIDENCE.md: {line}")
    except MarkersMissing as error:
        print(f"error: {PAGE}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
