"""The import window and its chunks: whole UTC days, no gap, no overlap, any machine zone."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batisync.loader.window import (
    Window,
    chunk_window,
    days_window,
    format_api_date,
    sliding_window,
    utc_today,
)


def test_sliding_window_is_the_seed_window() -> None:
    window = sliding_window(180, date(2026, 6, 30))
    assert window.api_params() == {
        "startDate": "2026-01-01T00:00:00Z",
        "endDate": "2026-06-30T23:59:59Z",
    }


def test_utc_today_takes_the_utc_date_of_an_aware_moment() -> None:
    # 21:30 in New York on March 10th is already March 11th in UTC
    evening_in_new_york = datetime(2026, 3, 10, 21, 30, tzinfo=ZoneInfo("America/New_York"))
    assert utc_today(evening_in_new_york) == date(2026, 3, 11)
    # 08:00 in Tokyo on March 11th is still March 10th in UTC
    morning_in_tokyo = datetime(2026, 3, 11, 8, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert utc_today(morning_in_tokyo) == date(2026, 3, 10)
    with pytest.raises(ValueError, match="aware"):
        utc_today(datetime(2026, 3, 10, 12, 0))


def _zone_whose_date_differs_from_utc(now_utc: datetime) -> str:
    """A zone where the local date is not the UTC date right now (UTC-11 or UTC+14)."""
    return "Pacific/Pago_Pago" if now_utc.hour < 11 else "Pacific/Kiritimati"


def test_utc_today_ignores_the_machine_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    zone = _zone_whose_date_differs_from_utc(datetime.now(UTC))
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        before = datetime.now(UTC).date()
        today = utc_today()
        after = datetime.now(UTC).date()
        local = date.today()
    finally:
        monkeypatch.undo()
        time.tzset()
    assert today in (before, after)
    assert local not in (before, after), "the machine zone should give another date here"
    assert sliding_window(3, today).end.date() == today


def test_days_window_covers_whole_utc_days() -> None:
    window = days_window(date(2025, 12, 30), date(2026, 1, 2))
    assert str(window) == "2025-12-30T00:00:00Z..2026-01-02T23:59:59Z"
    with pytest.raises(ValueError, match="after"):
        days_window(date(2026, 1, 2), date(2026, 1, 1))


def test_format_api_date_converts_to_utc_and_drops_fractions() -> None:
    paris = datetime(2026, 7, 1, 2, 0, 0, 999_999, tzinfo=ZoneInfo("Europe/Paris"))
    assert format_api_date(paris) == "2026-07-01T00:00:00Z"
    with pytest.raises(ValueError):
        format_api_date(datetime(2026, 7, 1))


def test_window_rejects_naive_or_inverted_bounds() -> None:
    with pytest.raises(ValueError, match="aware"):
        Window(datetime(2026, 1, 1), datetime(2026, 1, 2, tzinfo=UTC))
    with pytest.raises(ValueError, match="after"):
        Window(datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))


def test_chunks_of_a_180_day_window() -> None:
    chunks = chunk_window(sliding_window(180, date(2026, 6, 30)), 31)
    assert [str(c) for c in chunks] == [
        "2026-01-01T00:00:00Z..2026-01-31T23:59:59Z",
        "2026-02-01T00:00:00Z..2026-03-03T23:59:59Z",
        "2026-03-04T00:00:00Z..2026-04-03T23:59:59Z",
        "2026-04-04T00:00:00Z..2026-05-04T23:59:59Z",
        "2026-05-05T00:00:00Z..2026-06-04T23:59:59Z",
        "2026-06-05T00:00:00Z..2026-06-30T23:59:59Z",
    ]


def test_chunk_days_must_be_positive() -> None:
    with pytest.raises(ValueError, match="chunk days"):
        chunk_window(sliding_window(3, date(2026, 1, 10)), 0)


@given(
    first=st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 1, 1)),
    span=st.integers(min_value=0, max_value=800),
    chunk_days=st.integers(min_value=1, max_value=120),
)
def test_chunks_tile_the_window_exactly(first: date, span: int, chunk_days: int) -> None:
    window = days_window(first, first + timedelta(days=span))
    chunks = chunk_window(window, chunk_days)
    assert chunks[0].start == window.start
    assert chunks[-1].end == window.end
    for before, after in itertools.pairwise(chunks):
        # the API is inclusive at both ends with second precision: no gap, no overlap
        assert after.start - before.end == timedelta(seconds=1)
    for chunk in chunks:
        assert chunk.start.time() == datetime.min.time()
        assert (chunk.end.hour, chunk.end.minute, chunk.end.second) == (23, 59, 59)
        assert (chunk.last_day - chunk.first_day).days + 1 <= chunk_days
    assert len(chunks) == -(-(span + 1) // chunk_days)


def test_bounds_in_another_zone_are_kept_as_instants() -> None:
    plus_two = timezone(timedelta(hours=2))
    window = Window(
        datetime(2026, 5, 1, 2, 0, tzinfo=plus_two),
        datetime(2026, 5, 2, 1, 59, 59, tzinfo=plus_two),
    )
    assert window.api_params() == {
        "startDate": "2026-05-01T00:00:00Z",
        "endDate": "2026-05-01T23:59:59Z",
    }
