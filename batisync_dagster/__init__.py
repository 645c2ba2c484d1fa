"""batisync's Dagster code location (the optional extra `.[dagster]`, docs/DAGSTER.md).

A layer above everything in `batisync`: it starts each dossier's sync as the
`batisync` command does and reads its JSON summary; `batisync` never imports it, nor
Dagster. `definitions.defs` is what `dagster dev -m batisync_dagster.definitions` loads.
"""
