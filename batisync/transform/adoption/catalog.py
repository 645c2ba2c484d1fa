"""Read from pg_catalog what the adoption plan needs: the table's columns, owner and
kind, every view and materialized view built on it (directly or on another view), and
the rules that touch them. Names come back quoted, definitions as PostgreSQL prints them
with `search_path = pg_catalog` (every name qualified), so they can be run again."""

from __future__ import annotations

from typing import Any

import psycopg

from batisync.transform.adoption.columns import FoundColumn
from batisync.transform.adoption.dependents import Dependent, Grant
from batisync.transform.adoption.plan import Rule, TableFacts

Conn = psycopg.Connection[Any]

_TABLE = """
select c.oid, format('%%I.%%I', n.nspname, c.relname), c.relkind,
       quote_ident(pg_get_userbyid(c.relowner)), pg_has_role(c.relowner, 'USAGE')
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname = %(schema)s and c.relname = %(table)s
"""
_COLUMNS = """
select a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       a.atthasdef or a.attidentity <> '' or a.attgenerated <> ''
from pg_attribute a
where a.attrelid = %(oid)s and a.attnum > 0 and not a.attisdropped
order by a.attnum
"""
# (view, relation it reads) for every view and materialized view reading the table,
# then those reading them, and so on
_DEPENDENTS = """
with recursive viewdeps(oid, source) as (
    select r.ev_class, d.refobjid
    from pg_depend d join pg_rewrite r on r.oid = d.objid
    where d.classid = 'pg_rewrite'::regclass and d.refclassid = 'pg_class'::regclass
      and d.refobjid = %(oid)s and r.rulename = '_RETURN' and r.ev_class <> d.refobjid
    union
    select r.ev_class, d.refobjid
    from viewdeps join pg_depend d on d.refobjid = viewdeps.oid
    join pg_rewrite r on r.oid = d.objid
    where d.classid = 'pg_rewrite'::regclass and d.refclassid = 'pg_class'::regclass
      and r.rulename = '_RETURN' and r.ev_class <> d.refobjid
)
select g.oid, g.reads, format('%%I.%%I', n.nspname, c.relname), c.relkind,
       quote_ident(pg_get_userbyid(c.relowner)), pg_has_role(c.relowner, 'USAGE'),
       pg_get_viewdef(c.oid), coalesce(c.reloptions, '{}'), c.relacl is not null,
       quote_literal(obj_description(c.oid, 'pg_class')), c.relispopulated
from (select oid, array_agg(distinct source) as reads from viewdeps group by oid) as g
join pg_class c on c.oid = g.oid join pg_namespace n on n.oid = c.relnamespace
"""
_GRANTEE = "case when a.grantee = 0 then 'PUBLIC' else quote_ident(pg_get_userbyid(a.grantee)) end"
_GRANTS = f"""
select {_GRANTEE}, a.privilege_type, a.is_grantable
from pg_class c cross join lateral aclexplode(c.relacl) a where c.oid = %(oid)s
"""
_COLUMN_GRANTS = f"""
select {_GRANTEE}, a.privilege_type, a.is_grantable, quote_ident(att.attname)
from pg_attribute att cross join lateral aclexplode(att.attacl) a
where att.attrelid = %(oid)s and att.attnum > 0 and not att.attisdropped
"""
_COLUMN_COMMENTS = """
select quote_ident(attname), quote_literal(col_description(attrelid, attnum))
from pg_attribute
where attrelid = %(oid)s and attnum > 0 and col_description(attrelid, attnum) is not null
"""
_COLUMN_DEFAULTS = """
select quote_ident(a.attname), pg_get_expr(d.adbin, d.adrelid)
from pg_attrdef d join pg_attribute a on a.attrelid = d.adrelid and a.attnum = d.adnum
where d.adrelid = %(oid)s
"""
_TRIGGERS = (
    "select pg_get_triggerdef(oid) from pg_trigger where tgrelid = %(oid)s and not tgisinternal"
)
_INDEXES = "select pg_get_indexdef(indexrelid) from pg_index where indrelid = %(oid)s"
# rules other than views' own: on one of the relations, or reading one of them
_RULES = """
select distinct quote_ident(r.rulename), format('%%I.%%I', n.nspname, c.relname),
       pg_get_ruledef(r.oid)
from pg_rewrite r join pg_class c on c.oid = r.ev_class
join pg_namespace n on n.oid = c.relnamespace
left join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid
    and d.refclassid = 'pg_class'::regclass
where r.rulename <> '_RETURN' and (r.ev_class = any(%(oids)s) or d.refobjid = any(%(oids)s))
order by 2, 1
"""


def read_table(conn: Conn, schema: str, table: str) -> TableFacts | None:
    """The facts of `schema.table` and of what is built on it; None when it does not exist.
    Sets `search_path = pg_catalog` for the rest of the transaction."""
    conn.execute("select set_config('search_path', 'pg_catalog', true)")
    found = conn.execute(_TABLE, {"schema": schema, "table": table}).fetchone()
    if found is None:
        return None
    oid, name, kind, owner, owned = found
    columns = tuple(FoundColumn(*row) for row in conn.execute(_COLUMNS, {"oid": oid}).fetchall())
    dependents = tuple(_dependent(conn, row) for row in conn.execute(_DEPENDENTS, {"oid": oid}))
    oids = [oid, *(d.oid for d in dependents)]
    rules = tuple(Rule(*row) for row in conn.execute(_RULES, {"oids": oids}).fetchall())
    return TableFacts(name, kind, owner, owned, columns, dependents, rules)


def _dependent(conn: Conn, row: tuple[Any, ...]) -> Dependent:
    oid, reads, name, kind, owner, owned, definition, options, has_acl, comment, populated = row

    def rows(sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in conn.execute(sql, {"oid": oid}).fetchall()]  # type: ignore[arg-type]

    grants = tuple(Grant(*r) for r in rows(_GRANTS)) if has_acl else None
    return Dependent(
        oid=oid,
        name=name,
        kind=kind,
        owner=owner,
        owned=owned,
        definition=definition.strip().rstrip(";"),
        options=tuple(options),
        grants=grants,
        column_grants=tuple(Grant(*r) for r in rows(_COLUMN_GRANTS)),
        comment=comment,
        column_comments=tuple(rows(_COLUMN_COMMENTS)),  # type: ignore[arg-type]
        column_defaults=tuple(rows(_COLUMN_DEFAULTS)),  # type: ignore[arg-type]
        reads=tuple(reads),
        triggers=tuple(r[0] for r in rows(_TRIGGERS)),
        indexes=tuple(r[0] for r in rows(_INDEXES)),
        populated=populated,
    )


__all__ = ["read_table"]
