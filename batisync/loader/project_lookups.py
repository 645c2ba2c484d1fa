"""Projects a slot names but the project list does not give a code for (archived, or
on a page not read): asked one by one with `GET {API}/project/{id}`, as the old
connector did, each id once per run. The answers go to `raw_batisimply.project_lookups`
(merged on id, so a slot outside this run's window keeps the code found earlier); a 404
is kept too, so `heures_rejected` can say so.

An answer is checked like a project of the list (`records.check_project`: the bounds of
every API value): one the checks refuse (a code of more than 64 characters, one with a
NUL, one not a text...) is quarantined with its reason (resource `project_lookups`) and
kept as `refused`, without its code, so its slots are rejected `no_project_code`, saying
why."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from batisync.loader import bounds, records
from batisync.loader.tables import PROJECT_LOOKUPS

if TYPE_CHECKING:
    from batisync.loader.api.client import BatiSimplyClient

log = logging.getLogger(__name__)

FOUND, NOT_FOUND, REFUSED = "found", "not_found", "refused"


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


def record_without_code(record: Mapping[str, Any]) -> int | None:
    """What `without_code` finds in the row `records.check_slot` makes of `record` (a
    record that passes the checks), read from the record itself: the loader does not
    check again a slot unchanged since its raw row."""
    project = record.get("project")
    if type(project) is not dict and not isinstance(project, Mapping):  # dict: JSON's, fast
        return None
    project_id, code = project.get("id"), project.get("projectCode")
    try:
        return _without_code(project_id, code)
    except TypeError:  # an unhashable code: not remembered
        return _without_code.__wrapped__(project_id, code)


# remembered: every slot of a window names one of a few dozen projects (typed: 1 and
# True are two keys, as `bounded_int` tells them apart)
@functools.lru_cache(maxsize=1024, typed=True)
def _without_code(project_id: Any, code: Any) -> int | None:
    # the row keeps a code only when it is a safe text (`rows.kept_texts`)
    if project_id is None or (bounds.safe_text(code) is not None and code.strip()):
        return None
    return bounds.bounded_int(project_id)


def coded_ids(projects: Sequence[Mapping[str, Any]]) -> set[int]:
    """Ids the project list gives a code for."""
    return {
        p["id"]
        for p in projects
        if isinstance(p.get("id"), int) and str(p.get("projectCode") or "").strip()
    }


@dataclass
class Lookups:
    """The rows for `project_lookups`, and the answers refused, as quarantine rows."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    bad: list[dict[str, Any]] = field(default_factory=list)


def lookup_row(
    project_id: int,
    record: Mapping[str, Any] | None,
    looked_up_at: datetime,
    first_seen: Mapping[str, datetime] | None = None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The `project_lookups` row of one answer (None: a 404), and its quarantine row
    when the checks refuse it."""
    row: dict[str, Any] = {
        "id": project_id,
        "project_code": None,
        "project_name": None,
        "lookup_status": NOT_FOUND,
        "looked_up_at": looked_up_at,
    }
    if record is None:
        return row, None
    # the answer is that of the id asked for: checked (and quarantined) as that project
    answer = {**record, "id": project_id}
    checked = records.check_project(answer)
    if isinstance(checked, records.Rejection):
        key = records.quarantine_key(PROJECT_LOOKUPS, str(project_id), "")
        bad = records.quarantine_row(
            PROJECT_LOOKUPS,
            answer,
            checked.reason,
            looked_up_at,
            detail=f"GET /project/{project_id}: {checked.detail}",
            key=key,
            first_seen_at=(first_seen or {}).get(key),
        )
        return row | {"lookup_status": REFUSED}, bad
    code = checked.get("projectCode")
    return row | {
        "project_code": str(code).strip() if code is not None else None,
        "project_name": checked.get("projectName"),
        "lookup_status": FOUND,
    }, None


def look_up(
    client: BatiSimplyClient,
    project_ids: Iterable[int],
    looked_up_at: datetime,
    first_seen: Mapping[str, datetime] | None = None,
) -> Lookups:
    """One `GET /project/{id}` per id (sorted, so a run is reproducible), checked."""
    lookups = Lookups()
    for project_id in sorted(set(project_ids)):
        row, bad = lookup_row(project_id, client.project(project_id), looked_up_at, first_seen)
        lookups.rows.append(row)
        if bad is not None:
            lookups.bad.append(bad)
    if lookups.rows:
        found = sum(r["lookup_status"] == FOUND for r in lookups.rows)
        log.info(
            "projects asked by id: %d (%d found, %d refused)",
            len(lookups.rows),
            found,
            len(lookups.bad),
        )
    return lookups


__all__ = [
    "Lookups",
    "coded_ids",
    "look_up",
    "lookup_row",
    "record_without_code",
    "without_code",
]
