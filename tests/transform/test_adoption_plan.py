"""The adoption's pure decisions (issue 17): which columns of an existing batigest_heures
cannot take what the model writes, the views dropped and created again around them in
dependency order, and when the sync must leave the script to a DBA."""

from __future__ import annotations

import pytest

from batisync.transform.adoption.columns import (
    MODEL_COLUMNS,
    ColumnChange,
    FoundColumn,
    ModelColumn,
    column_changes,
    holds,
    parse_type,
)
from batisync.transform.adoption.dependents import Dependent, Grant, create_sql, in_creation_order
from batisync.transform.adoption.plan import Rule, TableFacts, plan_adoption

# the old connector's batigest_heures (devstack/old_connector.py) as pg_attribute shows it
OLD_COLUMNS = (
    FoundColumn("id", "integer", not_null=True, filled=True),
    FoundColumn("id_heure", "character varying(50)"),
    FoundColumn("date_debut", "timestamp without time zone", not_null=True),
    FoundColumn("date_fin", "timestamp without time zone", not_null=True),
    FoundColumn("id_utilisateur", "uuid", not_null=True),
    FoundColumn("id_projet", "integer"),
    FoundColumn("status_management", "character varying(50)"),
    FoundColumn("total_heure", "numeric(5,2)"),
    FoundColumn("panier", "boolean"),
    FoundColumn("trajet", "boolean"),
    FoundColumn("code_projet", "character varying(100)"),
    FoundColumn("sync", "boolean", filled=True),
)
# what dbt creates on a fresh database (tests/transform/test_adoption_db.py checks it)
FRESH_COLUMNS = tuple(FoundColumn(name, c.type) for name, c in MODEL_COLUMNS.items())


def test_the_old_connectors_table_gets_exactly_the_changes_its_values_need() -> None:
    changes = {c.column: c for c in column_changes(OLD_COLUMNS)}
    assert changes == {
        "id_heure": ColumnChange("id_heure", "character varying(50)", "text"),
        "date_debut": ColumnChange("date_debut", "timestamp without time zone", None, True),
        "date_fin": ColumnChange("date_fin", "timestamp without time zone", None, True),
        "id_utilisateur": ColumnChange("id_utilisateur", "uuid", "text", True),
        "id_projet": ColumnChange("id_projet", "integer", "bigint"),
        "status_management": ColumnChange("status_management", "character varying(50)", "text"),
        "total_heure": ColumnChange("total_heure", "numeric(5,2)", "numeric"),
        "code_projet": ColumnChange("code_projet", "character varying(100)", "text"),
    }  # `id` (a serial fills it), the booleans and `sync` stay as they are
    assert changes["id_utilisateur"].clauses() == [
        'alter column "id_utilisateur" type text using "id_utilisateur"::text',
        'alter column "id_utilisateur" drop not null',
    ]
    assert changes["total_heure"].describe() == "total_heure numeric(5,2) -> numeric"


def test_a_table_dbt_built_needs_nothing() -> None:
    assert column_changes(FRESH_COLUMNS) == ()
    assert not plan_adoption(_facts(FRESH_COLUMNS)).needed


@pytest.mark.parametrize(
    ("found", "want", "fits"),
    [
        ("text", MODEL_COLUMNS["code_projet"], True),
        ("character varying", MODEL_COLUMNS["code_projet"], True),
        ("character varying(1000)", MODEL_COLUMNS["code_projet"], False),
        ("character(64)", MODEL_COLUMNS["id_heure"], False),
        ("bigint", MODEL_COLUMNS["id_projet"], True),
        ("numeric", MODEL_COLUMNS["id_projet"], True),
        ("integer", MODEL_COLUMNS["id_projet"], False),
        ("numeric", MODEL_COLUMNS["total_heure"], True),
        ("numeric(9,2)", MODEL_COLUMNS["total_heure"], True),  # 1,000,000.00 minutes
        ("numeric(8,2)", MODEL_COLUMNS["total_heure"], False),
        ("numeric(12,1)", MODEL_COLUMNS["total_heure"], False),  # a decimal lost
        ("double precision", MODEL_COLUMNS["total_heure"], False),
        ("timestamp without time zone", MODEL_COLUMNS["date_debut"], True),
        ("timestamp(6) without time zone", MODEL_COLUMNS["date_debut"], True),
        ("timestamp(0) without time zone", MODEL_COLUMNS["date_debut"], False),
        ("timestamp with time zone", MODEL_COLUMNS["date_debut"], False),  # another meaning
        ("uuid", MODEL_COLUMNS["id_utilisateur"], False),
        ("boolean", MODEL_COLUMNS["panier"], True),
        ("smallint", MODEL_COLUMNS["panier"], False),
    ],
)
def test_holds_compares_the_found_type_with_what_the_model_writes(
    found: str, want: ModelColumn, fits: bool
) -> None:
    assert holds(found, want) is fits


