"""An old connector's deployment taken over (issue 17): batisync pointed at the staging
database the old connector (connecteur-sages-V1) left, as a site switching over does.

That database holds the old connector's own `batigest_heures` (its DDL:
`devstack/old_connector.py`, `id_utilisateur uuid`, `total_heure numeric(5,2)`, `sync`)
and the seed's four-column `batigest_heures_map`, filled as the old connector leaves
them (every slot of the world before its change, the pushed ones mapped and
`sync = true`), a user's view on `batigest_heures` with a grant; Batigest holds the rows
it wrote. Then the world's changes are served and syncs run. Each must exit 0, leave
SuiviMO right (the oracle) and the view answering, still granted.
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa

from devstack.old_connector import old_deployment_ddl
from devstack.reliability.stack import Outcome, Stack
from devstack.verify import staging_rows

READER = "batisync_rel_reader"  # the role a user granted the view to
VIEW = "heures_a_traiter"
# the seed note's query, as a view a site made on the old connector's table
VIEW_DDL = f"""
create view {VIEW} as
select id_heure, date_debut, id_utilisateur, code_projet, total_heure, sync
from batigest_heures
where status_management = 'VALIDATED' and not sync
"""
OLD_COLUMNS = (
    "id_heure, date_debut, date_fin, id_utilisateur, id_projet, status_management, "
    "total_heure, panier, trajet, code_projet, sync"
)


def build_old_deployment(template_staging: str, staging: str) -> int:
    """The old connector's tables in `staging`, filled from what the first sync of
    `template_staging` pushed; returns how many map rows."""
    mapped = staging_rows(
        template_staging,
        "select id_heure, code_chantier, code_salarie, date_sqlserver from batigest_heures_map",
    )
    heures = staging_rows(template_staging, f"select {OLD_COLUMNS} from batigest_heures")
    engine = sa.create_engine(staging)
    try:
        with engine.begin() as conn:
            for ddl in old_deployment_ddl():
                conn.exec_driver_sql(ddl)
            conn.execute(
                sa.text("insert into batigest_heures_map values (:i, :chantier, :salarie, :date)"),
                [{"i": r[0], "chantier": r[1], "salarie": r[2], "date": r[3]} for r in mapped],
            )
            names = OLD_COLUMNS.split(", ")
            conn.execute(
                sa.text(
                    f"insert into batigest_heures ({OLD_COLUMNS}) values "
                    f"({', '.join(_placeholder(n) for n in names)})"
                ),
                [dict(zip(names, row, strict=True)) for row in heures],
            )
            conn.exec_driver_sql(VIEW_DDL)
            conn.exec_driver_sql(
                f"do $$ begin create role {READER} nologin; "
                "exception when duplicate_object then null; end $$"
            )
            conn.exec_driver_sql(f"grant select on {VIEW} to {READER}")
    finally:
        engine.dispose()
    return len(mapped)


def _placeholder(column: str) -> str:
    return "cast(:id_utilisateur as uuid)" if column == "id_utilisateur" else f":{column}"


def view_problem(staging: str) -> str | None:
    """Why the user's view does not answer as before, or None."""
    try:
        staging_rows(staging, f"select count(*) from {VIEW}")
        granted = staging_rows(
            staging, "select has_table_privilege(:role, :view, 'select')", role=READER, view=VIEW
        )
    except sa.exc.DBAPIError as error:
        return f"the view does not answer: {str(error.orig).splitlines()[0][:100]}"
    return None if granted == [(True,)] else "the view lost its grant"


def old_deployment(stack: Stack, quick: bool) -> Iterator[Outcome]:
    world = stack if quick else stack.large()
    outcome = Outcome("an old connector's staging taken over (its tables, a view on them)")
    env, batigest = world.copy(empty_staging=True)
    staging = world.pg.url(env["PGDATABASE"])
    build_old_deployment(world.template_staging, staging)
    for n in range(1, 2 if quick else 4):
        run = world.sync(env)
        problem = view_problem(staging)
        if problem:
            outcome.notes.append(f"sync {n}: {problem}")
        outcome.judge(run.code == 0 and problem is None, world.verdict(batigest), f"sync {n}", run)
        world.check_history(env)
    yield outcome


__all__ = ["build_old_deployment", "old_deployment", "view_problem"]
