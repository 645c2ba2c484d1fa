"""Known statements the translator can't map, rewritten to T-SQL it can (one line each)."""

from __future__ import annotations

import re

DATATYPE_COLUMNS = (
    "TYPE_NAME, DATA_TYPE, CAST(PRECISION AS int) AS PRECISION, LITERAL_PREFIX, LITERAL_SUFFIX, "
    "CREATE_PARAMS, CAST(NULLABLE AS smallint) AS NULLABLE, "
    "CAST(CASE_SENSITIVE AS smallint) AS CASE_SENSITIVE, CAST(SEARCHABLE AS smallint) AS "
    "SEARCHABLE, CAST(UNSIGNED_ATTRIBUTE AS smallint) AS UNSIGNED_ATTRIBUTE, "
    "CAST(MONEY AS smallint) AS MONEY, CAST(AUTO_INCREMENT AS smallint) AS AUTO_INCREMENT, "
    "LOCAL_TYPE_NAME, CAST(MINIMUM_SCALE AS smallint) AS MINIMUM_SCALE, "
    "CAST(MAXIMUM_SCALE AS smallint) AS MAXIMUM_SCALE, CAST(SQL_DATA_TYPE AS smallint) AS "
    "SQL_DATA_TYPE, CAST(SQL_DATETIME_SUB AS smallint) AS SQL_DATETIME_SUB, NUM_PREC_RADIX, "
    "CAST(INTERVAL_PRECISION AS smallint) AS INTERVAL_PRECISION, USERTYPE"
)

PROBES: list[tuple[re.Pattern[str], str]] = [
    # ODBC SQLGetTypeInfo (FreeTDS sends it as a batch): the types' sizes, from compat.sql
    (
        re.compile(r"^\s*(?:EXEC(?:UTE)?\s+)?sp_datatype_info(?:_100)?\s+(-?\d+)[^;]*$", re.I),
        f"SELECT {DATATYPE_COLUMNS} FROM sys.tds_datatype_info WHERE DATA_TYPE = \\1 ORDER BY ord",
    ),
    # SQLAlchemy's check for extended properties (Azure Synapse): no such rows here
    (
        re.compile(r"\bfn_listextendedproperty\s*\([^)]*\)", re.I),
        "(SELECT 1 AS x WHERE 1 = 0) AS p",
    ),
    # `tempdb..#t` / `tempdb.dbo.#t`: temp tables live in the session's schema
    (re.compile(r"\btempdb\s*\.\s*(dbo)?\s*\.\s*(?=\[?#)", re.I), ""),
]


def rewrite_probes(sql: str) -> str:
    for pattern, replacement in PROBES:
        sql = pattern.sub(replacement, sql)
    return sql
