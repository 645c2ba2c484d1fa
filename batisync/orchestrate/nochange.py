"""A sync that costs what changed: transform, export and publish are skipped when they
could only rebuild the marts they built before and write nothing. Never when work is
unfinished. A run may skip only when, all at once:

- its inputs (below) are those of the last complete run (`LastRun`);
- the staging generation its own load found is the one that run's transform read
  (`loader/generation.py`): nobody wrote raw since, not a run interrupted or killed
  after its load, not `batisync load`, not `debug-heures --update-codes`;
- no `sync_runs` row of any status or command is newer than that run (`LaterRun`: a
  failed, interrupted or abandoned run, a dry run, a reconcile, a debug-heures write);
- its own load changed nothing the transform reads (`LoadReport.changes`, deletions
  confirmed included: they make rows retractable);
- nothing is pending in the marts that run left (`Pending`: rows to push, rows
  HEURES_ON_GONE=delete may retract now).

A run that skips is itself complete: it records its inputs and the generation its load
committed, so the next run may skip too. `decide` is pure; `run_inputs` fingerprints
what the transform depends on besides the loaded rows: the project's own version
(package and dbt project files), the settings dbt and the exporter read, the window's
first day, and the Batigest column lengths from the inspection.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from importlib import metadata
from pathlib import Path

from batisync.loader.report import LoadReport

# the dbt project's files whose change changes what the marts hold
DBT_SOURCES = ("dbt_project.yml", "models", "macros", "tests")


@dataclass(frozen=True)
class LastRun:
    """The latest complete sync: its inputs and the staging generation it transformed."""

    run_id: str
    inputs: str
    generation: int | None = None  # None: recorded before generations were counted


@dataclass(frozen=True)
class LaterRun:
    """A `sync_runs` row newer than the last complete run (any command, any status)."""

    run_id: str
    command: str
    status: str
    dry_run: bool = False

    def describe(self) -> str:
        kind = f"{self.command} (dry run)" if self.dry_run else self.command
        return f"run {self.run_id} ({kind}, {self.status})"


@dataclass(frozen=True)
class Pending:
    """What the marts say is still to do."""

    to_push: int  # rows the next export writes (a retry, a row refused before)
    retractable: int = 0  # rows HEURES_ON_GONE=delete retracts now (0 under keep)


@dataclass(frozen=True)
class Decision:
    skip: bool
    reason: str  # why the stages after the load are skipped, or why they run


def project_version(dbt_project_dir: Path) -> str:
    """The package version and a digest of the dbt project's own files."""
    digest = hashlib.sha256()
    for name in DBT_SOURCES:
        root = dbt_project_dir / name
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in files:
            if path.is_file():
                digest.update(str(path.relative_to(dbt_project_dir)).encode())
                digest.update(path.read_bytes())
    try:
        version = metadata.version("batisync")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return f"{version}:{digest.hexdigest()[:16]}"


def run_inputs(
    version: str, settings_read: Mapping[str, str], window_start: date, batigest: Mapping[str, str]
) -> str:
    """One fingerprint of everything but the loaded rows (no secret goes in)."""
    document = {
        "version": version,
        "settings": dict(sorted(settings_read.items())),
        "window_start": window_start.isoformat(),
        "batigest": dict(sorted(batigest.items())),
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:32]


def decide(
    load: LoadReport | None,
    inputs: str,
    last: LastRun | None,
    later: LaterRun | None,
    pending: Pending,
) -> Decision:
    """Whether the stages after the load can be skipped; the reason names the run trusted."""
    if load is None:
        return Decision(False, "no load report")
    if last is None:
        return Decision(False, "no complete run yet")
    if changes := load.changes():
        return Decision(False, f"this load changed staging: {', '.join(changes)}")
    since = f"since run {last.run_id}"
    if last.inputs != inputs:
        return Decision(False, f"the project, a setting, the window or Batigest changed {since}")
    if last.generation is None or load.generation is None:
        return Decision(False, f"no staging generation recorded {since}")
    if load.generation.before != last.generation:
        return Decision(
            False,
            f"staging was written {since} (generation {last.generation} -> "
            f"{load.generation.before})",
        )
    if later is not None:
        return Decision(False, f"{later.describe()} came after run {last.run_id}")
    if pending.to_push:
        return Decision(False, f"{pending.to_push} row(s) still to push")
    if pending.retractable:
        return Decision(False, f"{pending.retractable} row(s) to retract (HEURES_ON_GONE=delete)")
    return Decision(True, f"nothing changed {since}")


def transform_certain(
    last: LastRun | None, later: LaterRun | None, generation_now: int | None
) -> bool:
    """Whether, before its load, a run knows its transform will run whatever the load
    finds (`decide` could only say no): dbt's preparation may start with the load."""
    if last is None or later is not None or last.generation is None:
        return True
    return generation_now != last.generation


__all__ = [
    "Decision",
    "LastRun",
    "LaterRun",
    "Pending",
    "decide",
    "project_version",
    "run_inputs",
    "transform_certain",
]
