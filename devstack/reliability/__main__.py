"""`python -m devstack.reliability [--quick] [--markdown PATH]`: run the fault matrix,
print its table (and write it to PATH: `make reliability` writes `bench/reliability.md`,
which `make evidence` puts into docs/EVIDENCE.md)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from devstack.reliability.matrix import SCENARIOS, passed, render, run_matrix


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one case per fault (as make test)")
    parser.add_argument(
        "--only", nargs="+", choices=[s.__name__ for s in SCENARIOS], help="these faults only"
    )
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    started = datetime.now(UTC)
    chosen = tuple(s for s in SCENARIOS if not args.only or s.__name__ in args.only)
    outcomes = run_matrix(quick=args.quick, scenarios=chosen)
    table = render(outcomes, started)
    print(table)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(table + "\n", encoding="utf-8")
    return 0 if passed(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
