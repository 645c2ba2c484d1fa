"""Dossiers on the local stack for the dossier tests: each with its own fake BatiSimply
account and Batigest stand-in, all on the session's one PostgreSQL server; `batisync`
run as cron would (a process, the environment of `devstack.dossiers.fleet_env`)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

from devstack.batigest import create_standin, seed_salaries
from devstack.dossiers import dossier_database, dossier_env, write_dossier
from devstack.fake_batisimply import Dataset, FakeBatiSimply
from devstack.pg import EmbeddedPostgres
from devstack.sync_env import WINDOW_DAYS
from devstack.verify import Expectation, Key, healthy_slots, suivimo_rows, verdict
from tests.orchestrate.old_connector import old_connector_document, write_as_notepad


@dataclass
class Site:
    """One dossier: its folder, its API, its Batigest, its own staging database."""

    name: str
    api: FakeBatiSimply
    batigest_url: str
    staging_url: str

    @property
    def dataset(self) -> Dataset:
        return self.api.dataset

    def expected(self) -> dict[str, Expectation]:
        return healthy_slots(self.dataset, date.today(), WINDOW_DAYS)

    def suivimo(self) -> list[Any]:
        return sorted(suivimo_rows(self.batigest_url))

    def assert_converged(self, previous: Mapping[str, Key] | None = None) -> None:
        """Every healthy slot of its own dataset exactly once at its key with its values,
        and nothing else in its SuiviMO (no row of another dossier)."""
        expected = self.expected()
        found = verdict(expected, self.batigest_url, previous=previous)
        assert found.converged, (self.name, found)
        assert {key for key, _ in suivimo_rows(self.batigest_url)} == {
            e.key for e in expected.values()
        }, self.name

    def keys(self) -> dict[str, Key]:
        return {slot_id: e.key for slot_id, e in self.expected().items()}

    def staging(self, query: str, **params: Any) -> list[tuple[Any, ...]]:
        engine = sa.create_engine(self.staging_url)
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(sa.text(query), params)]
        finally:
            engine.dispose()


def new_site(
    pg: EmbeddedPostgres,
    dossiers_dir: Path,
    name: str,
    dataset: Dataset,
    *,
    old_credentials: bool = False,
) -> Site:
    """Dossier `name` in `dossiers_dir`: a started fake API serving `dataset`, a Batigest
    stand-in with its Salarie, and its settings in a `.env`, or (`old_credentials`) in
    the old connector's credentials.json (BOM, CRLF) with a `.env` for the two values a
    test stack cannot put there (the API's URL on loopback, a PostgreSQL stand-in)."""
    api = FakeBatiSimply(dataset).start()
    batigest_url = pg.create_database(f"batigest_{name}", replace=True)
    engine = create_standin(batigest_url)
    seed_salaries(engine, [(r["Code"], r["Nom"], r["codebs"]) for r in dataset.salarie_rows()])
    engine.dispose()
    staging_url = dossier_database(pg.url(), name)
    if old_credentials:
        folder = write_dossier(
            dossiers_dir,
            name,
            {"BATISIMPLY_API_URL": api.api_url, "BATIGEST_URL": batigest_url},
        )
        database = f"connecteur_buffer_{name}"
        write_as_notepad(
            folder / "credentials.json",
            old_connector_document(
                sso_url=api.sso_url, client_id=api.client_id, client_secret=api.client_secret,
                username=api.username, password=api.password, scope="openid",
                pg_host="127.0.0.1", pg_port=int(pg.port or 5432), pg_user="postgres",
                pg_database=database,
            ),
        )  # fmt: skip
        staging_url = sa.make_url(pg.url()).set(database=database).render_as_string(False)
    else:
        write_dossier(dossiers_dir, name, dossier_env(api, batigest_url))
    return Site(name, api, batigest_url, staging_url)


def batisync(
    env: Mapping[str, str], *args: str, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "batisync", *args],
        env=dict(env), capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def start_batisync(env: Mapping[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "batisync", *args],
        env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def holds_lock(staging_url: str) -> bool:
    """Whether a session holds an advisory lock (the sync lock) in that database."""
    url = sa.make_url(staging_url)
    server = url.set(drivername="postgresql", database="postgres")
    with psycopg.connect(server.render_as_string(False), autocommit=True) as conn:
        row = conn.execute(
            "select count(*) from pg_locks l join pg_database d on d.oid = l.database "
            "where l.locktype = 'advisory' and l.granted and d.datname = %s",
            (url.database,),
        ).fetchone()
    return bool(row and row[0])


def wait_for(condition: Any, timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.1)


def database_of(url: str) -> str:
    return str(sa.make_url(url).database)


__all__ = [
    "Site",
    "batisync",
    "database_of",
    "holds_lock",
    "new_site",
    "start_batisync",
    "wait_for",
]
