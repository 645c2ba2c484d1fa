"""The adoption of the old connector's batigest_heures on a real PostgreSQL (issue 17),
called as the transform stage calls it, by a role that owns the database and is no
superuser: the catalog before and after, the views as they were, the refusals that
change nothing, and the model's column types as dbt creates them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from batisync.core.errors import StageError
from batisync.transform.adoption import AdoptionRefused, adopt_batigest_heures
from batisync.transform.adoption.catalog import read_table
from batisync.transform.adoption.columns import MODEL_COLUMNS, column_changes
from devstack.old_connector import old_deployment_ddl
from devstack.old_deployment import STAGING_CATALOG
from devstack.pg import EmbeddedPostgres
from tests.transform.helpers import make_staging

OWNER_SQL = """
create view public.heures as select id, id_heure, id_utilisateur, total_heure
  from public.batigest_heures where status_management = 'VALIDATED';
create view public.heures_longues with (security_barrier) as
  select id_heure, total_heure from public.heures where total_heure > 60;
comment on view public.heures is 'les heures validées';
comment on column public.heures.total_heure is 'minutes';
"""
ROWS_SQL = """
insert into public.batigest_heures (id_heure, date_debut, date_fin, id_utilisateur,
  id_projet, status_management, total_heure, panier, trajet, code_projet, sync)
values ('1', '2026-01-05 08:00', '2026-01-05 10:00', 'a8098c1a-f86e-11da-bd1a-00112444be1e',
        7, 'VALIDATED', 120, false, true, 'C1', true),
       ('2', '2026-01-06 08:00', '2026-01-06 08:30', 'a8098c1a-f86e-11da-bd1a-00112444be1e',
        7, 'VALIDATED', 30, false, false, 'C1', false)
"""


class OldDatabase:
    """A staging database holding the old connector's tables, owned by `role`."""

    def __init__(self, pg: EmbeddedPostgres, url: str) -> None:
        self.pg, self.url = pg, url
        suffix = uuid.uuid4().hex[:8]
        self.role, self.analyst, self.other = (f"{r}_{suffix}" for r in ("bs", "an", "ot"))
        with self.connect() as conn:
            for role in (self.role, self.analyst, self.other):
                conn.execute(f"create role {role} login")  # type: ignore[arg-type]
            conn.execute(f'alter database "{self.database}" owner to {self.role}')  # type: ignore[arg-type]
        with self.connect(self.role) as conn:
            for ddl in old_deployment_ddl():
                conn.execute(ddl)  # type: ignore[arg-type]
            conn.execute(ROWS_SQL)
            conn.execute(OWNER_SQL)
            conn.execute(f"grant select on public.heures, public.heures_longues to {self.analyst}")  # type: ignore[arg-type]

    @property
    def database(self) -> str:
        return str(sa.make_url(self.url).database)

    def conninfo(self, role: str | None = None) -> dict[str, Any]:
        parsed = sa.make_url(self.url)
        user = role or parsed.username
        return {"host": parsed.host, "port": parsed.port, "user": user, "dbname": self.database}

    def connect(self, role: str | None = None) -> psycopg.Connection[Any]:
        return psycopg.connect(**self.conninfo(role), autocommit=True)

    def rows(self, sql: str, role: str | None = None) -> list[tuple]:
        with self.connect(role) as conn:
            return [tuple(r) for r in conn.execute(sql).fetchall()]  # type: ignore[arg-type]

    def adopt(self, **options: Any) -> Any:
        return adopt_batigest_heures(self.conninfo(self.role), "public", **options)


@pytest.fixture
def old(pg: EmbeddedPostgres, new_database: Any) -> Iterator[OldDatabase]:
    yield OldDatabase(pg, new_database("adopt"))


