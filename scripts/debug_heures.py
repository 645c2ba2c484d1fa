"""The seed's recette script, kept at its path: `batisync debug-heures` does the work.

python scripts/debug_heures.py --days 7 --verbose
python scripts/debug_heures.py --id-heure 12345 --update-codes --apply --verbose
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from batisync.cli import main as batisync


def main(argv: Sequence[str] | None = None) -> int:
    return batisync(["debug-heures", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
