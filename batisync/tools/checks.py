"""A doctor check: its outcome, and the guard that turns any exception into a failure."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from batisync.core.errors import BatisyncError, first_line
from batisync.core.logs import redact

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None  # None: not run (a setting it needs is missing)
    detail: str
    setting: str | None = None  # set when the problem is a missing setting (exit 2)
    level: str | None = None  # "warning" or "info": passes, but says something to know

    @property
    def label(self) -> str:
        if self.ok and self.level:
            return {"warning": "WARN", "info": "note"}.get(self.level, "ok")
        return {True: "ok", False: "FAIL", None: "skip"}[self.ok]


def guard(name: str, check: Callable[[], str]) -> Check:
    """Run one check; any exception becomes its failure, secrets removed."""
    try:
        return Check(name, True, check())
    except CheckFailed as failure:
        return Check(name, False, redact(str(failure)))
    except Exception as error:
        log.debug("check %s raised", name, exc_info=True)
        return Check(name, False, redact(first_line(error)))


class CheckFailed(BatisyncError):
    pass


__all__ = ["Check", "CheckFailed", "guard"]
