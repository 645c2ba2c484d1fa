"""The figures of `bench/report.json` and the targets they are judged by (pure).

A target is a ratio of two figures of the same run (or one figure alone), a limit, and
for issue 19's a stretch. A target whose figures this run did not measure is "not
measured": the report never takes a figure from elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# every key of report.json, with what it measures (the report's "Figures" table)
KEYS: dict[str, str] = {
    "bare_fetch_seconds_20k": "the 20,000-slot window fetched with plain HTTP and JSON "
    "decoding, same chunks as the sync (median of 3)",
    "bare_fetch_seconds_100k": "the same at 100,000 slots",
    "e2e_first_seconds_20k": "first sync (empty staging, empty SuiviMO), 20,000 slots",
    "e2e_nochange_seconds_20k": "sync with nothing changed upstream, drift check included "
    "(median of the no-change runs)",
    "e2e_changed_seconds_20k": "sync after 100 slots moved or edited upstream, 180 days of "
    "older history beside the window (median of the changed runs)",
    "e2e_first_seconds_100k": "first sync, 100,000 slots",
    "e2e_nochange_seconds_100k": "no-change sync, 100,000 slots, drift check included",
    "e2e_changed_seconds_100k": "changed sync (100 slots), 100,000 slots and 180 days of history",
    "peak_rss_mb_20k": "largest peak RSS (MiB) of a sync process and its dbt worker (their "
    "high-water marks summed) with the 180-day window, 20,000 slots",
    "peak_rss_mb_100k": "the same at 100,000 slots",
    "startup_floor_s": "Python and the imports of a whole run's path: a fresh interpreter "
    "importing every module a sync that ran every stage imported, nothing else (median of 5)",
    "startup_floor_nochange_s": "the same for a no-change sync's path",
    "dbt_floor_s": "the transform stage of a sync with nothing changed that must transform "
    "(a `batisync load` ran just before), 100,000 slots",
    "exporter_speedup_10k_1ms": "the seed's row-by-row algorithm's time / the exporter's, "
    "10,000 rows, 1 ms per round trip",
    "batigest_roundtrips_per_1000": "requests the TDS endpoint received per 1,000 rows "
    "exported (the worse of the two drivers)",
    "dossiers_20x2k_seconds": "`sync --all --jobs 2`, 20 dossiers of 2,000 slots, first syncs",
    "dossiers_20x2k_serial_seconds": "the same 20 dossiers synced one after the other",
    "dossiers_peak_rss_mb": "peak RSS (MiB) of the whole process tree of `sync --all --jobs 2`",
}

# figures of report.json computed from two others of the same run: key → (numerator,
# denominator); null when either is not measured
RATIOS: dict[str, tuple[str, str]] = {
    f"e2e_{kind}_x_bare_fetch_{size}": (f"e2e_{kind}_seconds_{size}", f"bare_fetch_seconds_{size}")
    for size in ("20k", "100k")
    for kind in ("first", "nochange", "changed")
} | {"peak_rss_ratio_100k_20k": ("peak_rss_mb_100k", "peak_rss_mb_20k")}
KEYS |= {key: f"`{top}` / `{bottom}`" for key, (top, bottom) in RATIOS.items()}

Figures = Mapping[str, Any]


@dataclass(frozen=True)
class Target:
    text: str
    numerator: str  # a key of KEYS
    limit: float
    denominator: str | None = None  # None: the numerator alone is judged
    stretch: float | None = None
    at_most: bool = True  # False: at least

    def value(self, figures: Figures) -> float | None:
        top = figures.get(self.numerator)
        if top is None:
            return None
        if self.denominator is None:
            return float(top)
        bottom = figures.get(self.denominator)
        return float(top) / bottom if bottom else None

    def _meets(self, value: float, limit: float) -> bool:
        return value <= limit if self.at_most else value >= limit

    def check(self, figures: Figures) -> tuple[float | None, str]:
        """(the value this run measured, its verdict)."""
        value = self.value(figures)
        if value is None:
            return None, "not measured"
        if not self._meets(value, self.limit):
            return value, "NOT met"
        if self.stretch is None:
            return value, "met"
        return value, "met, stretch too" if self._meets(value, self.stretch) else "met"

    def bound(self, limit: float | None) -> str:
        if limit is None:
            return ""
        return f"{'≤' if self.at_most else '≥'} {limit:g}"


@dataclass(frozen=True)
class TargetGroup:
    title: str
    targets: tuple[Target, ...]


ISSUE_19 = TargetGroup(
    "Targets of issue 19 (ratios to the bare fetch of the same window)",
    (
        Target(
            "changed run (100 slots) / bare fetch, 100k",
            "e2e_changed_seconds_100k",
            10.0,
            "bare_fetch_seconds_100k",
            stretch=8.0,
        ),
        Target(
            "no-change run (drift check included) / bare fetch, 100k",
            "e2e_nochange_seconds_100k",
            4.0,
            "bare_fetch_seconds_100k",
            stretch=3.0,
        ),
        Target(
            "first run / bare fetch, 100k",
            "e2e_first_seconds_100k",
            20.0,
            "bare_fetch_seconds_100k",
            stretch=15.0,
        ),
        Target(
            "exporter / seed's algorithm, 10k rows, 1 ms",
            "exporter_speedup_10k_1ms",
            60.0,
            at_most=False,
        ),
        Target(
            "Batigest round trips per 1,000 rows, both drivers", "batigest_roundtrips_per_1000", 8
        ),
        Target("peak RSS 100k / 20k", "peak_rss_mb_100k", 1.3, "peak_rss_mb_20k"),
        Target("peak RSS at 100k (MiB)", "peak_rss_mb_100k", 365.0),
    ),
)

ISSUE_20 = TargetGroup(
    "Target of issue 20 (dossiers)",
    (
        Target(
            "20 dossiers x 2k, `--jobs 2` / one by one",
            "dossiers_20x2k_seconds",
            0.7,
            "dossiers_20x2k_serial_seconds",
        ),
    ),
)

EARLIER = TargetGroup(
    "Earlier targets, kept (issues 10 and 13)",
    (
        Target(
            "no-change / first run, 20k",
            "e2e_nochange_seconds_20k",
            0.2,
            "e2e_first_seconds_20k",
        ),
        Target(
            "no-change / first run, 100k",
            "e2e_nochange_seconds_100k",
            0.2,
            "e2e_first_seconds_100k",
        ),
        Target(
            "first run / bare fetch, 100k", "e2e_first_seconds_100k", 3.0, "bare_fetch_seconds_100k"
        ),
        Target(
            "no-change run / bare fetch, 100k",
            "e2e_nochange_seconds_100k",
            1.5,
            "bare_fetch_seconds_100k",
        ),
        Target(
            "exporter / seed's algorithm, 10k rows, 1 ms",
            "exporter_speedup_10k_1ms",
            40.0,
            at_most=False,
        ),
        Target("Batigest round trips per 1,000 rows", "batigest_roundtrips_per_1000", 10),
        Target("peak RSS at 100k (MiB)", "peak_rss_mb_100k", 400.0),
    ),
)

GROUPS = (ISSUE_19, ISSUE_20, EARLIER)

__all__ = ["GROUPS", "KEYS", "Target", "TargetGroup"]
