"""The old connector's staging tables as its sites have them (connecteur-sages-V1):
`batigest_heures` as its `init_postgres_table` creates it, and the seed note's
`batigest_heures_map`. Tests and `make reliability` build an old deployment from these
to check that batisync adopts it in place."""

from __future__ import annotations

# The old connector's own DDL (app/services/batigest/utils.py, init_postgres_table).
OLD_BATIGEST_HEURES_DDL = """
CREATE TABLE IF NOT EXISTS {schema}.batigest_heures (
    id SERIAL PRIMARY KEY,
    id_heure VARCHAR(50) UNIQUE,
    date_debut TIMESTAMP NOT NULL,
    date_fin TIMESTAMP NOT NULL,
    id_utilisateur UUID NOT NULL,
    id_projet INTEGER,
    status_management VARCHAR(50),
    total_heure NUMERIC(5,2),
    panier BOOLEAN,
    trajet BOOLEAN,
    code_projet VARCHAR(100),
    sync BOOLEAN DEFAULT FALSE
)
"""

# The seed note's DDL of the mapping table (../shared/seed).
SEED_MAP_DDL = """
CREATE TABLE IF NOT EXISTS {schema}.batigest_heures_map (
  id_heure VARCHAR PRIMARY KEY,
  code_chantier VARCHAR NOT NULL,
  code_salarie VARCHAR NOT NULL,
  date_sqlserver TIMESTAMP NOT NULL
)
"""


def old_deployment_ddl(schema: str = "public") -> list[str]:
    """The statements that create an old connector's staging tables in `schema`."""
    return [ddl.format(schema=schema) for ddl in (OLD_BATIGEST_HEURES_DDL, SEED_MAP_DDL)]


__all__ = ["OLD_BATIGEST_HEURES_DDL", "SEED_MAP_DDL", "old_deployment_ddl"]
