"""A sync that costs what changed: when the load found nothing new and nothing else the
transform depends on has moved since the last complete run, transform, export and
publish are skipped (they would rebuild the same marts and write nothing).

`skip_reason` is pure; `run_inputs` fingerprints what the transform depends on besides
the loaded rows: the project's own version (package and dbt project files), the
settings dbt and the exporter read, the window's first day, and the Batigest column
lengths from the inspection. The last complete run's fingerprint is in `sync_runs`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from importlib import metadata
from pathlib import Path

from batisync.extract.report import LoadReport

# the dbt project's files whose change changes what the marts hold
DBT_SOURCES = ("dbt_project.yml", "models", "macros", "tests")


@dataclass(frozen=True)
class LastRun:
    run_id: str
    inputs: str


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


def skip_reason(
    load: LoadReport | None, inputs: str, last: LastRun | None, pending: int
) -> str | None:
    """Why the rest of the run can be skipped, or None when it must run."""
    if load is None or last is None or last.inputs != inputs:
        return None  # first run, or the project, a setting, the window or Batigest moved
    changed = load.changed()
    if changed["total"] or changed["quarantined"]:
        return None
    if any(not counts.refreshed for counts in load.resources.values()):
        return None  # a suspicious answer kept a table as it was: let dbt test it
    if pending:
        return None  # the last export left rows to write (a retry, a refused retraction)
    return f"nothing changed since run {last.run_id}"


__all__ = ["LastRun", "project_version", "run_inputs", "skip_reason"]
