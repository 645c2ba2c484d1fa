"""The dbt commands of a production sync: no unit tests, publish without re-testing, one
parse per run, and the expensive intermediate models built as tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from batisync.transform import build as build_module
from batisync.transform.build import PUBLISH_ARGS, TRANSFORM_ARGS, ManifestCache, build
from batisync.transform.dbt_runner import DbtResult, parse_manifest, run_dbt
from devstack.pg import EmbeddedPostgres
from tests.transform.helpers import make_staging

pytestmark = pytest.mark.slow


def _types(result: DbtResult) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node_result in result.raw.results:
        kind = node_result.node.resource_type.value
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def test_transform_tests_the_data_not_the_units_and_publish_only_rebuilds(
    pg: EmbeddedPostgres, tmp_path: Path
) -> None:
    staging = make_staging(pg, "dbt_sync_commands", tmp_path)
    manifest = parse_manifest(env=staging.env)
    assert manifest is not None

    transform = run_dbt(list(TRANSFORM_ARGS), env=staging.env, manifest=manifest)
    publish = run_dbt(list(PUBLISH_ARGS), env=staging.env, manifest=manifest)

    assert transform.success, transform.summary()
    assert publish.success, publish.summary()
    done = _types(transform)
    assert done.get("unit_test", 0) == 0 and done["test"] > 0 and done["model"] > 0
    assert set(_types(publish)) - {"operation"} == {"model"}  # rebuilt, not tested again
    kinds = staging.rows(
        "select table_schema || '.' || table_name as name, table_type from "
        "information_schema.tables where table_name in "
        "('int_time_slots_resolved', 'int_time_slots_pushable', 'stg_batisimply__time_slots')"
    )
    assert {r["name"].split(".")[1]: r["table_type"] for r in kinds} == {
        "int_time_slots_resolved": "BASE TABLE",
        "int_time_slots_pushable": "BASE TABLE",
        "stg_batisimply__time_slots": "VIEW",
    }


def test_the_commands_of_one_run_share_one_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    parses: list[dict[str, str]] = []
    given: list[Any] = []
    manifest = object()

    def fake_parse(*, env: dict[str, str]) -> object:
        parses.append(env)
        return manifest

    def fake_run(
        args: list[str], *, env: dict[str, str], manifest: Any = None, on_node: Any = None
    ) -> DbtResult:
        given.append(manifest)
        return DbtResult(tuple(args), True)

    monkeypatch.setattr(build_module, "parse_manifest", fake_parse)
    monkeypatch.setattr(build_module, "run_dbt", fake_run)
    cache = ManifestCache()
    build(list(TRANSFORM_ARGS), {"PGDATABASE": "x"}, manifests=cache)
    build(list(PUBLISH_ARGS), {"PGDATABASE": "x"}, manifests=cache)
    build(["build"], {"PGDATABASE": "x"})  # no cache: dbt parses by itself

    assert len(parses) == 1
    assert given == [manifest, manifest, None]


def test_a_parse_made_ahead_serves_the_build_given_its_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The sync parses in a thread while its load ends (`ManifestCache.start`): the build
    uses that manifest only when it runs with the environment the parse was given, and
    parses itself when the parse made ahead failed."""
    parses: list[dict[str, str]] = []

    def fake_parse(*, env: dict[str, str]) -> object:
        parses.append(env)
        if env.get("PGDATABASE") == "broken":
            raise RuntimeError("dbt could not parse")
        return ("manifest", len(parses))

    monkeypatch.setattr(build_module, "parse_manifest", fake_parse)
    ahead = ManifestCache()
    ahead.start({"PGDATABASE": "x", "BATISYNC_SINCE_FROM_TABLE": "1"})
    ahead.start({"PGDATABASE": "y"})  # once per run
    assert ahead.get({"PGDATABASE": "x", "BATISYNC_SINCE_FROM_TABLE": "1"}) == ("manifest", 1)
    assert ahead.get({"PGDATABASE": "x"}) == ("manifest", 1)  # publish reuses it, as before
    assert len(parses) == 1

    other = ManifestCache()
    other.start({"PGDATABASE": "x"})
    assert other.get({"PGDATABASE": "z"}) == ("manifest", 3)  # not the build's env: parsed
    assert parses[-1] == {"PGDATABASE": "z"}

    failed = ManifestCache()
    failed.start({"PGDATABASE": "broken"})
    failed.join()
    assert failed.get({"PGDATABASE": "x"}) == ("manifest", 5)

    def unreachable() -> dict[str, str]:
        raise ConnectionError("Batigest unreachable")

    unprepared = ManifestCache()
    unprepared.prepare(unreachable)  # the build's env could not be computed: no parse
    assert len(parses) == 5
    assert unprepared.get({"PGDATABASE": "x"}) == ("manifest", 6)
