"""What a sync cannot go below: the bare fetch of its window, Python's start-up and imports.

* bare fetch: the window fetched from the same fake API with plain HTTP calls (the same
  chunks and pages as the sync) and JSON decoding, nothing else;
* the imports of one run, from `python -X importtime` (the interpreter's own account,
  every import of the process, the ones the stages make included), summed by package;
* start-up floor of a run's path: a fresh interpreter that imports, and does nothing
  else, every module that run imported (its top-level imports in `-X importtime`'s
  order, which bring the rest), timed without `-X importtime`'s own overhead;
* a `batisync sync` refused by the sync lock (held here): the interpreter, the imports
  up to the lock, the settings, one staging connection, exit 75.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections import Counter
from datetime import date
from typing import Any

import orjson
import requests

from batisync.loader.window import DEFAULT_CHUNK_DAYS, chunk_window, sliding_window
from batisync.orchestrate.lock import sync_lock
from benchmarks.processes import batisync, run_figures, run_python
from devstack.fake_batisimply import FakeBatiSimply
from devstack.sync_env import conninfo

REPEATS = 5


def bare_fetch(api: FakeBatiSimply, window_days: int, today: date) -> tuple[float, int]:
    """The window, as the sync asks for it, with plain HTTP: (seconds, slots)."""
    began = time.perf_counter()
    session = requests.Session()
    token = session.post(
        api.sso_url,
        data={
            "grant_type": "password",
            "client_id": api.client_id,
            "client_secret": api.client_secret,
            "username": api.username,
            "password": api.password,
        },
        timeout=60,
    ).json()["access_token"]
    session.headers["Authorization"] = f"Bearer {token}"
    slots = 0
    for chunk in chunk_window(sliding_window(window_days, today), DEFAULT_CHUNK_DAYS):
        url: str | None = f"{api.api_url}/timeSlotManagement/allUsers"
        params: dict[str, str] | None = chunk.api_params()
        while url:
            response = session.get(url, params=params, timeout=120)
            response.raise_for_status()
            body = orjson.loads(response.content)
            slots += len(body) if isinstance(body, list) else len(body.get("content", []))
            url, params = response.links.get("next", {}).get("url"), None
    session.close()
    return time.perf_counter() - began, slots


def median_bare_fetch(api: FakeBatiSimply, window_days: int, today: date) -> tuple[float, int]:
    fetches = [bare_fetch(api, window_days, today) for _ in range(3)]
    return statistics.median(f[0] for f in fetches), fetches[0][1]


def lock_refused_floor(env: dict[str, str], staging_url: str) -> dict[str, Any]:
    """Median wall seconds of a sync refused by the lock, and of `python -c pass`."""
    with sync_lock(conninfo(staging_url), name="benchmark holding the lock"):
        refused = [batisync(["sync", "--json"], env, expect=75).seconds for _ in range(REPEATS)]
    interpreter = [run_python(["-c", "pass"], env).seconds for _ in range(REPEATS)]
    return {
        "lock_refused_s": round(statistics.median(refused), 2),
        "lock_refused_runs_s": [round(s, 2) for s in refused],
        "interpreter_s": round(statistics.median(interpreter), 3),
    }


# a fresh interpreter importing the modules named in argv; prints the ones that failed
_IMPORT_ONLY = """\
import importlib, json, sys
failed = []
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except Exception as error:
        failed.append(f"{name}: {type(error).__name__}")
print(json.dumps(failed))
"""


def imports_floor(modules: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Median wall seconds of a fresh interpreter importing `modules` and nothing else;
    a module that fails to import alone is named (the floor is then too low)."""
    runs = [run_python(["-c", _IMPORT_ONLY, *modules], env) for _ in range(REPEATS)]
    return {
        "seconds": round(statistics.median(r.seconds for r in runs), 2),
        "runs_s": [round(r.seconds, 2) for r in runs],
        "modules": len(modules),
        "failed": json.loads(runs[0].stdout),
    }


# `import time: self [us] | cumulative | imported package` (nesting by indentation)
_IMPORT_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)\s*$")


def import_seconds(importtime_stderr: str, top: int = 8) -> dict[str, Any]:
    """The process's import time (the sum of every module's own time) and the packages
    that cost the most, from `python -X importtime`'s report on stderr."""
    by_package: Counter[str] = Counter()
    for line in importtime_stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match:
            by_package[match.group(4).split(".")[0]] += int(match.group(1))
    total = sum(by_package.values())
    return {
        "imports_s": round(total / 1e6, 2),
        "by_package_s": {name: round(us / 1e6, 2) for name, us in by_package.most_common(top)},
    }


def run_path_floors(env: dict[str, str], staging_url: str) -> dict[str, Any]:
    """From a no-change state: the lock-refused floor; then a no-change sync and, after a
    `batisync load` (the staging generation moves, so every stage runs), a whole sync,
    each under `-X importtime`, with the imports floor of its path. Leaves staging as
    a whole run left it."""
    found: dict[str, Any] = {"lock": lock_refused_floor(env, staging_url)}
    for path, before in (("nochange", None), ("whole", ["load", "--json"])):
        if before:
            batisync(before, env)
        traced = batisync(["sync", "--json"], env, flags=["-X", "importtime"])
        figures = run_figures(traced)
        found[path] = {
            "run_s": round(traced.seconds, 2),
            "ran": figures["ran"],
            "skipped_because": figures["skipped_because"],
            **import_seconds(traced.stderr),
            "floor": imports_floor(top_level_imports(traced.stderr), env),
        }
    return found


def top_level_imports(importtime_stderr: str) -> list[str]:
    """The modules a process imported at the top of an import chain (not from inside
    another import), in order: importing them again imports everything it imported.
    `__main__` modules are left out (importing one would run the program)."""
    names: list[str] = []
    for line in importtime_stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match and len(match.group(3)) == 1 and not match.group(4).endswith("__main__"):
            names.append(match.group(4))
    return list(dict.fromkeys(names))


__all__ = [
    "bare_fetch",
    "import_seconds",
    "imports_floor",
    "lock_refused_floor",
    "median_bare_fetch",
    "run_path_floors",
    "top_level_imports",
]
