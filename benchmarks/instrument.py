"""Counting what reaches the databases: statements and round trips, per engine.

`before_cursor_execute` fires once per DBAPI `execute`/`executemany` call, which is
one statement (an `executemany` counts once: with pyodbc's `fast_executemany` the
parameter arrays go in one round trip). Used by the tests (statements per batch must
not grow with its size) and by the benchmark.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa


@dataclass(frozen=True)
class Statement:
    engine: str
    sql: str
    executemany: bool
    rows: int  # parameter sets (1 for a plain execute)


@dataclass
class StatementLog:
    statements: list[Statement] = field(default_factory=list)

    def count(self, engine: str | None = None) -> int:
        return sum(1 for s in self.statements if engine is None or s.engine == engine)

    def clear(self) -> None:
        self.statements.clear()


@contextmanager
def statement_log(**engines: sa.Engine) -> Iterator[StatementLog]:
    """Record every statement sent through the named engines while inside."""
    log = StatementLog()
    listeners = []
    for name, engine in engines.items():

        def listener(
            conn: Any,
            cursor: Any,
            statement: str,
            parameters: Any,
            context: Any,
            executemany: bool,
            _name: str = name,
        ) -> None:
            rows = len(parameters) if executemany and parameters is not None else 1
            log.statements.append(Statement(_name, statement, executemany, rows))

        sa.event.listen(engine, "before_cursor_execute", listener)
        listeners.append((engine, listener))
    try:
        yield log
    finally:
        for engine, listener in listeners:
            sa.event.remove(engine, "before_cursor_execute", listener)