def test_parse_type() -> None:
    assert parse_type("numeric(5,2)") == ("numeric", (5, 2))
    assert parse_type("timestamp(3) without time zone") == ("timestamp without time zone", (3,))
    assert parse_type("character varying") == ("character varying", ())
    assert parse_type('"My Type"') == ('"my type"', ())


def test_not_null_goes_where_the_model_may_write_null_or_nothing_fills_it() -> None:
    found = (
        FoundColumn("id_heure", "text", not_null=True),  # the model never writes null there
        FoundColumn("sync", "boolean", not_null=True),
        FoundColumn("note", "text", not_null=True),  # a site's own: the model leaves it out
        FoundColumn("created", "timestamp with time zone", not_null=True, filled=True),
        FoundColumn("panier", "boolean", not_null=True),
    )
    assert column_changes(found) == (
        ColumnChange("note", "text", drop_not_null=True),
        ColumnChange("panier", "boolean", drop_not_null=True),
    )


def _view(oid: int, name: str, reads: tuple[int, ...], **more: object) -> Dependent:
    fields: dict = {"kind": "v", "owner": "bs", "owned": True, "definition": " SELECT 1"}
    return Dependent(oid=oid, name=name, reads=reads, **(fields | more))  # type: ignore[arg-type]


def _facts(columns: tuple[FoundColumn, ...] = OLD_COLUMNS, **more: object) -> TableFacts:
    fields: dict = {"kind": "r", "owner": "bs", "owned": True}
    return TableFacts("public.batigest_heures", columns=columns, **(fields | more))  # type: ignore[arg-type]


def test_views_on_views_are_dropped_last_first_and_created_first_first() -> None:
    table = 1
    top, middle, base = (
        _view(4, "s.top", (3, 2)),
        _view(3, "s.middle", (2,)),
        _view(2, "s.base", (table,)),
    )
    assert [d.name for d in in_creation_order([top, middle, base])] == [
        "s.base",
        "s.middle",
        "s.top",
    ]
    plan = plan_adoption(_facts(dependents=(top, base, middle)))
    assert plan.refusals == ()
    drops = [s for s in plan.statements if s.startswith("drop ")]
    creates = [s.split(" as")[0] for s in plan.statements if s.startswith("create ")]
    assert drops == ["drop view s.top", "drop view s.middle", "drop view s.base"]
    assert creates == ["create view s.base", "create view s.middle", "create view s.top"]
    alter = plan.statements.index(next(s for s in plan.statements if s.startswith("alter table")))
    assert (
        plan.statements.index("drop view s.base")
        < alter
        < plan.statements.index(
            next(s for s in plan.statements if s.startswith("create view s.base"))
        )
    )
    assert plan.describe().endswith("3 view(s) created again as they were: s.base, s.middle, s.top")


