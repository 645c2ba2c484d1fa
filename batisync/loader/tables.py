"""Where the loader writes: the raw datasets, their tables (dbt's sources) and each
table's column hints, the names and types docs/ARCHITECTURE.md fixes (dbt builds on
them; `tests/transform/test_declarations.py` checks them against dbt's own list).

dlt is imported for type checking only: the run summary and the staging generation
read these names in commands that never load, which must not pay for importing dlt."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dlt.common.schema.typing import TTableSchemaColumns

RAW_BATISIMPLY = "raw_batisimply"
RAW_BATIGEST = "raw_batigest"
PIPELINE_BATISIMPLY = "batisync_batisimply"
PIPELINE_BATIGEST = "batisync_batigest"

# raw_batisimply
SLOTS = "time_slots"
PROJECTS = "projects"
QUARANTINE = "quarantine"
PROJECT_LOOKUPS = "project_lookups"
# raw_batigest
SALARIE = "salarie"
CHANTIERS = "chantiers"
CHANTIER_CHECK = "chantier_check"

SLOTS_TABLE = f"{RAW_BATISIMPLY}.{SLOTS}"
# every raw row carries the staging generation (generation.py) of the load that last
# changed its content or deletion marks: the transform reads only rows newer than the
# generation its last complete run read (issue 19). dlt writes it null; the load stamps
# it right after (row_generations.py, deletions.py).
GENERATION_COLUMN: TTableSchemaColumns = {"_generation": {"data_type": "bigint", "nullable": True}}
PROJECTS_TABLE = f"{RAW_BATISIMPLY}.{PROJECTS}"
QUARANTINE_TABLE = f"{RAW_BATISIMPLY}.{QUARANTINE}"
SALARIE_TABLE = f"{RAW_BATIGEST}.{SALARIE}"

# start_date/end_date stay TEXT: the original UTC strings, never parsed by dlt.
SLOT_COLUMNS: TTableSchemaColumns = {
    "id": {"data_type": "text", "nullable": False, "primary_key": True},
    "start_date": {"data_type": "text"},
    "end_date": {"data_type": "text"},
    "user__id": {"data_type": "text"},
    # the employee's name, for the people fixing rejected slots (heures_rejected)
    "user__first_name": {"data_type": "text", "nullable": True},
    "user__last_name": {"data_type": "text", "nullable": True},
    "project__id": {"data_type": "bigint"},
    # the real API may embed the project's code in the slot (issue 11)
    "project__project_code": {"data_type": "text", "nullable": True},
    "management_status": {"data_type": "text"},
    "total_time_minutes": {"data_type": "double"},
    "has_packed_lunch": {"data_type": "bool"},
    "has_home_to_work_journey": {"data_type": "bool"},
    "_content_hash": {"data_type": "text"},
    "_extra": {"data_type": "text", "nullable": True},
    "_fetched_at": {"data_type": "timestamp"},
    "_deleted_at": {"data_type": "timestamp", "nullable": True},
    # set when a slot marked deleted is still absent from a later complete fetch: only
    # then may HEURES_ON_GONE=delete retract its row (see deletions.py)
    "_gone_confirmed_at": {"data_type": "timestamp", "nullable": True},
    **GENERATION_COLUMN,
}
# the short texts a slot row keeps when the API sends them (rows.py): dlt would create
# each column the first time it sees a value (inferring its type); hinted only for a
# table that lacks them (`slot_hints`), so that a table created by an older version,
# whose column dlt typed from its first value, keeps its type
OPTIONAL_SLOT_COLUMNS: TTableSchemaColumns = {
    "project__project_name": {"data_type": "text", "nullable": True},
    "comment": {"data_type": "text", "nullable": True},
    "created_at": {"data_type": "timestamp", "nullable": True},
    "updated_at": {"data_type": "timestamp", "nullable": True},
}
QUARANTINE_COLUMNS: TTableSchemaColumns = {
    "quarantine_key": {"data_type": "text", "nullable": False, "primary_key": True},
    "resource": {"data_type": "text"},
    "record_id": {"data_type": "text", "nullable": True},
    "reason": {"data_type": "text"},
    "detail": {"data_type": "text", "nullable": True},
    "payload": {"data_type": "text"},
    "management_status": {"data_type": "text", "nullable": True},
    "first_seen_at": {"data_type": "timestamp"},
    "last_seen_at": {"data_type": "timestamp"},
    **GENERATION_COLUMN,
}
PROJECT_COLUMNS: TTableSchemaColumns = {
    "id": {"data_type": "bigint"},
    "project_code": {"data_type": "text", "nullable": True},
    "project_name": {"data_type": "text", "nullable": True},
    "_content_hash": {"data_type": "text"},
    "_extra": {"data_type": "text", "nullable": True},
    **GENERATION_COLUMN,
}
LOOKUP_COLUMNS: TTableSchemaColumns = {
    "id": {"data_type": "bigint", "nullable": False, "primary_key": True},
    "project_code": {"data_type": "text", "nullable": True},
    "project_name": {"data_type": "text", "nullable": True},
    "lookup_status": {"data_type": "text"},
    "looked_up_at": {"data_type": "timestamp"},
    **GENERATION_COLUMN,
}
SALARIE_COLUMNS: TTableSchemaColumns = {
    "code": {"data_type": "text"},
    "nom": {"data_type": "text", "nullable": True},
    "codebs": {"data_type": "text", "nullable": True},
    "_content_hash": {"data_type": "text"},
    **GENERATION_COLUMN,
}
CHANTIER_COLUMNS: TTableSchemaColumns = {"code": {"data_type": "text"}, **GENERATION_COLUMN}
CHECK_COLUMNS: TTableSchemaColumns = {
    "is_on": {"data_type": "bool"},
    "detail": {"data_type": "text"},
    "checked_at": {"data_type": "timestamp"},
    **GENERATION_COLUMN,
}


def slot_hints(stored: Iterable[str]) -> TTableSchemaColumns:
    """The time slots' hints for dlt: SLOT_COLUMNS, and those of OPTIONAL_SLOT_COLUMNS
    the table (`stored`: its column names, none when it does not exist) lacks."""
    present = set(stored)
    optional = {k: v for k, v in OPTIONAL_SLOT_COLUMNS.items() if k not in present}
    return {**SLOT_COLUMNS, **optional}
