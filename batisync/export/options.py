"""What every export, reconcile and drift heal of a run shares: the configured values
adapted to what the Batigest inspection found, built once (`ExportOptions.from_settings`).

What changes from one call to the next (a dry run, one slot, `--force`, the run id, the
progress callback) stays an argument of `run_export`, `reconcile` and `check_drift`.
"""

from __future__ import annotations

from dataclasses import dataclass

from batisync.core.settings import Settings
from batisync.export.inspection import Adaptation
from batisync.export.model import KeyNorm, key_norm_for
from batisync.export.statements import BatchStatements

ON_GONE = ("keep", "delete")
ON_DRIFT = ("repair", "report")


@dataclass(frozen=True)
class ExportOptions:
    """The defaults are the settings' defaults on a Batigest without triggers, with a
    case-insensitive, accent-sensitive collation."""

    batigest_schema: str = "dbo"  # BATIGEST_SCHEMA: SuiviMO's schema
    staging_schema: str = "public"  # DBT_SCHEMA: the marts and batigest_heures_map
    batch_size: int = 1000  # EXPORT_BATCH_SIZE: rows per SuiviMO transaction
    on_gone: str = "keep"  # HEURES_ON_GONE: keep or delete the rows of gone slots
    retract_max_share: float = 0.1  # HEURES_RETRACT_MAX_SHARE: above it, --force retracts
    on_drift: str = "repair"  # HEURES_ON_DRIFT: restore a row deleted or edited by hand
    # from the inspection (`inspection.Adaptation`)
    row_by_row: bool = False  # triggers on SuiviMO: one row per statement
    case_sensitive_keys: bool = False  # keys differing by case are two keys
    accent_insensitive_keys: bool = False  # the drift stage reports a missing row instead

    def __post_init__(self) -> None:
        if self.on_gone not in ON_GONE:
            raise ValueError(f"on_gone must be one of {ON_GONE}, got {self.on_gone!r}")
        if self.on_drift not in ON_DRIFT:
            raise ValueError(f"on_drift must be one of {ON_DRIFT}, got {self.on_drift!r}")
        if self.batch_size < 1:
            raise ValueError("batch size must be at least 1")

    @classmethod
    def from_settings(cls, settings: Settings, adaptation: Adaptation) -> ExportOptions:
        """The configured values, adapted to the Batigest inspection's `adaptation`."""
        return cls(
            batigest_schema=settings.batigest_schema,
            staging_schema=settings.dbt_schema,
            batch_size=settings.batch_size,
            on_gone=settings.on_gone,
            retract_max_share=settings.retract_max_share,
            on_drift=settings.on_drift,
            row_by_row=adaptation.row_by_row,
            case_sensitive_keys=adaptation.case_sensitive_keys,
            accent_insensitive_keys=adaptation.accent_insensitive_keys,
        )

    def key_norm(self, dialect_name: str) -> KeyNorm:
        """Key equality as the target's collation sees it."""
        return key_norm_for(dialect_name, case_sensitive=self.case_sensitive_keys)

    def statements(self, dialect_name: str) -> BatchStatements:
        """The batch statements for the target's dialect, in SuiviMO's schema."""
        return BatchStatements(dialect_name, self.batigest_schema, row_by_row=self.row_by_row)


DEFAULT_OPTIONS = ExportOptions()

__all__ = ["DEFAULT_OPTIONS", "ON_DRIFT", "ON_GONE", "ExportOptions"]
