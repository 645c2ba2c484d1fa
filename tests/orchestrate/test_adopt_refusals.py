"""Issue 17: an old deployment the sync must not adopt by itself (a materialized view on
batigest_heures, a rule, a view another role owns). `batisync sync` exits 2 before the
export, prints the script for a DBA and changes nothing: the staging catalog and SuiviMO
are as they were. Once the DBA has run the script, the next sync completes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.fake_batisimply import FakeBatiSimply, generate
from tests.orchestrate.old_site import OldSite, build_old_site, dba_sql, summary_of

pytestmark = pytest.mark.slow

# every relation of public with its columns, owner, grants, options, comment, definition;
# the rules; the schemas (the record table must not appear)
CATALOG = """
select c.relname, c.relkind, pg_get_userbyid(c.relowner), c.relacl::text, c.reloptions::text,
       obj_description(c.oid, 'pg_class'),
       case when c.relkind in ('v', 'm') then pg_get_viewdef(c.oid) end,
       (select string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                          || case when a.attnotnull then ' not null' else '' end, ', '
                          order by a.attnum)
        from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped)
from pg_class c where c.relnamespace = 'public'::regnamespace
union all
select r.rulename, 'rule', r.tablename, null, null, null, r.definition, null
from pg_rules r where r.schemaname = 'public'
order by 1
"""

CASES = {
    "materialized_view": (
        "create materialized view public.minutes_par_salarie as select id_utilisateur, "
        "sum(total_heure) as minutes from public.batigest_heures group by 1",
        "materialized view public.minutes_par_salarie reads it",
    ),
    "rule": (
        "create table public.heures_audit (id_heure text, total_heure numeric);"
        "create rule audit_des_heures as on update to public.batigest_heures do also "
        "insert into public.heures_audit values (new.id_heure, new.total_heure)",
        "rule audit_des_heures on public.batigest_heures rewrites statements on it",
    ),
    "view_of_another_role": (
        "create view public.heures_compta as select id_heure, id_utilisateur, total_heure "
        "from public.batigest_heures",
        "view public.heures_compta is owned by bs_other_",
    ),
}


@pytest.fixture
def site(staging_url: str, batigest_url: str, tmp_path: Path) -> Iterator[OldSite]:
    dataset = generate(n_employees=3, n_projects=3, days=10, seed=23)
    with FakeBatiSimply(dataset) as api:
        old = build_old_site(api, staging_url, batigest_url, tmp_path)
        yield old
        old.batigest.dispose()


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_unsafe_adoption_stops_the_run_and_changes_nothing(site: OldSite, case: str) -> None:
    sql, reason = CASES[case]
    with site.connect(site.sync_role) as conn:
        conn.execute(sql)  # type: ignore[arg-type]
    if case == "view_of_another_role":
        with site.connect() as conn:
            conn.execute(f"alter view public.heures_compta owner to {site.other}")  # type: ignore[arg-type]
    catalog, suivimo = site.rows(CATALOG), site.suivimo()

    run = site.sync()

    assert run.returncode == 2, run.stdout[-3000:] + run.stderr[-3000:]
    summary = summary_of(run)
    assert (summary["status"], summary["failed_stage"]) == ("config_error", "transform")
    assert [s["status"] for s in summary["stages"]] == ["ok", "failed", "skipped", "skipped"]
    assert reason in summary["error"] and "Nothing was changed" in summary["error"]
    script = dba_sql(summary["error"])
    assert "alter table public.batigest_heures alter column" in script
    # what was there is as it was (the run added only its own sync_runs), no adoption
    names = {row[0] for row in catalog}
    after = site.rows(CATALOG)
    assert [row for row in after if row[0] in names] == catalog
    assert {row[0] for row in after} - names == {"sync_runs", "sync_runs_pkey"}
    assert site.suivimo() == suivimo

    # the DBA runs the script (a superuser here), then the sync completes
    with site.connect() as conn:
        conn.execute(script)  # type: ignore[arg-type]
    again = site.sync()
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert site.suivimo() == site.expected_suivimo()
    kept = {r[0]: r for r in site.rows(CATALOG)}
    for name, *rest in catalog:
        if name != "batigest_heures":
            assert kept[name][:6] == (name, *rest[:5]), name