def test_a_view_comes_back_with_its_options_comments_defaults_owner_and_grants() -> None:
    view = _view(
        2, "public.heures_validees", (1,),
        owner='"Compta"', options=("security_barrier=true", "check_option=local"),
        comment="'heures validées'", column_comments=(('"total_heure"', "'minutes'"),),
        column_defaults=(('"panier"', "false"),),
        grants=(Grant('"Compta"', "SELECT"), Grant('"Compta"', "UPDATE"),
                Grant("analyst", "SELECT", grantable=True), Grant("PUBLIC", "SELECT")),
        column_grants=(Grant("auditor", "SELECT", column='"id_heure"'),),
    )  # fmt: skip
    assert create_sql(view) == [
        "create view public.heures_validees with (security_barrier=true, check_option=local)"
        " as\n SELECT 1",
        'alter view public.heures_validees alter column "panier" set default false',
        "comment on view public.heures_validees is 'heures validées'",
        "comment on column public.heures_validees.\"total_heure\" is 'minutes'",
        'alter view public.heures_validees owner to "Compta"',
        'revoke all on table public.heures_validees from "Compta"',
        'grant SELECT, UPDATE on table public.heures_validees to "Compta"',
        "grant SELECT on table public.heures_validees to analyst with grant option",
        "grant SELECT on table public.heures_validees to PUBLIC",
        'grant SELECT ("id_heure") on table public.heures_validees to auditor',
    ]
    # never granted anything: its default privileges come back with the owner alone
    plain = create_sql(_view(3, "public.v", (1,)))
    assert plain == ["create view public.v as\n SELECT 1", "alter view public.v owner to bs"]


def test_a_materialized_view_comes_back_with_its_indexes_and_as_filled_as_it_was() -> None:
    matview = _view(
        5, "public.m", (1,), kind="m", populated=False,
        indexes=("CREATE INDEX m_i ON public.m USING btree (x)",),
    )  # fmt: skip
    statements = create_sql(matview)
    assert statements[0] == "create materialized view public.m as\n SELECT 1 with no data"
    assert statements[-1] == "CREATE INDEX m_i ON public.m USING btree (x)"
    assert "alter materialized view public.m owner to bs" in statements


@pytest.mark.parametrize(
    ("facts", "refusal"),
    [
        (_facts(dependents=(_view(2, "public.m", (1,), kind="m"),)), "materialized view public.m"),
        (_facts(dependents=(_view(2, "public.v", (1,), owned=False, owner="dba"),)),
         "view public.v is owned by dba"),
        (_facts(dependents=(_view(2, "public.v", (1,), triggers=("CREATE TRIGGER t …",)),)),
         "view public.v has triggers"),
        (_facts(rules=(Rule("r", "public.batigest_heures", "CREATE RULE r AS …;"),)),
         "rule r on public.batigest_heures"),
        (_facts(owned=False, owner="postgres"), "owned by postgres, not by the sync's role"),
        (_facts(kind="p"), "not a plain table"),
    ],
)  # fmt: skip
def test_what_the_sync_leaves_to_a_dba(facts: TableFacts, refusal: str) -> None:
    plan = plan_adoption(facts)
    assert len(plan.refusals) == 1 and refusal in plan.refusals[0], plan.refusals
    # the DBA's script does all of it, in one transaction
    script = plan.script()
    assert script.startswith("begin;\nset local search_path = pg_catalog;\n")
    assert script.endswith("commit;")
    assert "alter table public.batigest_heures alter column" in script


def test_rules_are_dropped_first_and_created_again_last() -> None:
    rule = Rule("r", "public.audit", "CREATE RULE r AS ON INSERT TO public.audit DO ALSO …;")
    statements = plan_adoption(_facts(rules=(rule,))).statements
    assert statements[0] == "drop rule r on public.audit"
    assert statements[-1] == "CREATE RULE r AS ON INSERT TO public.audit DO ALSO …"


def test_only_not_null_to_drop_touches_no_view() -> None:
    columns = (
        FoundColumn("id_heure", "text"),
        FoundColumn("date_debut", "timestamp without time zone", not_null=True),
    )
    plan = plan_adoption(
        _facts(
            columns,
            dependents=(_view(2, "public.m", (1,), kind="m"),),
            rules=(Rule("r", "t", "x"),),
        )
    )
    assert plan.statements == (
        'alter table public.batigest_heures alter column "date_debut" drop not null',
    )
    assert plan.recreated == () and plan.refusals == ()
