"""`make sync DOSSIER=NAME` and `make sync ALL=1 [JOBS=N]` (CONTRACT.md "Dossiers"): the
command each one runs, as `make -n` prints it (nothing is run); and `--dossier` on every
command that reads or writes a dossier's data."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _commands(*assignments: str) -> list[list[str]]:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    done = subprocess.run(
        ["make", "-n", "-s", "sync", *assignments],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    text = done.stdout.replace("\\\n", " ")
    return [line.split() for line in text.splitlines() if "batisync sync" in line]


@pytest.mark.parametrize(
    ("assignments", "arguments"),
    [
        ((), ["sync"]),
        (("DOSSIER=acme",), ["sync", "--dossier", "acme"]),
        (("ALL=1",), ["sync", "--all"]),
        (("ALL=1", "JOBS=3", "JSON=1"), ["sync", "--all", "--jobs", "3", "--json"]),
    ],
)
def test_make_sync_passes_the_dossier_options(
    assignments: tuple[str, ...], arguments: list[str]
) -> None:
    (command,) = _commands(*assignments)
    assert command[0].endswith("batisync") and command[1:] == arguments


@pytest.mark.parametrize(
    "command",
    ["sync", "doctor", "load", "export", "reconcile", "debug-heures", "runs", "rejected",
     "import-map"],
)  # fmt: skip
def test_every_command_on_a_dossiers_data_takes_dossier(command: str) -> None:
    from batisync.cli import build_parser

    required = ["--from", "postgresql://u@h/db"] if command == "import-map" else []
    args = build_parser().parse_args([command, "--dossier", "acme", *required])
    assert args.dossier == "acme"
