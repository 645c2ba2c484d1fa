"""The staging engine's sessions: JIT off, the site's PGOPTIONS and the caller's own
connect arguments kept."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from batisync.core.connections import make_staging_engine

SETTINGS = "select current_setting('jit'), current_setting('statement_timeout')"


def _settings(engine: sa.Engine) -> tuple[str, str]:
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.text(SETTINGS)).one()
    finally:
        engine.dispose()
    return (row[0], row[1])


def test_staging_sessions_run_without_jit(
    staging_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PGOPTIONS", raising=False)
    assert _settings(make_staging_engine(staging_url))[0] == "off"
    # the cluster's own default, so the engine is what turns it off
    plain = sa.create_engine(staging_url)
    assert _settings(plain)[0] == "on"


def test_the_sites_pgoptions_and_the_callers_connect_args_are_kept(
    staging_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGOPTIONS", "-c statement_timeout=123456")
    engine = make_staging_engine(staging_url, connect_args={"application_name": "probe"})
    with engine.connect() as conn:
        name = conn.execute(sa.text("select current_setting('application_name')")).scalar()
    assert name == "probe"
    assert _settings(engine) == ("off", "123456ms")
