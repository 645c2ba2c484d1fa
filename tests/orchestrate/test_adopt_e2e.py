"""Issue 17: a site switching from the old connector points batisync at its staging
database. Its `batigest_heures` (the old connector's own DDL: `id serial`, `uuid`,
`numeric(5,2)`, `not null`, `varchar(50)`, `integer`) holds rows inside and outside the
window, some `sync`; a user's view on it (security_barrier, comments), a view on that
view (check option), grants to an analyst, comments on the table. Three `batisync sync`
runs (as a role that owns the database and is no superuser) must each exit 0 and leave
SuiviMO exactly as the slots say, the views and grants answering, the seed's query
listing exactly the rejected slots plus the old rows batisync never loads, each row's
`id` unchanged, and the adoption logged once."""

from __future__ import annotations

import pytest

from tests.orchestrate.old_site import SEED_QUERY, OldSite, summary_of

# the old connector's deployment (`old_site`, tests/orchestrate/conftest.py) on this data
pytestmark = [pytest.mark.slow, pytest.mark.dataset(n_employees=4, n_projects=4, days=20, seed=17)]

ADOPTED = "adopted the old connector's batigest_heures"


def _users_objects(site: OldSite) -> None:
    """What people made on the old table: views, a view on a view, grants, comments."""
    with site.connect(site.sync_role) as conn:
        conn.execute(
            "create view public.heures_validees with (security_barrier) as "
            "select id, id_heure, id_utilisateur, date_debut, total_heure, code_projet "
            "from public.batigest_heures where status_management = 'VALIDATED'"
        )
        conn.execute(
            "create view public.heures_longues as select id_heure, id_utilisateur, total_heure "
            "from public.heures_validees where total_heure > 60 with local check option"
        )
        conn.execute("comment on view public.heures_validees is 'heures validées (compta)'")
        conn.execute("comment on column public.heures_validees.total_heure is 'minutes'")
        conn.execute("comment on table public.batigest_heures is 'heures BatiSimply'")
        conn.execute("comment on column public.batigest_heures.sync is 'poussé dans SuiviMO'")
        conn.execute(
            f"grant select on public.batigest_heures, public.heures_validees, "
            f"public.heures_longues to {site.analyst}"
        )
        conn.execute(f"grant select (id_heure) on public.heures_longues to {site.other}")


USERS_OBJECTS = """
select c.relname, c.relkind, pg_get_userbyid(c.relowner), c.relacl::text,
       c.reloptions::text, obj_description(c.oid, 'pg_class'),
       (select string_agg(a.attname || '=' || coalesce(col_description(c.oid, a.attnum), '')
                          || ' ' || coalesce(a.attacl::text, ''), ', ' order by a.attnum)
        from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
          and (col_description(c.oid, a.attnum) is not null or a.attacl is not null))
from pg_class c
where c.relnamespace = 'public'::regnamespace
  and c.relname in ('batigest_heures', 'heures_validees', 'heures_longues')
order by c.relname
"""


def _check(site: OldSite, users_objects: list[tuple]) -> None:
    # the views, options, grants and comments people made are all still there
    assert site.rows(USERS_OBJECTS) == users_objects
    longues = site.rows("select id_heure, total_heure from public.heures_longues", site.analyst)
    assert longues and all(minutes > 60 for _, minutes in longues)
    assert site.rows("select id_heure from public.heures_longues", site.other)
    # SuiviMO: every healthy slot's key and values once, and the old rows left alone
    assert site.suivimo() == site.expected_suivimo()
    # the seed's query: the rejected slots, plus the old rows batisync never loads
    rejected = {r[0] for r in site.rows("select id_heure from public.heures_rejected")}
    assert rejected
    listed = {r[0] for r in site.rows(SEED_QUERY)}
    assert listed == rejected | site.not_loaded_listed


def test_three_syncs_adopt_the_old_table_in_place(old_site: OldSite) -> None:
    _users_objects(old_site)
    users_objects = old_site.rows(USERS_OBJECTS)
    ids_before = old_site.ids()

    first = old_site.sync()
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert summary_of(first)["status"] == "success"
    adopted = [line for line in first.stderr.splitlines() if ADOPTED in line]
    assert len(adopted) == 1, first.stderr[-3000:]
    # the old rows batisync never loads are named once, with their count
    named = [line for line in first.stderr.splitlines() if "never loads" in line]
    assert len(named) == 1 and "5 row(s)" in named[0], first.stderr[-3000:]
    assert all(i in named[0] for i in old_site.not_loaded_listed)
    _check(old_site, users_objects)
    after_first = old_site.ids()
    assert {i: after_first[i] for i in ids_before} == ids_before  # pre-adoption ids kept

    # upstream: a slot moves, the 1,200-minute one becomes 1,300 minutes
    data = old_site.dataset
    long_slot = next(i for i, s in data.slots.items() if s["totalTimeMinutes"] == 1200)
    data.change_minutes(long_slot, 1300)
    data.move_slot(next(iter(data.slots)), 30)
    for _ in range(2):  # the second finds nothing new
        run = old_site.sync()
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert ADOPTED not in run.stderr and "never loads" not in run.stderr
        _check(old_site, users_objects)
        assert old_site.ids() == after_first  # `id` is stable per slot
    migrations = old_site.rows("select name, detail->>'not_loaded' from public.batisync_migrations")
    assert migrations == [("adopt_batigest_heures", "5")]
