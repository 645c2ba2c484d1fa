"""The recette tool's run: reload and rebuild (`--update-codes`), plan or apply the
export (`--apply`), then list each slot's state."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from batisync.core.connections import make_batigest_engine
from batisync.core.logs import ProgressDisplay
from batisync.core.settings import Settings
from batisync.orchestrate.record import Recording
from batisync.tools.recette.reads import raw_trace, read_slots, read_suivimo
from batisync.tools.recette.verdict import mapped_key, render
from batisync.transform.build import PUBLISH_SELECT, TRANSFORM_SELECT, adopt_old_table, dbt_env
from batisync.transform.build import build as dbt_build

log = logging.getLogger(__name__)


def load_window(settings: Settings, days: int) -> None:
    """Projects, Salarie and the slots of the last `days` days, like the sync's load."""
    from batisync.loader.config import load_with_settings
    from batisync.loader.window import sliding_window, utc_today

    window = sliding_window(days, utc_today())
    report = load_with_settings(settings, window, written_by="debug-heures --update-codes")
    for name, counts in report.to_dict()["resources"].items():
        print(
            f"reloaded {name}: fetched {counts['fetched']}, new {counts['new']}, "
            f"changed {counts['changed']}, deleted {counts['deleted']}"
        )


def build(settings: Settings, select: Sequence[str], display: ProgressDisplay) -> None:
    adopt_old_table(settings)  # the old connector's batigest_heures, before dbt writes it
    with display.stage("dbt") as task:
        report = dbt_build(
            ["build", "--select", *select],
            dbt_env(settings),
            progress=lambda detail: task.update(detail=detail),
        )
    print(f"{report.command}: {report.passed} nodes passed")


def export(settings: Settings, id_heure: str | None, apply: bool) -> Any:
    from batisync.export.config import checked_options, engines_from_settings
    from batisync.export.runner import run_export

    with engines_from_settings(settings) as (staging, batigest):
        options = checked_options(settings, batigest)
        return run_export(staging, batigest, options, dry_run=not apply, id_heure=id_heure)


@dataclass(frozen=True)
class Options:
    days: int
    id_heure: str | None
    update_codes: bool
    apply: bool
    verbose: bool

    @property
    def writes(self) -> bool:
        return self.update_codes or self.apply


def run_recette(
    settings: Settings,
    options: Options,
    display: ProgressDisplay,
    recording: Recording | None = None,
) -> int:
    """Reload (`--update-codes`), plan or apply the export, then list each slot's state.
    With `recording` (`--apply`), the export's counts go to sync_runs."""
    if options.update_codes:
        load_window(settings, options.days)
        build(settings, [*TRANSFORM_SELECT, *PUBLISH_SELECT], display)

    report = export(settings, options.id_heure, options.apply)
    if recording is not None:
        recording.finish("success", "export", report)
    plans = [p for p in report.plans if p.action != "unchanged" or options.verbose]
    if options.id_heure is None:
        print(f"export plan: {len(plans)} slot(s) to write or reject in the whole window")
    mode = "applied" if options.apply else "plan (dry run, nothing written; --apply writes it)"
    print(f"export {mode}: {report.counts_text()}")
    for plan in plans[: 50 if options.id_heure is None else None]:
        print(f"  {plan.describe()}")
    if options.apply and (report.inserted or report.updated or report.moved):
        build(settings, list(PUBLISH_SELECT), display)  # batigest_heures.sync follows

    since = datetime.now(UTC).date() - timedelta(days=options.days)
    with psycopg.connect(**settings.staging.conninfo()) as conn:
        rows = read_slots(conn, settings.dbt_schema, since=since, id_heure=options.id_heure)
        if options.id_heure is not None and not rows:
            print(f"slot {options.id_heure}: {raw_trace(conn, options.id_heure)}")
            return 1
    keys = [k for r in rows if (k := mapped_key(r))]
    assert settings.batigest_url is not None
    engine = make_batigest_engine(settings.batigest_url.reveal())
    try:
        suivimo = read_suivimo(engine, settings.batigest_schema, keys)
    finally:
        engine.dispose()
    scope = f"slot {options.id_heure}" if options.id_heure else f"last {options.days} days"
    print(f"\n{len(rows)} slot(s), {scope}:")
    print(render(rows, suivimo, options.verbose))
    return 0


__all__ = ["Options", "run_recette"]
