"""dbt's preparation (import and parse in a thread, `transform.build.ManifestCache.start`)
starts during the load only when the transform will run: the load is about to write
slots, or the run knew before its load that it cannot skip. A run the no-change check
may skip never starts it (it must not import dbt)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from batisync.core.logs import StageTask
from batisync.core.settings import Settings
from batisync.loader import config as loader_config
from batisync.orchestrate.stages import StageContext
from batisync.orchestrate.wiring import load_stage


def _load_writing(slots: int, events: list[str]) -> Any:
    def fake_load(settings: Settings, window: Any, **options: Any) -> str:
        events.append("fetch")
        options["on_fetched"](slots)
        events.append("write")
        return "report"

    return fake_load


@pytest.mark.parametrize(
    ("slots", "certain", "prepared"),
    [(0, False, False), (3, False, True), (0, True, True), (3, True, True)],
)
def test_the_preparation_starts_after_the_fetch_only_when_the_transform_will_run(
    monkeypatch: pytest.MonkeyPatch, slots: int, certain: bool, prepared: bool
) -> None:
    events: list[str] = []
    monkeypatch.setattr(loader_config, "load_with_settings", _load_writing(slots, events))
    stage = load_stage(
        Settings(),
        lambda: events.append("prepare"),
        lambda: events.append("ask") or certain,
        lambda: events.append("wait"),
    )

    report = stage(StageContext("run", StageTask("load", None, logging.getLogger())))

    assert report == "report"
    assert events == ["ask", "fetch", *(["prepare"] if prepared else []), "write", "wait"]
