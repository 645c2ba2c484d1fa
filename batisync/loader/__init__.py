"""Step 1 of the sync: BatiSimply time slots and projects, and Batigest `Salarie`, into the
staging PostgreSQL (`raw_batisimply`, `raw_batigest`) with dlt. `run_load` in
`batisync.loader.pipeline` is the entry point; `batisync.loader.config` maps the settings
onto it. Nothing is imported here, so that a command that does not load never pays for dlt.
"""
