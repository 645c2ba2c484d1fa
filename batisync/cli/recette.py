"""`batisync debug-heures`: the seed's recette tool (`batisync.tools.recette`)."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from batisync.cli.common import add_dossier_option, load, writing
from batisync.core.logs import ProgressDisplay
from batisync.core.settings import Settings
from batisync.orchestrate.record import recorded
from batisync.tools.recette import Options, run_recette

log = logging.getLogger(__name__)


def _needed(options: Options) -> Any:
    def required(settings: Settings) -> tuple[str, ...]:
        needed = ("PGHOST", "PGDATABASE", "BATIGEST_URL")
        return (*settings.batisimply_required(), *needed) if options.update_codes else needed

    return required


def cmd_debug_heures(args: argparse.Namespace) -> int:
    if args.days < 1:
        args.parser.error("--days must be at least 1")
    options = Options(args.days, args.id_heure, args.update_codes, args.apply, args.verbose)
    display = ProgressDisplay(args.logs, log)
    settings = load(_needed(options), dossier=args.dossier)
    with writing(settings, "debug-heures", writes=options.writes):
        if not options.apply:
            return run_recette(settings, options, display)
        # a write to SuiviMO: in sync_runs like a sync (command `debug-heures`)
        conninfo = settings.staging.conninfo()
        with recorded(conninfo, settings.dbt_schema, "debug-heures") as recording:
            return run_recette(settings, options, display, recording)


def add_commands(commands: Any) -> None:
    parser = commands.add_parser(
        "debug-heures", help="the recette tool: each slot's state, the export plan (--apply)"
    )
    parser.add_argument("--days", type=int, default=7, help="slots of the last N days (7)")
    parser.add_argument("--id-heure", help="one slot (BatiSimply id)")
    parser.add_argument(
        "--update-codes", action="store_true", help="reload projects/Salarie/slots, dbt build"
    )
    parser.add_argument("--apply", action="store_true", help="write the export to SuiviMO")
    parser.add_argument("--verbose", "-v", action="store_true")
    add_dossier_option(parser)
    parser.set_defaults(handler=cmd_debug_heures, parser=parser)


__all__ = ["add_commands", "cmd_debug_heures"]
