"""One error root, mapped once: whatever a command's handler raises reaches its exit status
and its message through `batisync.cli.main` (configuration 2, the lock 75, the rest 1),
secrets masked, a traceback only with --verbose; SIGTERM is never an `Exception`."""

from __future__ import annotations

import importlib
import os
import pkgutil
import signal
import time
from collections.abc import Callable

import pytest

import batisync
import batisync.cli.run
from batisync.cli import main
from batisync.core.errors import (
    BatisyncError,
    ConfigError,
    ConfigErrors,
    ConnectionLost,
    StageError,
)
from batisync.core.settings.dossiers import DossierError
from batisync.export.config import BatigestUnfit
from batisync.export.inspection import Finding
from batisync.export.staging_io import ExportInputError
from batisync.loader.api.errors import ApiError
from batisync.loader.report import LoadError
from batisync.orchestrate.interrupt import Interrupted, interruptible
from batisync.orchestrate.lock import LockBusy, LockHolder
from batisync.tools.checks import CheckFailed
from batisync.transform.adoption import AdoptionRefused
from batisync.transform.adoption.plan import AdoptionPlan

PASSWORD = "pw-never-shown-42"
SETTINGS_HINT = "`make doctor` checks every setting"


def _missing() -> ConfigErrors:
    pghost, batigest = ConfigError("PGHOST", "missing"), ConfigError("BATIGEST_URL", "missing")
    errors = ConfigErrors([pghost, batigest])
    errors.searched = "/srv/batisync/.env, /srv/batisync/credentials.json"
    return errors


def _refused() -> AdoptionRefused:
    plan = AdoptionPlan("public.batigest_heures", statements=("alter table x drop column y",))
    return AdoptionRefused(plan, ("a view depends on it",))


def _lost() -> ConnectionLost:
    return ConnectionLost("Batigest", OSError(f"connection refused by mssql://sa:{PASSWORD}@db"))


def _busy() -> LockBusy:
    return LockBusy(LockHolder(4242, "batisync sync@cron-host pid 31337", None, None))


# (error, exit status, what stderr must say, what it must not) for every subclass
CASES: list[tuple[BatisyncError, int, list[str], list[str]]] = [
    (
        ConfigError("HEURES_TIMEZONE", "expected an IANA zone", label="HEURES_TIMEZONE (tz)"),
        2,
        ["configuration error: HEURES_TIMEZONE (tz): expected an IANA zone", SETTINGS_HINT],
        [],
    ),
    (
        _missing(),
        2,
        [
            "configuration error: PGHOST: missing",
            "configuration error: BATIGEST_URL: missing",
            "looked in /srv/batisync/.env, /srv/batisync/credentials.json",
        ],
        [],
    ),
    (
        BatigestUnfit([Finding("error", "SuiviMO.Date", "is varchar, expected datetime")]),
        2,
        ["configuration error: BATIGEST_URL: the Batigest database does not fit: SuiviMO.Date"],
        [],
    ),
    (
        _refused(),
        2,
        ["configuration error: staging table public.batigest_heures: cannot be adopted", "commit;"],
        [SETTINGS_HINT],  # the DBA's script is what to do, not a setting
    ),
    (
        DossierError("PGDATABASE", "the staging database batisync_a belongs to dossier 'b'"),
        2,
        ["configuration error: PGDATABASE: the staging database batisync_a belongs", "DOSSIERS.md"],
        [SETTINGS_HINT],  # a dossier's own files, not the environment
    ),
    (_busy(), 75, ["holds the lock: 'batisync sync@cron-host pid 31337'", "nothing was done"], []),
    (StageError("dbt build failed: unique_x"), 1, ["doctor failed: dbt build failed"], []),
    (_lost(), 1, ["doctor failed: Batigest: OSError: connection refused by mssql://sa:***@db"], []),
    (
        ExportInputError("public.to_push not found in staging: run dbt build first"),
        1,
        ["doctor failed: public.to_push not found in staging: run dbt build first"],
        [],
    ),
    (LoadError("reading dbo.Salarie failed"), 1, ["doctor failed: reading dbo.Salarie"], []),
    (ApiError("GET /api/project: HTTP 403"), 1, ["doctor failed: GET /api/project: HTTP"], []),
    (CheckFailed("no SuiviMO table"), 1, ["doctor failed: no SuiviMO table"], []),
]


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for each in list(found):
        found |= _subclasses(each)
    return found


def _raising(error: BaseException) -> Callable[..., int]:
    def handler(*_: object) -> int:
        raise error

    return handler


def test_every_project_error_has_a_case_here() -> None:
    """A new subclass of BatisyncError fails this test until its exit path is added above."""
    for module in pkgutil.walk_packages(batisync.__path__, "batisync."):
        importlib.import_module(module.name)
    assert _subclasses(BatisyncError) == {type(error) for error, *_ in CASES}


@pytest.mark.parametrize(
    ("error", "status", "lines", "absent"), CASES, ids=[type(c[0]).__name__ for c in CASES]
)
def test_a_handler_raises_and_main_maps_it_once(
    error: BatisyncError,
    status: int,
    lines: list[str],
    absent: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(batisync.cli.run, "cmd_doctor", _raising(error))
    assert main(["doctor"]) == status
    captured = capsys.readouterr()
    assert captured.out == ""  # stdout is for what a command produces, not its failure
    for line in lines:
        assert line in captured.err
    for text in [*absent, "Traceback", PASSWORD]:
        assert text not in captured.err


@pytest.mark.parametrize("verbose", [False, True])
def test_an_unexpected_error_is_one_line_and_exit_1(
    verbose: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    boom = OSError(28, f"No space left on device: postgresql://u:{PASSWORD}@h/db\nsecond line")
    monkeypatch.setattr(batisync.cli.run, "cmd_doctor", _raising(boom))
    assert main(["doctor", *(["--verbose"] if verbose else [])]) == 1
    err = capsys.readouterr().err
    assert "doctor failed: OSError: [Errno 28] No space left on device: postgresql://u:***@h" in err
    assert PASSWORD not in err
    if verbose:  # the traceback, for whoever debugs it, redacted too
        assert "Traceback" in err and "second line" in err
    else:
        assert err.count("\n") == 1 and "Traceback" not in err


def test_interrupted_is_not_an_exception() -> None:
    """SIGTERM inside `except Exception` still stops the command."""
    assert issubclass(Interrupted, KeyboardInterrupt) and not issubclass(Interrupted, Exception)
    with pytest.raises(Interrupted, match="SIGTERM"), interruptible():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises in this thread before the sleep ends
        except Exception:
            pytest.fail("except Exception swallowed SIGTERM")


def test_main_maps_sigterm_to_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def swallowing_handler(*_: object) -> int:
        with interruptible():
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)
            except Exception:
                return 0
        return 0

    monkeypatch.setattr(batisync.cli.run, "cmd_doctor", swallowing_handler)
    assert main(["doctor"]) == 1
    err = capsys.readouterr().err
    assert "doctor interrupted by SIGTERM" in err and "Traceback" not in err
