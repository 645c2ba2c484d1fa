"""`python -m benchmarks.evidence` (`make evidence`): put the last `make bench` and
`make reliability` into `docs/EVIDENCE.md`, unchanged.

`bench/report.md` replaces what stands between the page's `<!-- bench: begin -->` and
`<!-- bench: end -->` (and its chart is copied beside the page), `bench/reliability.md`
(written by `make reliability`) what stands between the `reliability` markers. A file
that is not there leaves its section as it was, and says so: the page never mixes a
figure of one run into the table of another.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from benchmarks.report_md import CHART
from benchmarks.results import BENCH_DIR

PAGE = Path(__file__).resolve().parents[1] / "docs" / "EVIDENCE.md"
SECTIONS = {"bench": "report.md", "reliability": "reliability.md"}


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


def update(page_path: Path = PAGE, bench_dir: Path = BENCH_DIR) -> list[str]:
    """Paste every section whose file is there; returns what was done, line by line."""
    page, done = page_path.read_text(encoding="utf-8"), []
    for name, file_name in SECTIONS.items():
        source = bench_dir / file_name
        if not source.exists():
            done.append(f"{name}: {source} not found, section left as it was")
            continue
        page = paste(page, name, source.read_text(encoding="utf-8"))
        done.append(f"{name}: pasted {source}")
    chart = bench_dir / CHART
    if chart.exists():
        shutil.copyfile(chart, page_path.parent / CHART)
        done.append(f"chart: copied {chart} to {page_path.parent / CHART}")
    page_path.write_text(page, encoding="utf-8")
    return done


def main() -> int:
    try:
        for line in update():
            print(line)
    except MarkersMissing as error:
        print(f"error: {PAGE}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
