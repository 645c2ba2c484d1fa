"""A dossier's first export, with an empty map, into a SuiviMO that already holds rows of
the window: the old connector synced this company, and its map lives on its old server.
Without that map a slot moved since the old connector's last run would leave its old
row behind, so the run says how to bring the map in (`import_map.py`)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from batisync.export.map_table import map_table
from batisync.export.suivimo import suivimo_table


def unmapped_rows(
    staging: sa.Engine, batigest: sa.Engine, staging_schema: str, batigest_schema: str,
    since: datetime,
) -> int:  # fmt: skip
    """SuiviMO rows dated from `since` while the map is empty or absent (0 otherwise)."""
    if sa.inspect(staging).has_table(map_table(staging_schema).name, schema=staging_schema):
        with staging.connect() as conn:
            mapped = conn.execute(sa.select(sa.literal(1)).select_from(map_table(staging_schema))
                                  .limit(1)).first()  # fmt: skip
        if mapped is not None:
            return 0
    suivimo = suivimo_table(batigest_schema)
    with batigest.connect() as conn:
        query = sa.select(sa.func.count()).select_from(suivimo).where(suivimo.c.Date >= since)
        return int(conn.execute(query).scalar_one())


def import_hint(dossier: str, rows: int, since: datetime) -> str:
    return (
        f"batigest_heures_map is empty while SuiviMO already holds {rows} row(s) dated from "
        f"{since:%Y-%m-%d}: if the old connector synced this company, bring its map in "
        f"before the next run: batisync import-map --dossier {dossier} --from "
        "postgresql://USER@OLD_HOST:5432/OLD_DATABASE (docs/DOSSIERS.md); otherwise every "
        "slot moved since its last run leaves its old row behind"
    )


__all__ = ["import_hint", "unmapped_rows"]
