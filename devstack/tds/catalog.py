"""Case-insensitive name resolution against the PostgreSQL catalog.

SQL Server compares identifiers case-insensitively (CI collation); the stand-in spells
them in mixed case, quoted. The translator asks this catalog for the real spelling.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

CATALOG_QUERY = """
select n.nspname, c.relname, a.attname, n.oid = pg_my_temp_schema()
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
where c.relkind in ('r', 'v', 'm', 'p', 'f')
  and ((n.nspname not like 'pg\\_%' and n.nspname <> 'information_schema')
       or n.oid = pg_my_temp_schema())
order by c.oid, a.attnum
"""
SEARCH_ORDER = ("dbo", "public")  # after the session's temp schema, as search_path says


@dataclass
class Relation:
    schema: str
    name: str
    temp: bool
    columns: dict[str, str] = field(default_factory=dict)  # lower → spelling


class Catalog:
    def __init__(self) -> None:
        self.version = 0
        self._by_name: dict[str, list[Relation]] = {}
        self._by_qualified: dict[tuple[str, str], Relation] = {}
        self._schemas: dict[str, str] = {}
        self._stale = True

    def invalidate(self) -> None:
        self._stale = True

    def refresh(self, conn: psycopg.Connection) -> None:
        if not self._stale:
            return
        relations: dict[tuple[str, str], Relation] = {}
        for schema, name, column, temp in conn.execute(CATALOG_QUERY):
            rel = relations.setdefault((schema, name), Relation(schema, name, temp))
            if column is not None:
                rel.columns.setdefault(column.lower(), column)
        self._by_name = {}
        self._by_qualified = {}
        self._schemas = {}
        for rel in relations.values():
            self._by_name.setdefault(rel.name.lower(), []).append(rel)
            self._by_qualified[(rel.schema.lower(), rel.name.lower())] = rel
            if not rel.temp:
                self._schemas[rel.schema.lower()] = rel.schema
        for rels in self._by_name.values():
            rels.sort(key=_search_rank)
        self.version += 1
        self._stale = False

    def relation(self, schema: str | None, name: str) -> Relation | None:
        if schema and schema.lower() != "pg_temp":
            return self._by_qualified.get((schema.lower(), name.lower()))
        rels = self._by_name.get(name.lower(), [])
        if schema:
            rels = [r for r in rels if r.temp]
        return rels[0] if rels else None

    def schema(self, name: str) -> str | None:
        return self._schemas.get(name.lower())


def _search_rank(rel: Relation) -> int:
    if rel.temp:
        return 0
    order = [s.lower() for s in SEARCH_ORDER]
    return 1 + order.index(rel.schema.lower()) if rel.schema.lower() in order else 99
