"""dbt's preparation (its worker process started, `transform.worker.DbtWorker`) starts
as soon as the transform is known to run: before the load when the run knew it cannot
skip, else at the load's first record to write, while the fetch goes on. A run the
no-change check may skip never starts it (it must not start dbt); the load stage never
waits for it."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from batisync.core.logs import StageTask
from batisync.core.settings import Settings
from batisync.loader import config as loader_config
from batisync.orchestrate.stages import StageContext
from batisync.orchestrate.wiring import load_stage


def _load_writing(writes: bool, events: list[str]) -> Any:
    def fake_load(settings: Settings, window: Any, **options: Any) -> str:
        events.append("fetch")
        if writes:
            options["on_writing"]()
        events.append("write")
        return "report"

    return fake_load


@pytest.mark.parametrize(
    ("writes", "certain", "expected"),
    [
        (False, False, ["ask", "fetch", "write"]),
        (True, False, ["ask", "fetch", "prepare", "write"]),
        (False, True, ["ask", "prepare", "fetch", "write"]),
        (True, True, ["ask", "prepare", "fetch", "prepare", "write"]),  # started once
    ],
)
def test_the_preparation_starts_as_soon_as_the_transform_is_known_to_run(
    monkeypatch: pytest.MonkeyPatch, writes: bool, certain: bool, expected: list[str]
) -> None:
    events: list[str] = []
    monkeypatch.setattr(loader_config, "load_with_settings", _load_writing(writes, events))
    stage = load_stage(
        Settings(),
        lambda: events.append("prepare"),
        lambda: events.append("ask") or certain,
    )

    report = stage(StageContext("run", StageTask("load", None, logging.getLogger())))

    assert report == "report"
    assert events == expected
