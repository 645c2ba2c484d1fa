"""Issue 17: an old deployment the sync must not adopt by itself (a materialized view on
batigest_heures, a rule, a view another role owns). `batisync sync` exits 2 before the
export, prints the script for a DBA and changes nothing: the staging catalog and SuiviMO
are as they were. Once the DBA has run the script, the next sync completes."""

from __future__ import annotations

import pytest

from devstack.old_deployment import STAGING_CATALOG
from tests.orchestrate.old_site import OldSite, dba_sql, summary_of

# the old connector's deployment (`old_site`, tests/orchestrate/conftest.py) on this data
pytestmark = [pytest.mark.slow, pytest.mark.dataset(n_employees=3, n_projects=3, days=10, seed=23)]

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


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_unsafe_adoption_stops_the_run_and_changes_nothing(old_site: OldSite, case: str) -> None:
    sql, reason = CASES[case]
    with old_site.connect(old_site.sync_role) as conn:
        conn.execute(sql)  # type: ignore[arg-type]
    if case == "view_of_another_role":
        with old_site.connect() as conn:
            conn.execute(f"alter view public.heures_compta owner to {old_site.other}")  # type: ignore[arg-type]
    catalog, suivimo = old_site.rows(STAGING_CATALOG), old_site.suivimo()

    run = old_site.sync()

    assert run.returncode == 2, run.stdout[-3000:] + run.stderr[-3000:]
    summary = summary_of(run)
    assert (summary["status"], summary["failed_stage"]) == ("config_error", "transform")
    statuses = [s["status"] for s in summary["stages"]]
    assert statuses == ["ok", "failed", "skipped", "skipped", "skipped"]
    assert reason in summary["error"] and "Nothing was changed" in summary["error"]
    script = dba_sql(summary["error"])
    assert "alter table public.batigest_heures alter column" in script
    # what was there is as it was (the run added only its own sync_runs), no adoption
    names = {row[0] for row in catalog}
    after = old_site.rows(STAGING_CATALOG)
    assert [row for row in after if row[0] in names] == catalog
    assert {row[0] for row in after} - names == {"sync_runs", "sync_runs_pkey"}
    assert old_site.suivimo() == suivimo

    # the DBA runs the script (a superuser here), then the sync completes
    with old_site.connect() as conn:
        conn.execute(script)  # type: ignore[arg-type]
    again = old_site.sync()
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert old_site.suivimo() == old_site.expected_suivimo()
    kept = {r[0]: r for r in old_site.rows(STAGING_CATALOG)}
    for name, *rest in catalog:
        if name != "batigest_heures":
            assert kept[name][:6] == (name, *rest[:5]), name
