"""`make dagster`: `dagster dev` on a folder of demo dossiers, on the local stack.

Each demo dossier is a client company of its own: its fake BatiSimply API (generated
data), its Batigest stand-in database, its staging database, all on the project's own
PostgreSQL (`.pg/`, as `make demo`). `DOSSIERS_DIR/.env` holds what they share (the
staging server, the time zone, the window); each dossier's `.env` its API and Batigest.
Dagster's own storage is a PostgreSQL database of that cluster too (dagster-postgres,
`batisync_dagster/dagster.yaml`). The tests build the same stack (`demo_dossiers`,
`dagster_home`, `start_dagster_dev`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from devstack.batigest import create_standin, seed_salaries
from devstack.dossiers import dossier_database, dossier_env, write_dossier, write_shared
from devstack.fake_batisimply import Dataset, FakeBatiSimply, generate
from devstack.pg import EmbeddedPostgres

REPO = Path(__file__).resolve().parents[1]
DEMO_FOLDER = REPO / ".dagster"
NAMES = ("durand-btp", "leroy-menuiserie", "martin-charpente")
INSTANCE_YAML = REPO / "batisync_dagster" / "dagster.yaml"
TIMEZONE = "Europe/Paris"
WINDOW_DAYS = 30
# what would point every dossier at one target (the sync refuses them in its environment)
PER_DOSSIER = ("PG", "BATISIMPLY_", "BATIGEST_", "CREDENTIALS_FILE")


@dataclass
class DemoDossier:
    name: str
    dataset: Dataset
    api: FakeBatiSimply
    batigest_url: str
    staging_url: str


@contextlib.contextmanager
def demo_dossiers(
    cluster: EmbeddedPostgres,
    folder: Path,
    names: Sequence[str] = NAMES,
    *,
    employees: int = 6,
    projects: int = 4,
) -> Iterator[list[DemoDossier]]:
    """The dossiers folder (devstack/dossiers.py), each dossier's fake API running (stopped
    on exit) and its Batigest stand-in seeded; no staging database yet: each dossier's
    first sync creates its own `batisync_<name>` (dropped here first if a previous run
    left it: the fake APIs are new, so is the BatiSimply account it would belong to)."""
    today = datetime.now(UTC).date()
    server = cluster.url()
    write_shared(folder, server, HEURES_TIMEZONE=TIMEZONE, BATIGEST_SCHEMA="dbo",
                 HEURES_WINDOW_DAYS=str(WINDOW_DAYS))  # fmt: skip
    with contextlib.ExitStack() as stack:
        made = []
        for seed, name in enumerate(names, start=1):
            dataset = generate(employees, projects, WINDOW_DAYS - 10, seed=seed, today=today)
            batigest_url = cluster.create_database(f"batigest_{name}", replace=True)
            batigest = create_standin(batigest_url)
            salaries = [(r["Code"], r["Nom"], r["codebs"]) for r in dataset.salarie_rows()]
            seed_salaries(batigest, salaries)
            batigest.dispose()
            staging_url = dossier_database(server, name)
            cluster.drop_database(sa.make_url(staging_url).database or "")
            api = stack.enter_context(FakeBatiSimply(dataset))
            write_dossier(folder, name, dossier_env(api, batigest_url))
            made.append(DemoDossier(name, dataset, api, batigest_url, staging_url))
        yield made


def dagster_home(cluster: EmbeddedPostgres, home: Path, database: str) -> dict[str, str]:
    """DAGSTER_HOME with the project's dagster.yaml, its storage a fresh database of the
    cluster; returns the variables `dagster` needs."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(INSTANCE_YAML, home / "dagster.yaml")
    cluster.create_database(database, replace=True)
    # psycopg2, named: SQLAlchemy 2.1's default PostgreSQL driver is psycopg 3, on which
    # dagster-postgres's `NOTIFY run_events, $1` fails (no event would be stored)
    url = cluster.dsn(database).replace("postgresql://", "postgresql+psycopg2://", 1)
    return {"DAGSTER_HOME": str(home), "DAGSTER_PG_URL": url}


def dagster_env(instance: dict[str, str], dossiers_dir: Path, **more: str) -> dict[str, str]:
    """This process's environment without any per-dossier setting, plus the instance's
    variables and `DOSSIERS_DIR`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(PER_DOSSIER)}
    return (
        env
        | instance
        | {
            "DOSSIERS_DIR": str(dossiers_dir),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
            **more,
        }
    )


def start_dagster_dev(
    env: dict[str, str], port: int, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """`dagster dev` on the code location, in a session of its own (stop_dagster_dev)."""
    dagster = Path(sys.executable).with_name("dagster")
    args = [
        str(dagster),
        "dev",
        "-m",
        "batisync_dagster.definitions",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    out = open(log, "wb") if log else None  # noqa: SIM115 (the process writes it until it stops)
    return subprocess.Popen(
        args,
        env=env,
        cwd=REPO,
        stdout=out,
        stderr=subprocess.STDOUT if out else None,
        start_new_session=True,
        # SIGINT back to its default: a background job inherits it ignored, and
        # `dagster dev` maps SIGTERM to SIGINT's handler, so it would ignore SIGTERM too
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_until_up(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 180) -> None:
    """Until the webserver answers (raises if `dagster dev` ended or never answered)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dagster dev exited {proc.returncode}")
        url = f"http://127.0.0.1:{port}/server_info"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=5):
            return
        time.sleep(1)
    raise TimeoutError(f"dagster dev did not answer on port {port} in {timeout_s:g} s")


def stop_dagster_dev(proc: subprocess.Popen[bytes], grace_s: float = 30) -> None:
    """SIGTERM to `dagster dev` (it stops its webserver, daemon and code servers), then
    SIGKILL to whatever of its session is left."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace_s)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.dagster_demo", description=__doc__)
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops dagster dev too, as Ctrl-C does
    cluster = EmbeddedPostgres().start()
    dossiers_dir = DEMO_FOLDER / "dossiers"
    shutil.rmtree(dossiers_dir, ignore_errors=True)  # the fake APIs are new: so are the dossiers
    with demo_dossiers(cluster, dossiers_dir) as dossiers:
        instance = dagster_home(cluster, DEMO_FOLDER / "home", "dagster_demo")
        proc = start_dagster_dev(dagster_env(instance, dossiers_dir), args.port)
        print(
            f"dagster dev on http://127.0.0.1:{args.port} with {len(dossiers)} dossiers in "
            f"{dossiers_dir}: {', '.join(d.name for d in dossiers)}.\n"
            "The sensor adds them as partitions within 30 s; materialize them from the asset "
            "batisync/suivimo, or wait for the schedule. Ctrl-C stops everything.",
            flush=True,
        )
        try:
            return proc.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            stop_dagster_dev(proc)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    raise SystemExit(main())