def test_adoption_widens_in_place_and_keeps_views_rows_grants_comments(old: OldDatabase) -> None:
    before = {r[0]: r for r in old.rows(STAGING_CATALOG)}
    rows_before = old.rows("select * from public.heures_longues order by 1", old.analyst)

    adoption = old.adopt(run_id="run-1")

    assert adoption is not None and adoption.not_loaded is None  # nothing loaded yet
    after = {r[0]: r for r in old.rows(STAGING_CATALOG)}
    assert set(after) == set(before) | {"batisync_migrations"}
    assert after["batigest_heures"][7] == (
        "id integer not null, id_heure text, date_debut timestamp without time zone, "
        "date_fin timestamp without time zone, id_utilisateur text, id_projet bigint, "
        "status_management text, total_heure numeric, panier boolean, trajet boolean, "
        "code_projet text, sync boolean"
    )
    for name in ("heures", "heures_longues", "batigest_heures_map", "batigest_heures_id_seq"):
        assert after[name][:6] == before[name][:6], name  # owner, grants, options, comment
    assert old.rows("select col_description('public.heures'::regclass, 4)") == [("minutes",)]
    assert old.rows("select * from public.heures_longues order by 1", old.analyst) == rows_before
    # the model's values now fit: a user id that is no UUID, 1,440 minutes, no date
    with old.connect(old.role) as conn:
        conn.execute(
            "insert into public.batigest_heures (id_heure, id_utilisateur, id_projet, "
            "total_heure) values ('3', 'external-user-7', 3000000000, 1440)"
        )
    recorded = old.rows(
        "select name, run_id, detail->'changes'->>0 from public.batisync_migrations"
    )
    assert recorded == [
        ("adopt_batigest_heures", "run-1", "id_heure character varying(50) -> text")
    ]

    # idempotent: nothing left to do, nothing recorded again
    assert old.adopt(run_id="run-2") is None
    assert len(old.rows("select * from public.batisync_migrations")) == 1


REFUSALS = {
    "matview": (
        "create materialized view public.par_salarie as select id_utilisateur, "
        "sum(total_heure) as minutes from public.batigest_heures group by 1",
        "materialized view public.par_salarie",
    ),
    "rule": (
        "create table public.audit (id_heure text, total_heure numeric);"
        "create rule audit_heures as on update to public.batigest_heures do also "
        "insert into public.audit values (new.id_heure, new.total_heure)",
        "rule audit_heures on public.batigest_heures",
    ),
    "foreign_view": (
        "create view public.autre as select id_heure, id_utilisateur from public.heures",
        "view public.autre is owned by",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_what_is_unsafe_changes_nothing_and_the_dba_script_does_it(
    old: OldDatabase, case: str
) -> None:
    sql, reason = REFUSALS[case]
    with old.connect(old.role) as conn:
        conn.execute(sql)  # type: ignore[arg-type]
    if case == "foreign_view":
        with old.connect() as conn:
            conn.execute(f"alter view public.autre owner to {old.other}")  # type: ignore[arg-type]
    before = old.rows(STAGING_CATALOG)

    with pytest.raises(AdoptionRefused) as refused:
        old.adopt()

    assert reason in str(refused.value)
    assert "Nothing was changed" in str(refused.value)
    assert old.rows(STAGING_CATALOG) == before
    # the DBA runs the script (as a superuser here), and the next run has nothing to do
    script = refused.value.plan.script()
    with old.connect() as conn:
        conn.execute(script)  # type: ignore[arg-type]
    assert old.adopt() is None
    after = {r[0]: r for r in old.rows(STAGING_CATALOG)}
    for name, *rest in before:
        if name != "batigest_heures":
            assert after[name][:6] == (name, *rest[:5]), name


def test_a_view_postgresql_cannot_create_again_changes_nothing(old: OldDatabase) -> None:
    with old.connect(old.role) as conn:
        conn.execute(
            "create view public.un_salarie as select * from public.batigest_heures "
            "where id_utilisateur = 'a8098c1a-f86e-11da-bd1a-00112444be1e'::uuid"
        )
    before = old.rows(STAGING_CATALOG)
    with pytest.raises(AdoptionRefused, match=r"PostgreSQL refused it \(operator does not exist"):
        old.adopt()
    assert old.rows(STAGING_CATALOG) == before


def test_a_table_in_use_waits_a_while_then_fails_changing_nothing(old: OldDatabase) -> None:
    before = old.rows(STAGING_CATALOG)
    with psycopg.connect(**old.conninfo()) as holder:  # the old connector, still running
        holder.execute("lock table public.batigest_heures in access share mode")
        with pytest.raises(StageError, match="in use by another session"):
            old.adopt(lock_timeout="200ms")
    assert old.rows(STAGING_CATALOG) == before


@pytest.mark.slow
def test_model_columns_are_what_dbt_creates(pg: EmbeddedPostgres, tmp_path: Path) -> None:
    staging = make_staging(pg, "adopt_model", tmp_path)
    result = staging.dbt("run", "--select", "+batigest_heures")
    assert result.success, result.summary()
    url = sa.make_url(staging.url)
    conninfo = {"host": url.host, "port": url.port, "user": url.username, "dbname": url.database}
    with psycopg.connect(**conninfo) as conn:
        facts = read_table(conn, "public", "batigest_heures")
    assert facts is not None
    assert {c.name: c.type for c in facts.columns} == {n: c.type for n, c in MODEL_COLUMNS.items()}
    assert column_changes(facts.columns) == ()
