"""`batisync import-map`: the old connector's `batigest_heures_map` rows, copied from its
old staging server into this staging database's map, so that a slot moved since its
last run moves its row instead of leaving it behind.

Only the seed's four columns are copied (`id_heure`, `code_chantier`, `code_salarie`,
`date_sqlserver`): rows without pushed values, as the map of a database taken over in
place holds. A slot the map already knows keeps its row (what batisync pushed wins).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from batisync.core.errors import ConfigError
from batisync.export.map_table import MAP_TABLE, ensure_map

SEED_COLUMNS = ("id_heure", "code_chantier", "code_salarie", "date_sqlserver")
CHUNK = 5000


@dataclass(frozen=True)
class ImportReport:
    source: str  # the old server, without its password
    read: int
    imported: int

    @property
    def already_known(self) -> int:
        return self.read - self.imported

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "read": self.read,
            "imported": self.imported,
            "already_known": self.already_known,
        }

    def summary_line(self) -> str:
        return (
            f"batigest_heures_map: {self.read} row(s) read from {self.source}, "
            f"{self.imported} imported, {self.already_known} already known (kept as they are)"
        )


def source_url(text: str) -> sa.URL:
    """`--from`: a PostgreSQL URL (`postgresql://user:pass@host:5432/db`), for psycopg."""
    try:
        url = sa.make_url(text)
    except (sa.exc.ArgumentError, ValueError):
        raise ConfigError(
            "--from", "expected a PostgreSQL URL such as postgresql://user@old-host:5432/db"
        ) from None
    if url.get_backend_name() != "postgresql" or not url.database:
        raise ConfigError(
            "--from", "expected a PostgreSQL URL naming its database, postgresql://…/db"
        )
    return url.set(drivername="postgresql+psycopg")


def _read_old_map(source: sa.Engine, schema: str, shown: str) -> list[dict[str, Any]]:
    if not sa.inspect(source).has_table(MAP_TABLE, schema=schema):
        raise ConfigError("--from", f"{shown} has no table {schema}.{MAP_TABLE}")
    old = sa.Table(MAP_TABLE, sa.MetaData(), schema=schema, autoload_with=source)
    missing = [c for c in SEED_COLUMNS if c not in old.c]
    if missing:
        raise ConfigError("--from", f"{schema}.{MAP_TABLE} of {shown} lacks {', '.join(missing)}")
    with source.connect() as conn:
        query = sa.select(*(old.c[c] for c in SEED_COLUMNS)).where(
            *(old.c[c].is_not(None) for c in SEED_COLUMNS)
        )
        # the codes as text whatever the old column types were (the map's are varchar)
        return [
            {**row._mapping, "id_heure": str(row.id_heure), "code_chantier": str(
                row.code_chantier), "code_salarie": str(row.code_salarie)}
            for row in conn.execute(query)
        ]  # fmt: skip


def import_map(
    staging: sa.Engine, source: sa.Engine, *, staging_schema: str, source_schema: str = "public"
) -> ImportReport:
    """Copy the old map's rows the staging map does not hold; one transaction."""
    from sqlalchemy.dialects.postgresql import insert

    shown = source.url.render_as_string(hide_password=True)
    rows = _read_old_map(source, source_schema, shown)
    table = ensure_map(staging, staging_schema)
    imported = 0
    with staging.begin() as conn:
        for start in range(0, len(rows), CHUNK):
            statement = (
                insert(table)
                .values(rows[start : start + CHUNK])
                .on_conflict_do_nothing(index_elements=["id_heure"])
                .returning(table.c.id_heure)
            )
            imported += len(conn.execute(statement).all())
    return ImportReport(shown, len(rows), imported)


__all__ = ["ImportReport", "import_map", "source_url"]
