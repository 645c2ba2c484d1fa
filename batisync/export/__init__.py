"""Exporter: applies the dbt marts `to_push` / `heures_gone` to Batigest `SuiviMO`
(set-based, batched) and records what it wrote in `batigest_heures_map`."""

from batisync.core.connections import make_batigest_engine, make_staging_engine
from batisync.export.map_table import ensure_map, map_table
from batisync.export.options import ExportOptions
from batisync.export.reconcile import reconcile
from batisync.export.reconcile_report import ReconcileReport
from batisync.export.report import ExportReport
from batisync.export.runner import run_export
from batisync.export.staging_io import ExportInputError, Marts

__all__ = [
    "ExportInputError",
    "ExportOptions",
    "ExportReport",
    "Marts",
    "ReconcileReport",
    "ensure_map",
    "make_batigest_engine",
    "make_staging_engine",
    "map_table",
    "reconcile",
    "run_export",
]
