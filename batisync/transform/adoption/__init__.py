"""Adopting the old connector's `batigest_heures` in place (issue 17): `apply` runs it,
`plan` decides it (pure), `columns` and `dependents` render its SQL, `catalog` reads
pg_catalog."""

from batisync.transform.adoption.apply import (
    MIGRATION,
    RECORD_TABLE,
    Adoption,
    AdoptionRefused,
    adopt_batigest_heures,
)

__all__ = ["MIGRATION", "RECORD_TABLE", "Adoption", "AdoptionRefused", "adopt_batigest_heures"]
