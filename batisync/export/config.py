"""The exporter with the configured values: the one place that turns `Settings` into the
engines and, through the Batigest inspection, the `ExportOptions` that `run_export`,
`reconcile` and `check_drift` share (the sync, `batisync export`, `batisync reconcile`
and `debug-heures` use it).

The engines are a separate step so that a caller can tell a Batigest URL SQLAlchemy
cannot use (a configuration error) from a failure of the run itself.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import sqlalchemy as sa

from batisync.core.connections import make_batigest_engine, make_staging_engine
from batisync.core.errors import ConfigError
from batisync.core.settings import Settings
from batisync.export.catalog import read_facts
from batisync.export.inspection import Assessment, Finding, assess
from batisync.export.options import ExportOptions

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


def checked_options(settings: Settings, batigest: sa.Engine) -> ExportOptions:
    """The export's options: the settings adapted to what the Batigest inspection found
    (raises BatigestUnfit before any write)."""
    return ExportOptions.from_settings(settings, checked_batigest(settings, batigest).adapt)


__all__ = [
    "BatigestUnfit",
    "checked_batigest",
    "checked_options",
    "engines_from_settings",
    "inspect_batigest",
]
