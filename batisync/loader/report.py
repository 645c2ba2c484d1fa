"""What one load did, per resource and per window chunk: the loader's typed report."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from batisync.core.errors import BatisyncError
from batisync.loader.api.errors import ApiError
from batisync.loader.generation import Generation
from batisync.loader.window import Window

log = logging.getLogger(__name__)


class LoadError(BatisyncError):
    """The load failed; raw tables hold what the previous successful load left."""


def root_cause(error: BaseException) -> BaseException:
    """The first ApiError (or the innermost error) under dlt's (or our) wrappers."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        if isinstance(current, ApiError):
            return current
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen[-1]


@contextmanager
def api_errors() -> Iterator[None]:
    """An error while the batches are read, reported as dlt's extract reports it."""
    try:
        yield
    except Exception as error:
        cause = root_cause(error)
        raise LoadError(f"BatiSimply extract failed: {cause}") from cause


@dataclass
class ResourceCounts:
    fetched: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    deleted: int = 0
    quarantined: int = 0
    repeated: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    refreshed: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "fetched": self.fetched,
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "quarantined": self.quarantined,
            "repeated": self.repeated,
            "quarantine_reasons": dict(sorted(self.reasons.items())),
            "refreshed": self.refreshed,
        }


@dataclass
class ChunkReport:
    window: Window
    fetched: int
    live_before: int
    guarded: bool = False
    deleted: int = 0
    # slots marked deleted before and missed again by this complete fetch: from now on
    # HEURES_ON_GONE=delete may retract their rows (a change for the marts)
    confirmed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.window.api_params()["startDate"],
            "end": self.window.api_params()["endDate"],
            "fetched": self.fetched,
            "live_before": self.live_before,
            "guarded": self.guarded,
            "deleted": self.deleted,
            "confirmed": self.confirmed,
        }


_CHANGE_WORDS = (
    ("new", "new"),
    ("changed", "changed"),
    ("deleted", "deleted"),
    ("quarantined", "quarantined"),
    ("confirmed", "deletions confirmed"),
)


@dataclass
class LoadReport:
    window: Window
    fetched_at: datetime
    resources: dict[str, ResourceCounts] = field(default_factory=dict)
    chunks: list[ChunkReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    # the staging generation this load found and the one it committed (generation.py)
    generation: Generation | None = None
    # the small tables dbt reads that the resources above do not count (chantiers, the
    # chantier check, the project lookups) and whose content this load changed
    reference_changed: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        log.warning("%s", message)
        self.warnings.append(message)

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": self.window.api_params(),
            "fetched_at": self.fetched_at.isoformat(),
            "resources": {name: c.to_dict() for name, c in self.resources.items()},
            "chunks": [c.to_dict() for c in self.chunks],
            "warnings": list(self.warnings),
            "duration_s": round(self.duration_s, 3),
            "generation": self.generation.to_dict() if self.generation else None,
            "reference_changed": list(self.reference_changed),
        }

    def fetched(self) -> dict[str, int]:
        """Rows fetched per resource, plus `total`."""
        fetched = {name: c.fetched for name, c in self.resources.items()}
        return {**fetched, "total": sum(fetched.values())}

    def changed(self) -> dict[str, int]:
        """Rows that changed in staging (new + changed + deleted), quarantined apart, and
        the deletions this load confirmed."""
        totals = dict.fromkeys(("new", "changed", "deleted", "quarantined"), 0)
        for counts in self.resources.values():
            for key in totals:
                totals[key] += getattr(counts, key)
        totals["total"] = totals["new"] + totals["changed"] + totals["deleted"]
        totals["confirmed"] = sum(chunk.confirmed for chunk in self.chunks)
        return totals

    def changes(self) -> list[str]:
        """What this load changed that the transform reads, in words; empty when it
        changed nothing (the marts built before it are still what dbt would build)."""
        changed = self.changed()
        found = [f"{changed[key]} {words}" for key, words in _CHANGE_WORDS if changed[key]]
        # a suspicious answer kept a table as it was: let dbt test it
        found += [f"{name} kept as it was" for name, c in self.resources.items() if not c.refreshed]
        return found + [f"{name} changed" for name in self.reference_changed]


def resources_text(report: LoadReport) -> str:
    """`time_slots fetched 120 new 7 …; projects …`: one plain log line, no repr."""
    parts = []
    for name, counts in report.resources.items():
        values = counts.to_dict()
        numbers = " ".join(
            f"{k} {values[k]}" for k in ("fetched", "new", "changed", "deleted", "quarantined")
        )
        parts.append(f"{name} {numbers}")
    return "; ".join(parts) or "nothing loaded"


__all__ = [
    "ChunkReport",
    "LoadError",
    "LoadReport",
    "ResourceCounts",
    "api_errors",
    "resources_text",
    "root_cause",
]
