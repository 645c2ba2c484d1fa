"""Step 2 of the sync: dbt on the staging PostgreSQL (`dbt_project/`), run in-process."""
