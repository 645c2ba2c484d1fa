"""The dlt side of a load: one pipeline per dataset, extract then normalize + load, and
a failure turned into `LoadError` with the API's own error as its cause.

dlt's own log lines (logger `dlt`) go through the process's logging like ours: its
runtime gives that logger a handler of its own (raw `…|[WARNING]|pid|thread|…` lines
to stderr, past the redaction) and stops propagation, which `make_pipeline` undoes
(`core.logs.adopt_library_logger`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dlt
from dlt.pipeline.exceptions import PipelineStepFailed

from batisync.core.logs import adopt_library_logger
from batisync.core.settings import dlt_credentials
from batisync.loader.pipelines_dir import PIPELINES_DIR_ENV, default_pipelines_dir
from batisync.loader.report import LoadError, root_cause

FILE_MAX_ROWS = 10_000  # rows per file dlt writes, then loads (one file at a time)
DLT_LOGGER = "dlt"  # the name dlt's runtime gives its logger (`dlt.common.logger`)


def make_pipeline(name: str, dataset: str, staging_url: str, pipelines_dir: Path) -> dlt.Pipeline:
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")  # no phoning home
    # dlt gzips its intermediate files by default: a third of the run for nothing here
    os.environ.setdefault("DATA_WRITER__DISABLE_COMPRESSION", "true")
    # memory follows a file, not the window: dlt writes one file per table by default,
    # and its insert job holds 16 MB pieces of it, one job per worker at a time (up to
    # 20); files of 10,000 rows loaded one at a time took a 100,000-slot first load's
    # peak RSS from 286 to 181 MiB (measured under load, docs/NOTES.md)
    os.environ.setdefault("DATA_WRITER__FILE_MAX_ITEMS", str(FILE_MAX_ROWS))
    os.environ.setdefault("LOAD__WORKERS", "1")
    pipeline = dlt.pipeline(
        pipeline_name=name,
        pipelines_dir=str(pipelines_dir),
        destination=dlt.destinations.postgres(credentials=dlt_credentials(staging_url)),
        dataset_name=dataset,
        progress=None,
    )
    # dlt's runtime has started by now (the source or the pipeline started it)
    adopt_library_logger(DLT_LOGGER)
    _abort_pending(pipeline)
    return pipeline


def _abort_pending(pipeline: dlt.Pipeline) -> None:
    # a package left by a failed run is stale: every run fetches its whole window again
    if pipeline.has_pending_data:
        pipeline.abort_packages()


def extract(pipeline: dlt.Pipeline, data: Any, what: str) -> None:
    # default file format (insert_values): dlt's csv would load "" as NULL
    try:
        pipeline.extract(data)
    except PipelineStepFailed as error:
        _abort_pending(pipeline)
        cause = root_cause(error)
        raise LoadError(f"{what}: {cause}") from cause


def load(pipeline: dlt.Pipeline, what: str) -> None:
    try:
        pipeline.normalize()
        pipeline.load(raise_on_failed_jobs=True)
    except PipelineStepFailed as error:
        _abort_pending(pipeline)
        cause = root_cause(error)
        raise LoadError(f"{what}: {type(cause).__name__}: {cause}") from cause


__all__ = [
    "PIPELINES_DIR_ENV",
    "default_pipelines_dir",
    "extract",
    "load",
    "make_pipeline",
]
