"""What the code location needs from the Dagster instance it runs on (dagster.yaml,
docs/DAGSTER.md): its storage URL naming the psycopg2 driver, and the syncs' pool known
to the instance before any run of it is queued."""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg

PG_URL_SETTING = "DAGSTER_PG_URL"  # the shipped dagster.yaml's storage URL
PG_SCHEME = "postgresql+psycopg2"


class InstanceSettingError(ValueError):
    """A setting of the Dagster instance the code location cannot run on."""


def pg_url_problem(url: str) -> str | None:
    """Why `url` cannot be the instance's storage URL, or None. Only its scheme is ever
    quoted: the rest holds the password."""
    scheme = url.split("://", 1)[0].strip().lower() if "://" in url else ""
    if scheme == PG_SCHEME:
        return None
    named = f"names the scheme {scheme!r}" if scheme else "has no scheme"
    # SQLAlchemy 2.1 takes psycopg 3 for a bare postgresql://, and dagster-postgres's
    # NOTIFY fails on it: the runs would lose their events
    return (
        f"{PG_URL_SETTING} {named}: it must start with {PG_SCHEME}:// (the psycopg2 driver; "
        "with psycopg 3, dagster-postgres loses the runs' events)"
    )


def check_pg_url(environ: Mapping[str, str]) -> None:
    """Refuses the storage URL of the shipped dagster.yaml when it is set and names another
    driver than psycopg2 (unset: the instance is not the shipped one, e.g. a test's)."""
    url = environ.get(PG_URL_SETTING)
    if url is not None and (problem := pg_url_problem(url)):
        raise InstanceSettingError(problem)


def ensure_pool_limit(instance: dg.DagsterInstance, pool: str) -> bool:
    """Gives `pool` the instance's default limit (`concurrency.pools.default_limit`) when
    the instance has no limit for it yet; True if it did.

    Dagster 1.13's run queue reads the pools that have a limit before it gives a new pool
    its default, so in the first pass that sees a pool, every queued run of it starts
    (run granularity): the limit only holds from the next pass on. A pool set already
    (by this, or `dagster instance concurrency set`) is left as it is."""
    storage = instance.event_log_storage
    if instance.global_op_concurrency_default_limit is None:
        return False  # no default: the pool is limited only if set by hand
    if not storage.supports_global_concurrency_limits or pool in storage.get_concurrency_keys():
        return False
    return storage.initialize_concurrency_limit_to_default(pool)
