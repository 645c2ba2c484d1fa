"""The seed's recette tool: where is each hour, and what would the sync do with it?

    batisync debug-heures --days 7 --verbose
    batisync debug-heures --id-heure 12345 --update-codes --apply --verbose

(`make debug-heures` and the seed's `scripts/debug_heures.py` call it.)

Lists the slots of the last `--days` days (or the one of `--id-heure`) with their
state in staging (batigest_heures, to_push, heures_rejected, heures_gone), in the map
and in SuiviMO. `--update-codes` first reloads the projects, the Salarie and the
slots of that window, and rebuilds the dbt models. The export plan is always shown;
it is written to SuiviMO only with `--apply`. Runs against the configured systems
(the same settings as `make sync`), and takes the sync lock when it writes.

`reads` reads, `verdict` decides what to say (pure), `run` acts; `batisync.cli.recette`
parses the options and holds the lock. Exit status: 0 done, 1 failed (or the slot is
unknown), 2 configuration, 75 a sync runs.
"""

from batisync.tools.recette.run import Options, run_recette

__all__ = ["Options", "run_recette"]
