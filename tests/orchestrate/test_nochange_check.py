"""What the no-change check reads in the marts (`nochange_check.pending`, counted by
`export/staging_io`): rows to push, and under HEURES_ON_GONE=delete the rows to retract
now; a mart not built yet is work, never a reason to skip."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from batisync.orchestrate.nochange import Pending
from batisync.orchestrate.nochange_check import pending


@pytest.fixture
def staging(staging_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(staging_url)
    yield engine
    engine.dispose()


def _marts(engine: sa.Engine, schema: str, to_push: int, retractable: list[bool | None]) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(f'create schema if not exists "{schema}"')
        conn.exec_driver_sql(f'create table "{schema}".to_push (id_heure text)')
        conn.exec_driver_sql(
            f'create table "{schema}".heures_gone (id_heure text, is_retractable bool)'
        )
        for n in range(to_push):
            conn.exec_driver_sql(f"insert into \"{schema}\".to_push values ('{n}')")
        for n, flag in enumerate(retractable):
            conn.execute(
                sa.text(f'insert into "{schema}".heures_gone values (:id, :flag)'),
                {"id": str(n), "flag": flag},
            )


def test_marts_not_built_yet_are_work(staging: sa.Engine) -> None:
    with staging.connect() as conn:
        assert pending(conn, "public", "delete") == Pending(to_push=1, retractable=1)
        assert pending(conn, "public", "keep") == Pending(to_push=1, retractable=0)


def test_counts_rows_to_push_and_only_retractable_rows_under_delete(staging: sa.Engine) -> None:
    _marts(staging, "marts", to_push=3, retractable=[True, False, None, True])
    with staging.connect() as conn:
        assert pending(conn, "marts", "delete") == Pending(to_push=3, retractable=2)
        assert pending(conn, "marts", "keep") == Pending(to_push=3, retractable=0)
        assert pending(conn, "public", "keep").to_push == 1  # another schema: not built


def test_empty_marts_leave_nothing_pending(staging: sa.Engine) -> None:
    _marts(staging, "public", to_push=0, retractable=[False])
    with staging.connect() as conn:
        assert pending(conn, "public", "delete") == Pending(to_push=0, retractable=0)
