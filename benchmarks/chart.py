"""The chart of `bench/report.md`: a sync's time against the window's slots, per stage,
for the first, no-change and changed runs, and the bare fetch of the same window."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.report_md import STAGES

PANELS = (("first", "first run"), ("nochange", "no-change run"), ("changed", "changed run"))


def draw(sync: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # no display: a file only
    import matplotlib.pyplot as plt

    sizes = sync["sizes"]
    panels = [(kind, title) for kind, title in PANELS if all(kind in s["runs"] for s in sizes)]
    slots = [s["slots"] for s in sizes]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), sharey=True)
    axes = axes if len(panels) > 1 else [axes]
    for ax, (kind, title) in zip(axes, panels, strict=True):
        runs = [s["runs"][kind] for s in sizes]
        for stage in STAGES:
            ax.plot(slots, [r["stages"].get(stage, 0) for r in runs], "o-", label=stage)
        ax.plot(slots, [r["seconds"] for r in runs], "k--", marker="s", label="total")
        bare = [s.get("bare_fetch_s") or 0 for s in sizes]
        ax.plot(slots, bare, ":", color="grey", marker="x", label="bare fetch")
        ax.set_title(title)
        ax.set_xlabel("slots in the window")
        ax.set_xticks(slots, [f"{n / 1000:g}k" for n in slots])
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("seconds")
    axes[-1].legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


__all__ = ["draw"]
