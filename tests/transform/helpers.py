"""Helpers for the dbt tests: a staging database with raw tables shaped as the loader
writes them (docs/ARCHITECTURE.md, written here as literal DDL, not through dbt or the
loader), rows to put in them, and `dbt` runs pointed at that database.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from batisync.transform.dbt_runner import DbtResult, run_dbt
from devstack.pg import EmbeddedPostgres
from devstack.sync_env import work_env

# The raw tables as the loader (dlt) leaves them, with dlt's own columns too.
RAW_DDL = """
create schema if not exists raw_batisimply;
create schema if not exists raw_batigest;
create table raw_batisimply.time_slots (
  id text not null, start_date text, end_date text, user__id text, project__id bigint,
  management_status text, total_time_minutes double precision, has_packed_lunch boolean,
  has_home_to_work_journey boolean, _content_hash text,
  _fetched_at timestamptz, _deleted_at timestamptz,
  _dlt_load_id varchar not null default '1', _dlt_id varchar not null default md5(random()::text)
);
create table raw_batisimply.projects (
  id bigint, project_code text, project_name text, _content_hash text,
  _dlt_load_id varchar not null default '1', _dlt_id varchar not null default md5(random()::text)
);
create table raw_batisimply.quarantine (
  quarantine_key text not null, resource text, record_id text, reason text, detail text,
  payload text, management_status text, first_seen_at timestamptz, last_seen_at timestamptz,
  _dlt_load_id varchar not null default '1', _dlt_id varchar not null default md5(random()::text)
);
create table raw_batigest.salarie (
  code text, nom text, codebs text, _content_hash text,
  _dlt_load_id varchar not null default '1', _dlt_id varchar not null default md5(random()::text)
);
"""

MART_NAMES = ("to_push", "heures_rejected", "heures_gone", "batigest_heures")


@dataclass(frozen=True)
class Staging:
    """A staging database and what dbt needs to reach it."""

    url: str
    env: Mapping[str, str]

    def engine(self) -> sa.Engine:
        return sa.create_engine(self.url)

    def dbt(self, *args: str) -> DbtResult:
        return run_dbt(list(args), env=self.env)

    def execute(self, sql: str, params: Iterable[Mapping[str, Any]] | None = None) -> None:
        engine = self.engine()
        try:
            with engine.begin() as conn:
                if params is None:
                    conn.exec_driver_sql(sql)
                else:
                    conn.execute(sa.text(sql), list(params))
        finally:
            engine.dispose()

    def rows(self, sql: str) -> list[dict[str, Any]]:
        engine = self.engine()
        try:
            with engine.connect() as conn:
                return [dict(r._mapping) for r in conn.execute(sa.text(sql))]
        finally:
            engine.dispose()


def make_staging(pg: EmbeddedPostgres, name: str, work_dir: Path, **extra_env: str) -> Staging:
    """A fresh database `name` on `pg`; dbt writes its target and logs under `work_dir`
    (so parallel pytest sessions never share dbt_project/target)."""
    url = pg.create_database(f"{name}_{os.getpid()}", replace=True)
    env = {
        **pg.env(sa.make_url(url).database),
        **work_env(work_dir),
        "DBT_SCHEMA": "public",
        "HEURES_TIMEZONE": "Europe/Paris",
        "HEURES_WINDOW_DAYS": "180",
        **extra_env,
    }
    return Staging(url, env)


def slot(
    id: str,
    start_utc: datetime | str | None,
    *,
    user: str | None = "uuid-a",
    project: int | None = 10,
    status: str | None = "VALIDATED",
    minutes: float | None = 60,
    lunch: bool | None = None,
    journey: bool | None = None,
    fetched_at: datetime | None = None,
    deleted_at: datetime | None = None,
    end_utc: str | None = None,
) -> dict[str, Any]:
    """One raw_batisimply.time_slots row; a datetime start is written as the API's text."""
    start = (
        start_utc.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(start_utc, datetime) else start_utc
    )
    return {
        "id": id,
        "start_date": start,
        "end_date": end_utc,
        "user__id": user,
        "project__id": project,
        "management_status": status,
        "total_time_minutes": minutes,
        "has_packed_lunch": lunch,
        "has_home_to_work_journey": journey,
        "_fetched_at": fetched_at or datetime.now(UTC),
        "_deleted_at": deleted_at,
    }


def insert_slots(staging: Staging, slots: Iterable[Mapping[str, Any]]) -> None:
    staging.execute(
        "insert into raw_batisimply.time_slots (id, start_date, end_date, user__id, "
        "project__id, management_status, total_time_minutes, has_packed_lunch, "
        "has_home_to_work_journey, _fetched_at, _deleted_at) values (:id, :start_date, "
        ":end_date, :user__id, :project__id, :management_status, :total_time_minutes, "
        ":has_packed_lunch, :has_home_to_work_journey, :_fetched_at, :_deleted_at)",
        slots,
    )


def insert_projects(staging: Staging, projects: Iterable[tuple[int, str | None]]) -> None:
    staging.execute(
        "insert into raw_batisimply.projects (id, project_code, project_name) "
        "values (:id, :code, 'Chantier ' || :id)",
        [{"id": i, "code": c} for i, c in projects],
    )


def insert_salaries(staging: Staging, salaries: Iterable[tuple[str, str | None]]) -> None:
    staging.execute(
        "insert into raw_batigest.salarie (code, nom, codebs) values (:code, 'Nom', :codebs)",
        [{"code": c, "codebs": b} for c, b in salaries],
    )


def insert_quarantine(
    staging: Staging,
    resource: str,
    record_id: str | None,
    reason: str,
    status: str | None,
    last_seen_at: datetime,
) -> None:
    key = f"{resource}:{record_id}" if record_id else f"{resource}:md5:{reason}"
    staging.execute(
        "insert into raw_batisimply.quarantine (quarantine_key, resource, record_id, reason, "
        "payload, management_status, first_seen_at, last_seen_at) values (:key, :resource, "
        ":record_id, :reason, '{}', :status, :seen, :seen)",
        [
            {
                "key": key,
                "resource": resource,
                "record_id": record_id,
                "reason": reason,
                "status": status,
                "seen": last_seen_at,
            }
        ],
    )


def simulate_export(staging: Staging) -> int:
    """What the exporter records after applying to_push: the map holds its rows."""
    rows = staging.rows("select count(*) as n from public.to_push")[0]["n"]
    staging.execute(
        """
        insert into public.batigest_heures_map as m (id_heure, code_chantier, code_salarie,
            date_sqlserver, nb_h0, nb_h3, nb_h4, values_hash, pushed_at, run_id)
        select id_heure, code_chantier, code_salarie, date_sqlserver, nb_h0, nb_h3, nb_h4,
            values_hash, now(), 'test'
        from public.to_push
        on conflict (id_heure) do update set code_chantier = excluded.code_chantier,
            code_salarie = excluded.code_salarie, date_sqlserver = excluded.date_sqlserver,
            nb_h0 = excluded.nb_h0, nb_h3 = excluded.nb_h3, nb_h4 = excluded.nb_h4,
            values_hash = excluded.values_hash, pushed_at = excluded.pushed_at
        """
    )
    return rows


def failing(result: DbtResult) -> set[str]:
    return {f.name for f in result.failures}
