"""dlt inside a load: one load package per dataset and run (so dlt never finds its
stored schema ahead of a package's, which it warns about), and dlt's log lines through
our logging, not dlt's own handler."""

from __future__ import annotations

import logging

import pytest
from dlt.common import logger as dlt_logger

from devstack.fake_batisimply import Dataset
from tests.loader.helpers import Loader, query, small_dataset

# the loader's small dataset (tests/loader/helpers.py) for the `dataset` and `api` fixtures
pytestmark = pytest.mark.dataset(factory=small_dataset)


def test_a_first_load_is_one_package_and_dlt_warns_nothing(
    load: Loader, dataset: Dataset, staging_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    dataset.unlist_project(dataset.projects[0].id)  # its slots' project: asked by id
    caplog.set_level(logging.WARNING)
    load()
    looked_up = query(staging_url, "select id, lookup_status from raw_batisimply.project_lookups")
    assert looked_up == [(dataset.projects[0].id, "found")]
    packages = query(staging_url, "select count(*) from raw_batisimply._dlt_loads")
    assert packages == [(1,)]
    assert [r.getMessage() for r in caplog.records if r.name.startswith("dlt")] == []


def test_dlt_log_lines_go_through_our_handlers(
    load: Loader, caplog: pytest.LogCaptureFixture
) -> None:
    load()  # dlt's runtime has set up its logger by now
    routed = logging.getLogger("dlt")
    assert (routed.handlers, routed.propagate) == ([], True)
    caplog.clear()
    caplog.set_level(logging.WARNING)
    dlt_logger.warning("a probe through dlt's own logger")
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ("dlt", "WARNING", "a probe through dlt's own logger")
    ]
