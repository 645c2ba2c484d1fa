"""Projects a slot names but the project list does not give a code for (archived, or
on a page not read): asked one by one with `GET {API}/project/{id}`, as the old
connector did, each id once per run. The answers go to `raw_batisimply.project_lookups`
(merged on id, so a slot outside this run's window keeps the code found earlier); a 404
is kept too, so `heures_rejected` can say so."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import dlt
from dlt.common.schema.typing import TTableSchemaColumns
from dlt.extract.resource import DltResource

from batisync.extract.client import BatiSimplyClient

log = logging.getLogger("loader.project_lookups")

PROJECT_LOOKUPS = "project_lookups"
FOUND, NOT_FOUND = "found", "not_found"
LOOKUP_COLUMNS: TTableSchemaColumns = {
    "id": {"data_type": "bigint", "nullable": False, "primary_key": True},
    "project_code": {"data_type": "text", "nullable": True},
    "project_name": {"data_type": "text", "nullable": True},
    "lookup_status": {"data_type": "text"},
    "looked_up_at": {"data_type": "timestamp"},
}


def without_code(rows: Iterable[Mapping[str, Any]]) -> set[int]:
    """Project ids of checked slot rows that do not carry their own `projectCode`."""
    ids = set()
    for row in rows:
        project = row.get("project")
        if not isinstance(project, Mapping) or not isinstance(project.get("id"), int):
            continue
        code = project.get("projectCode")
        if not (isinstance(code, str | int) and str(code).strip()):
            ids.add(project["id"])
    return ids


def coded_ids(projects: Sequence[Mapping[str, Any]]) -> set[int]:
    """Ids the project list gives a code for."""
    return {
        p["id"]
        for p in projects
        if isinstance(p.get("id"), int) and str(p.get("projectCode") or "").strip()
    }


def look_up(
    client: BatiSimplyClient, project_ids: Iterable[int], looked_up_at: datetime
) -> list[dict[str, Any]]:
    """One `GET /project/{id}` per id (sorted, so a run is reproducible)."""
    rows = []
    for project_id in sorted(set(project_ids)):
        record = client.project(project_id)
        code = record.get("projectCode") if record else None
        rows.append(
            {
                "id": project_id,
                "project_code": str(code).strip() if code is not None else None,
                "project_name": record.get("projectName") if record else None,
                "lookup_status": FOUND if record is not None else NOT_FOUND,
                "looked_up_at": looked_up_at,
            }
        )
    if rows:
        found = sum(r["lookup_status"] == FOUND for r in rows)
        log.info("projects asked by id: %d (%d found)", len(rows), found)
    return rows


@dlt.source(name="batisimply")  # the time slots' source name: one dlt schema for the dataset
def lookups_source(rows: Sequence[Mapping[str, Any]]) -> DltResource:
    return lookups_resource(rows)


def lookups_resource(rows: Sequence[Mapping[str, Any]]) -> DltResource:
    @dlt.resource(
        name=PROJECT_LOOKUPS, write_disposition="merge", primary_key="id", columns=LOOKUP_COLUMNS
    )
    def project_lookups() -> Iterator[Any]:
        yield dlt.mark.materialize_table_schema()
        if rows:
            yield list(rows)

    return project_lookups()


__all__ = [
    "PROJECT_LOOKUPS",
    "coded_ids",
    "look_up",
    "lookups_resource",
    "lookups_source",
    "without_code",
]
