"""Where the loader writes: the raw datasets and their tables (dbt's sources)."""

from __future__ import annotations

from batisync.loader.source import PROJECTS, QUARANTINE, SALARIE, SLOTS

RAW_BATISIMPLY = "raw_batisimply"
RAW_BATIGEST = "raw_batigest"
PIPELINE_BATISIMPLY = "batisync_batisimply"
PIPELINE_BATIGEST = "batisync_batigest"

SLOTS_TABLE = f"{RAW_BATISIMPLY}.{SLOTS}"
PROJECTS_TABLE = f"{RAW_BATISIMPLY}.{PROJECTS}"
QUARANTINE_TABLE = f"{RAW_BATISIMPLY}.{QUARANTINE}"
SALARIE_TABLE = f"{RAW_BATIGEST}.{SALARIE}"
