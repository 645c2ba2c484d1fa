"""`Retry-After` as the retrying session reads it (the API client's own, issue 19: what
dlt's helpers did): seconds or an HTTP date; anything else falls back to the backoff."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from batisync.loader.api.retrying import retry_after_seconds

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        (" 12 ", 12.0),
        (formatdate(NOW + 30, usegmt=True), 30.0),
        ("0", None),  # no wait asked: the backoff decides
        (formatdate(NOW - 5, usegmt=True), None),  # a date already past
        ("soon", None),
        ("-3", None),
    ],
)
def test_retry_after_is_seconds_or_a_date(header: str, seconds: float | None) -> None:
    assert retry_after_seconds(header, now=NOW) == seconds
