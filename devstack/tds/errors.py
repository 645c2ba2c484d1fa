"""PostgreSQL errors as SQL Server messages: (number, severity, text).

Drivers map the number to an SQLSTATE and an exception class, so the common
cases keep SQL Server's numbers; anything else is 50000 with PostgreSQL's text.
"""

from __future__ import annotations

import psycopg
from psycopg import errors as pge


def sqlserver_error(e: psycopg.Error) -> tuple[int, int, str]:
    diag = e.diag
    table = diag.table_name or "?"
    column = diag.column_name or "?"
    pg_text = (diag.message_primary or str(e)).strip()
    if isinstance(e, pge.StringDataRightTruncation):
        return (
            2628,
            16,
            (
                f"String or binary data would be truncated in table '{table}', column "
                f"'{column}'. ({pg_text})"
            ),
        )
    if isinstance(e, pge.UniqueViolation):
        return (
            2627,
            14,
            (
                f"Violation of PRIMARY KEY constraint '{diag.constraint_name}'. Cannot insert "
                f"duplicate key in object '{diag.schema_name}.{table}'. ({pg_text})"
            ),
        )
    if isinstance(e, pge.NotNullViolation):
        return (
            515,
            16,
            (
                f"Cannot insert the value NULL into column '{column}', table '{table}'; "
                "column does not allow nulls. INSERT fails."
            ),
        )
    if isinstance(e, pge.ForeignKeyViolation | pge.CheckViolation):
        return 547, 16, f"The statement conflicted with a constraint. ({pg_text})"
    if isinstance(e, pge.UndefinedTable):
        return 208, 16, f"Invalid object name. ({pg_text})"
    if isinstance(e, pge.UndefinedColumn):
        return 207, 16, f"Invalid column name. ({pg_text})"
    if isinstance(e, pge.SyntaxError):
        return 102, 15, f"Incorrect syntax. ({pg_text})"
    if isinstance(e, pge.NumericValueOutOfRange):
        return 8115, 16, f"Arithmetic overflow error. ({pg_text})"
    if isinstance(e, pge.DivisionByZero):
        return 8134, 16, "Divide by zero error encountered."
    if isinstance(e, pge.DuplicateTable):
        return 2714, 16, f"There is already an object with that name. ({pg_text})"
    if isinstance(e, pge.InvalidDatetimeFormat | pge.InvalidTextRepresentation):
        return 245, 16, f"Conversion failed. ({pg_text})"
    if isinstance(e, pge.LockNotAvailable | pge.QueryCanceled):
        return 1222, 16, f"Lock request time out period exceeded. ({pg_text})"
    if isinstance(e, pge.DeadlockDetected):
        return (
            1205,
            13,
            f"Transaction was deadlocked and has been chosen as the deadlock victim. ({pg_text})",
        )
    return 50000, 16, pg_text
