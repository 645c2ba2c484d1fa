"""The exporter run with the configured values: the one place that maps `Settings` to the
engines and to `run_export` / `reconcile`'s parameters (the sync, `batisync export` and
`debug_heures` share it).

The engines are a separate step so that a caller can tell a Batigest URL SQLAlchemy
cannot use (a configuration error) from a failure of the run itself.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

import sqlalchemy as sa

from batisync.core.connections import make_batigest_engine, make_staging_engine
from batisync.core.errors import ConfigError
from batisync.core.settings import Settings
from batisync.export.catalog import read_facts
from batisync.export.drift_report import DriftReport
from batisync.export.heal import check_drift
from batisync.export.inspection import Adaptation, Assessment, Finding, assess
from batisync.export.reconcile import ReconcileReport, reconcile
from batisync.export.rejections import rejections_by_reason
from batisync.export.report import ExportReport
from batisync.export.runner import run_export

log = logging.getLogger(__name__)


@contextlib.contextmanager
def engines_from_settings(settings: Settings) -> Iterator[tuple[sa.Engine, sa.Engine]]:
    """(staging, batigest) engines, disposed on exit; raises ConfigError without BATIGEST_URL."""
    settings.require("BATIGEST_URL")
    assert settings.batigest_url is not None  # require() checked it
    staging = make_staging_engine(settings.staging.sqlalchemy_url())
    batigest = make_batigest_engine(settings.batigest_url.reveal())
    try:
        yield staging, batigest
    finally:
        staging.dispose()
        batigest.dispose()


class BatigestUnfit(ConfigError):
    """What Batigest's catalog shows would corrupt data or fail every write: exit 2."""

    def __init__(self, errors: list[Finding]) -> None:
        found = "; ".join(str(e) for e in errors)
        super().__init__("BATIGEST_URL", f"the Batigest database does not fit: {found}")
        self.findings = errors


def inspect_batigest(settings: Settings, batigest: sa.Engine) -> Assessment:
    """Read Batigest's catalog and judge it (read only)."""
    with batigest.connect() as conn:
        return assess(read_facts(conn, settings.batigest_schema))


def checked_batigest(settings: Settings, batigest: sa.Engine) -> Assessment:
    """The assessment, or BatigestUnfit before anything is written."""
    assessment = inspect_batigest(settings, batigest)
    if assessment.errors:
        raise BatigestUnfit(assessment.errors)
    for warning in assessment.warnings:
        log.warning("Batigest %s", warning)
    return assessment


def export_with_settings(
    settings: Settings,
    staging: sa.Engine,
    batigest: sa.Engine,
    *,
    dry_run: bool = False,
    id_heure: str | None = None,
    force: bool = False,
    run_id: str | None = None,
    with_dbt_rejections: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ExportReport:
    """`run_export` with the configured schemas, batch size and retract policy, adapted to
    what the Batigest inspection found (raises BatigestUnfit before any write);
    `with_dbt_rejections` counts heures_rejected in the report (the sync's whole picture)."""
    adapt = checked_batigest(settings, batigest).adapt
    by_reason: dict[str, int] = {}
    new_by_reason: dict[str, int] = {}
    if with_dbt_rejections:
        with staging.connect() as conn:
            by_reason, new_by_reason = rejections_by_reason(conn, settings.dbt_schema)
    return run_export(
        staging,
        batigest,
        schema=settings.batigest_schema,
        staging_schema=settings.dbt_schema,
        batch_size=settings.batch_size,
        on_gone=settings.on_gone,
        retract_max_share=settings.retract_max_share,
        force=force,
        dry_run=dry_run,
        id_heure=id_heure,
        run_id=run_id,
        row_by_row=adapt.row_by_row,
        case_sensitive_keys=adapt.case_sensitive_keys,
        rejected_by_dbt=by_reason,
        rejected_new_by_dbt=new_by_reason,
        progress=progress,
    )


def reconcile_with_settings(
    settings: Settings, staging: sa.Engine, batigest: sa.Engine, *, repair: bool = False
) -> ReconcileReport:
    """`reconcile` with the configured schemas and batch size (a repair is adapted to the
    Batigest inspection, like an export)."""
    adapt = checked_batigest(settings, batigest).adapt
    return reconcile(
        staging,
        batigest,
        schema=settings.batigest_schema,
        staging_schema=settings.dbt_schema,
        repair=repair,
        batch_size=settings.batch_size,
        row_by_row=adapt.row_by_row,
        case_sensitive_keys=adapt.case_sensitive_keys,
    )


def drift_with_settings(
    settings: Settings,
    staging: sa.Engine,
    batigest: sa.Engine,
    adapt: Adaptation,
    *,
    dry_run: bool = False,
    run_id: str = "",
) -> DriftReport:
    """`check_drift` with the configured schemas, batch size and HEURES_ON_DRIFT, adapted
    to the run's Batigest inspection (`adapt`: the sync inspects once per run)."""
    return check_drift(
        staging,
        batigest,
        schema=settings.batigest_schema,
        staging_schema=settings.dbt_schema,
        policy=settings.on_drift,
        dry_run=dry_run,
        run_id=run_id,
        batch_size=settings.batch_size,
        row_by_row=adapt.row_by_row,
        case_sensitive_keys=adapt.case_sensitive_keys,
        accent_insensitive_keys=adapt.accent_insensitive_keys,
    )
