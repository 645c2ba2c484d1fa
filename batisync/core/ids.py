"""Run identifiers: sortable by time, unique across hosts."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


def new_run_id(started: datetime | None = None) -> str:
    """`20261130T062000Z-a1b2c3`: the UTC start, then 6 random hex digits."""
    return f"{started or datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


__all__ = ["new_run_id"]
