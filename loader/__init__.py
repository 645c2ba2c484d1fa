"""Step 1 of the sync: BatiSimply time slots and projects, and Batigest `Salarie`, into the
staging PostgreSQL (`raw_batisimply`, `raw_batigest`) with dlt. See `loader.pipeline`."""

from loader.client import ApiCredentials, ApiError, BatiSimplyClient, RetryPolicy
from loader.pipeline import LoadError, LoadReport, ResourceCounts, run_load
from loader.window import Window, chunk_window, days_window, sliding_window, utc_today

__all__ = [
    "ApiCredentials",
    "ApiError",
    "BatiSimplyClient",
    "LoadError",
    "LoadReport",
    "ResourceCounts",
    "RetryPolicy",
    "Window",
    "chunk_window",
    "days_window",
    "run_load",
    "sliding_window",
    "utc_today",
]
