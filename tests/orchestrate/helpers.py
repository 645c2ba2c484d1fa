"""Helpers for the sync tests: psycopg keywords for a test database, recording stages, a
webhook receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from batisync.export.report import ExportReport
from batisync.loader.report import LoadReport, ResourceCounts
from batisync.loader.window import Window
from batisync.orchestrate.stages import StageContext, Stages
from batisync.orchestrate.summary import StageReport
from batisync.transform.build import TransformReport
from devstack.sync_env import conninfo as conninfo_of  # psycopg keywords of a test database


class Recorder:
    """Stages that record their calls; each returns a given report or raises."""

    def __init__(self, **outcomes: StageReport | BaseException) -> None:
        self.outcomes = outcomes
        self.calls: list[str] = []
        self.contexts: list[StageContext] = []

    def stage(self, name: str) -> Callable[[StageContext], StageReport | None]:
        def run(ctx: StageContext) -> StageReport | None:
            self.calls.append(name)
            self.contexts.append(ctx)
            outcome = self.outcomes.get(name)
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


def _load_report() -> LoadReport:
    day = datetime(2026, 5, 4, tzinfo=UTC)
    report = LoadReport(window=Window(day, day), fetched_at=day)
    report.resources["time_slots"] = ResourceCounts(
        fetched=120, new=7, changed=3, deleted=1, quarantined=2
    )
    report.resources["projects"] = ResourceCounts(fetched=12, changed=1)
    return report


def _export_report() -> ExportReport:
    report = ExportReport("20260504T060000Z-abc123", inserted=7, updated=2, moved=1)
    report.unchanged = 90
    report.rejected = [("1", "no_project_code"), ("2", "no_project_code")]
    report.rejected_by_dbt = {"no_project_code": 1, "unknown_salarie": 2}
    return report


WEBHOOK_TOKEN = "hook-token-7Kq2"  # a secret in the webhook's path: never printed


class Receiver:
    """A webhook on loopback: records each POSTed JSON body, answers `status`."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/{WEBHOOK_TOKEN}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


LOAD_REPORT = _load_report()
EXPORT_REPORT = _export_report()
TRANSFORM_REPORT = TransformReport("dbt build --select +to_push", passed=40)

__all__ = [
    "EXPORT_REPORT",
    "LOAD_REPORT",
    "TRANSFORM_REPORT",
    "WEBHOOK_TOKEN",
    "Receiver",
    "Recorder",
    "conninfo_of",
]
