"""The import window and its chunks, in UTC (pure: no clock, no I/O).

The API filters slots on `startDate` within `[startDate, endDate]`, both inclusive, with
second precision (`YYYY-MM-DDTHH:MM:SSZ`). A window covers whole UTC days, from
`first_day 00:00:00Z` to `last_day 23:59:59Z`; chunks split it on day boundaries so that
consecutive chunks neither overlap nor leave a gap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

API_DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
DEFAULT_WINDOW_DAYS = 180
DEFAULT_CHUNK_DAYS = 31


@dataclass(frozen=True)
class Window:
    """`[start, end]` in UTC, both inclusive, `start` at 00:00:00 and `end` at 23:59:59."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window bounds must be timezone-aware (UTC)")
        if self.start > self.end:
            raise ValueError(f"window start {self.start} is after its end {self.end}")

    @property
    def first_day(self) -> date:
        return self.start.astimezone(UTC).date()

    @property
    def last_day(self) -> date:
        return self.end.astimezone(UTC).date()

    def api_params(self) -> dict[str, str]:
        """The query parameters of `timeSlotManagement/allUsers` for this window."""
        return {"startDate": format_api_date(self.start), "endDate": format_api_date(self.end)}

    def __str__(self) -> str:
        return f"{format_api_date(self.start)}..{format_api_date(self.end)}"


def format_api_date(moment: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SSZ`, the only shape the API accepts (a bare date answers 400)."""
    if moment.tzinfo is None:
        raise ValueError("an API date must be timezone-aware")
    return moment.astimezone(UTC).strftime(API_DATE_FORMAT)


def utc_today(now: datetime | None = None) -> date:
    """Today in UTC, whatever the machine's time zone (`now` for tests)."""
    moment = now if now is not None else datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return moment.astimezone(UTC).date()


def days_window(first_day: date, last_day: date) -> Window:
    """Whole UTC days: `first_day 00:00:00Z` to `last_day 23:59:59Z`."""
    if first_day > last_day:
        raise ValueError(f"start day {first_day} is after end day {last_day}")
    return Window(
        datetime.combine(first_day, time(0, 0, 0), UTC),
        datetime.combine(last_day, time(23, 59, 59), UTC),
    )


def sliding_window(days: int, today: date) -> Window:
    """The seed's window: today minus `days` at 00:00:00Z through today at 23:59:59Z."""
    if days < 0:
        raise ValueError(f"window days must be >= 0, got {days}")
    return days_window(today - timedelta(days=days), today)


def chunk_window(window: Window, chunk_days: int = DEFAULT_CHUNK_DAYS) -> list[Window]:
    """Consecutive windows of at most `chunk_days` whole days covering `window` exactly."""
    if chunk_days < 1:
        raise ValueError(f"chunk days must be >= 1, got {chunk_days}")
    chunks: list[Window] = []
    cursor = window.start
    while cursor <= window.end:
        next_start = datetime.combine(
            cursor.astimezone(UTC).date() + timedelta(days=chunk_days), time(0, 0, 0), UTC
        )
        end = min(next_start - timedelta(seconds=1), window.end)
        chunks.append(Window(cursor, end))
        cursor = next_start
    return chunks


__all__ = [
    "API_DATE_FORMAT",
    "DEFAULT_CHUNK_DAYS",
    "DEFAULT_WINDOW_DAYS",
    "Window",
    "chunk_window",
    "days_window",
    "format_api_date",
    "sliding_window",
    "utc_today",
]
