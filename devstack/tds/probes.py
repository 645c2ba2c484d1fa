"""Known statements the translator can't map, rewritten to T-SQL it can (one line each)."""

from __future__ import annotations

import re

PROBES: list[tuple[re.Pattern[str], str]] = [
    # SQLAlchemy's check for extended properties (Azure Synapse): no such rows here
    (re.compile(r"\bfn_listextendedproperty\s*\([^)]*\)", re.I), "(SELECT 1 AS x WHERE 1 = 0) AS p"),
    # `tempdb..#t` / `tempdb.dbo.#t`: temp tables live in the session's schema
    (re.compile(r"\btempdb\s*\.\s*(dbo)?\s*\.\s*(?=\[?#)", re.I), ""),
]


def rewrite_probes(sql: str) -> str:
    for pattern, replacement in PROBES:
        sql = pattern.sub(replacement, sql)
    return sql
