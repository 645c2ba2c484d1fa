"""Issue 12: a connection lost mid-run is recognised through the exceptions that wrap it,
and said in one line naming its system (`core/errors.py`)."""

from __future__ import annotations

import psycopg

from batisync.core.errors import (
    ConnectionLost,
    connection_lost_line,
    is_connection_loss,
    lost_system,
)


def test_a_lost_connection_is_recognised_through_wrappers() -> None:
    cause = psycopg.OperationalError("terminating connection due to administrator command")
    try:
        try:
            raise cause
        except psycopg.OperationalError as error:
            raise RuntimeError("loading raw_batisimply failed") from error
    except RuntimeError as wrapped:
        assert is_connection_loss(wrapped)
        assert lost_system(wrapped, "the staging PostgreSQL") == "the staging PostgreSQL"
    assert not is_connection_loss(ValueError("duplicate key value violates unique constraint"))


def test_a_lost_connection_names_its_system_in_one_line() -> None:
    error = ConnectionLost("Batigest", psycopg.OperationalError("server closed the connection"))
    line = connection_lost_line(lost_system(error, "?"), error)
    assert line.startswith("connection to Batigest lost (OperationalError: server closed")
    assert "stopped cleanly" in line and "next run resumes" in line and "\n" not in line
