"""What a person or a script sees of a running `dagster dev`: its GraphQL API, and its
web UI as headless Chromium renders it (Debian's `chromium`, installed by `make setup`)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import urllib.request
from typing import Any

RUNS_QUERY = """
query BatisyncRuns($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs { results { runId status startTime endTime tags { key value } } }
    ... on PythonError { message }
  }
}
"""


def graphql(port: int, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """POST a query to the webserver's /graphql; its `data` (raises on `errors`)."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        payload = json.load(answer)
    if payload.get("errors"):
        raise AssertionError(f"GraphQL errors: {payload['errors']}")
    return payload["data"]


def runs_of_job(port: int, job: str) -> list[dict[str, Any]]:
    """The job's runs as the GraphQL API lists them, each with its tags as a dict."""
    found = graphql(port, RUNS_QUERY, {"filter": {"pipelineName": job}})["runsOrError"]
    assert found["__typename"] == "Runs", found
    return [run | {"tags": {t["key"]: t["value"] for t in run["tags"]}} for run in found["results"]]


def rendered_page(url: str, budget_ms: int = 20000) -> str:
    """The page's DOM once its scripts ran (`--virtual-time-budget` lets the UI's GraphQL
    requests finish before the dump)."""
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is missing: `make setup` as root installs it"
    with tempfile.TemporaryDirectory(prefix="batisync-chromium-") as profile:
        done = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",  # root in CI containers: Chromium's sandbox refuses root
                "--disable-gpu",
                "--disable-dev-shm-usage",
                f"--user-data-dir={profile}",
                f"--virtual-time-budget={budget_ms}",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def overlap(runs: list[dict[str, Any]]) -> int:
    """The most runs that were in progress at one moment (from their start and end times)."""
    edges = sorted(
        [(run["startTime"], 1) for run in runs] + [(run["endTime"], -1) for run in runs],
        key=lambda edge: (edge[0], edge[1]),  # an end before a start at the same instant
    )
    most = current = 0
    for _, step in edges:
        current += step
        most = max(most, current)
    return most
