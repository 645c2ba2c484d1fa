"""Helpers for the sync tests: psycopg keywords for a test database, recording stages."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa

from batisync.orchestrate.sync import StageContext, StageFailed, Stages


def conninfo_of(url: str) -> dict[str, Any]:
    parsed = sa.make_url(url)
    return {
        "host": parsed.host,
        "port": parsed.port,
        "user": parsed.username,
        "password": parsed.password,
        "dbname": parsed.database,
    }


class Recorder:
    """Stages that record their calls; each returns a given report or raises."""

    def __init__(self, **outcomes: Mapping[str, Any] | BaseException) -> None:
        self.outcomes = outcomes
        self.calls: list[str] = []
        self.contexts: list[StageContext] = []

    def stage(self, name: str) -> Callable[[StageContext], Mapping[str, Any]]:
        def run(ctx: StageContext) -> Mapping[str, Any]:
            self.calls.append(name)
            self.contexts.append(ctx)
            outcome = self.outcomes.get(name, {})
            if isinstance(outcome, BaseException):
                raise outcome
            return outcome

        return run

    def stages(self, publish: bool = False) -> Stages:
        return Stages(
            load=self.stage("load"),
            transform=self.stage("transform"),
            export=self.stage("export"),
            publish=self.stage("publish") if publish else None,
        )


LOAD_REPORT = {
    "resources": {
        "time_slots": {"fetched": 120, "new": 7, "changed": 3, "deleted": 1, "quarantined": 2},
        "projects": {"fetched": 12, "new": 0, "changed": 1, "deleted": 0, "quarantined": 0},
    }
}
EXPORT_REPORT = {
    "inserted": 7,
    "updated": 2,
    "moved": 1,
    "unchanged": 90,
    "retracted": 0,
    "rejected": 5,
    "rejected_reasons": {"no_project_code": 3, "unknown_salarie": 2},
}

__all__ = ["EXPORT_REPORT", "LOAD_REPORT", "Recorder", "StageFailed", "conninfo_of"]
