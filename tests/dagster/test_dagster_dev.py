"""`dagster dev` on the code location, as `make dagster` starts it: the sensor makes the
dossier folders partitions, runs launched through the GraphQL API go through the run
queue of the shipped dagster.yaml (one run per dossier at a time, the pool's limit on the
runs in progress), a failed dossier alerts through its webhook, and the web UI, rendered
by headless Chromium, lists the dossiers' runs.

Its dossiers are the package's fleet (tests/dagster/conftest.py): synced already when
test_asset.py ran first, so these runs are quick no-change syncs; run alone, they are
first syncs."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

dg = pytest.importorskip("dagster", reason="the dagster extra is not installed: make setup")

from dagster_graphql import DagsterGraphQLClient  # noqa: E402

from batisync_dagster.asset import POOL, SYNC_ASSET  # noqa: E402
from batisync_dagster.automation import sync_job  # noqa: E402
from batisync_dagster.dossiers import DOSSIERS  # noqa: E402
from devstack.dagster_demo import (  # noqa: E402
    DemoDossier,
    dagster_env,
    dagster_home,
    start_dagster_dev,
    stop_dagster_dev,
    wait_until_up,
)
from devstack.dossiers import write_dossier  # noqa: E402
from devstack.pg import EmbeddedPostgres, free_port  # noqa: E402
from tests.dagster.webserver import overlap, rendered_page, runs_of_job  # noqa: E402
from tests.orchestrate.helpers import WEBHOOK_TOKEN, Receiver  # noqa: E402

pytestmark = pytest.mark.slow

POOL_LIMIT = 2  # batisync_dagster/dagster.yaml: pools.default_limit
DONE = {"SUCCESS", "FAILURE", "CANCELED"}


@pytest.fixture
def unconfigured(dossiers_folder: Path, receiver: Receiver) -> Iterator[str]:
    """A dossier folder with nothing but its webhook: its sync exits 2 (misconfigured),
    without alerting by itself."""
    name = "unconfigured"
    write_dossier(dossiers_folder, name, {"ALERT_WEBHOOK_URL": receiver.url})
    yield name
    shutil.rmtree(dossiers_folder / name)


def until(what: str, check: object, timeout_s: float, every_s: float = 2) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if found := check():  # type: ignore[operator]
            return found
        time.sleep(every_s)
    raise AssertionError(f"{what}: not after {timeout_s:g} s")


def test_dagster_dev_runs_the_dossiers_through_its_queue_and_shows_them(
    pg: EmbeddedPostgres,
    fleet: list[DemoDossier],
    unconfigured: str,
    dossiers_folder: Path,
    dbt_tests_cache: Path,
    data_test_list: list,
    receiver: Receiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alpha, beta = fleet
    home = tmp_path / "dagster_home"
    instance_env = dagster_home(pg, home, f"dagster_{tmp_path.name}"[:60])
    (home / "batisync").mkdir()
    for cached in dbt_tests_cache.glob("dbt_tests-*.json"):  # no second `dbt ls`
        shutil.copy(cached, home / "batisync" / cached.name)
    for key, value in instance_env.items():
        monkeypatch.setenv(key, value)
    port = free_port()
    log = tmp_path / "dagster_dev.log"
    proc = start_dagster_dev(dagster_env(instance_env, dossiers_folder), port, log)
    try:
        wait_until_up(port, proc, timeout_s=300)
        instance = dg.DagsterInstance.get()  # the same PostgreSQL storage
        expected = {alpha.name, beta.name, unconfigured}
        until(
            "the sensor made every dossier folder a partition",
            lambda: set(instance.get_dynamic_partitions(DOSSIERS.name)) == expected,
            timeout_s=120,
        )

        client = DagsterGraphQLClient("127.0.0.1", port_number=port)
        order = [alpha.name, alpha.name, beta.name, unconfigured]  # alpha twice at once
        launched = {
            client.submit_job_execution(sync_job.name, tags={"dagster/partition": name}): name
            for name in order
        }
        until(
            "every run ended",
            lambda: all(client.get_run_status(i).value in DONE for i in launched),
            timeout_s=420,
        )

        runs = {run["runId"]: run for run in runs_of_job(port, sync_job.name)}
        assert set(runs) == set(launched)
        for run_id, name in launched.items():
            assert runs[run_id]["tags"]["dagster/partition"] == name
            assert runs[run_id]["status"] == ("FAILURE" if name == unconfigured else "SUCCESS")
        first, second = sorted(
            (r for r in runs.values() if r["tags"]["dagster/partition"] == alpha.name),
            key=lambda run: run["startTime"],
        )
        assert second["startTime"] >= first["endTime"]  # queued: never two syncs of alpha
        assert "batisync/skipped" not in second["tags"]  # the queue held it, not the lock
        # run granularity: a run holds its pool slot from its dequeue to its end (its op
        # claims nothing), so the runs' start-to-end intervals are what the limit bounds
        assert overlap(list(runs.values())) <= POOL_LIMIT
        assert instance.event_log_storage.get_concurrency_info(POOL).slot_count == POOL_LIMIT
        for name in (alpha.name, beta.name):  # each successful run synced its dossier
            records = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=SYNC_ASSET, asset_partitions=[name]), limit=5
            ).records
            assert {r.run_id for r in records} == {i for i, n in launched.items() if n == name}

        # the misconfigured dossier: the sync did not alert (exit 2), Dagster did, once
        until(
            "the failure sensor posted to the dossier's webhook",
            lambda: [b for b in receiver.bodies if b.get("source") == "dagster"],
            timeout_s=120,
        )
        (alert,) = [b for b in receiver.bodies if b.get("source") == "dagster"]
        assert (alert["dossier"], alert["exit_code"]) == (unconfigured, 2)
        assert alert["status"] == "failed"
        assert "BATISIMPLY_API_URL" in alert["error"] and alert["dagster_run_id"] in launched
        assert WEBHOOK_TOKEN not in log.read_text()

        page = rendered_page(f"http://127.0.0.1:{port}/runs")
        for run_id, name in launched.items():
            assert f'href="/runs/{run_id}"' in page, f"run {run_id} not in the runs page"
            assert f'data-tooltip="partition: {name}"' in page
        assert page.count(">Success<") >= 3 and ">Failure<" in page
    except BaseException:
        print("dagster dev's log, last lines:\n" + "\n".join(log.read_text().splitlines()[-80:]))
        raise
    finally:
        stop_dagster_dev(proc)
