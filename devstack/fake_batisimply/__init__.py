"""Fake BatiSimply API (and its SSO) for tests and the demo: generated data over real HTTP."""

from .generator import (
    DST_DAYS_2026,
    MALFORMED_KINDS,
    Dataset,
    Employee,
    Project,
    format_utc,
    generate,
    parse_utc,
)
from .server import FakeBatiSimply, FakeClock, RecordedRequest

__all__ = [
    "DST_DAYS_2026",
    "MALFORMED_KINDS",
    "Dataset",
    "Employee",
    "FakeBatiSimply",
    "FakeClock",
    "Project",
    "RecordedRequest",
    "format_utc",
    "generate",
    "parse_utc",
]
