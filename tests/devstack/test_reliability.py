"""The fast part of `make reliability`: the matrix machinery itself (SIGKILL hook in a
real `batisync sync` process, cloned stacks, the oracle, the secrets scan) on the crash
points, one case each. The whole matrix runs in `make reliability` only."""

from __future__ import annotations

import pytest

from devstack.reliability.matrix import Outcome, crash_points, passed, render, run_matrix

pytestmark = pytest.mark.slow


def test_a_killed_sync_converges_on_the_next_run() -> None:
    outcomes = run_matrix(quick=True, scenarios=(crash_points,))
    table = render(outcomes)
    assert [o.fault for o in outcomes] == [
        "SIGKILL at a stage boundary",
        "SIGKILL after an exporter statement",
        "secrets never printed (every output, sync_runs)",
    ]
    assert all(o.runs > 0 for o in outcomes), table
    assert passed(outcomes), table


def test_the_table_says_what_failed() -> None:
    bad = Outcome("a fault", runs=2, converged=1, lost=3, duplicated=0, notes=["run 2: exit 1"])
    assert not passed([bad])
    assert "| a fault (run 2: exit 1) | 2 | 1 | 3 | 0 |" in render([bad])


def test_a_restart_keeps_the_port_and_ends_the_old_sessions() -> None:
    import psycopg

    from batisync.core.errors import is_connection_loss
    from devstack.pg import EmbeddedPostgres

    with EmbeddedPostgres.temporary() as cluster:
        port = cluster.port
        with psycopg.connect(cluster.dsn()) as conn:
            cluster.restart()
            assert cluster.port == port
            with pytest.raises(psycopg.OperationalError) as lost:
                conn.execute("select 1")
        assert is_connection_loss(lost.value)
        with psycopg.connect(cluster.dsn()) as again:
            assert again.execute("select 1").fetchone() == (1,)
