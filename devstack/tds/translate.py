"""T-SQL → PostgreSQL: sqlglot's transpiler plus the fixes SQL Server semantics need.

Fixes, one line each:
- identifiers resolve against the catalog case-insensitively (the stand-in quotes mixed case)
- `#t` temp tables become PostgreSQL temporary tables named "#t" (`SELECT … INTO #t` too)
- `sys.X` → pg_temp.sys_X and `INFORMATION_SCHEMA.X` → pg_temp.is_X (see compat.sql)
- T-SQL functions (OBJECT_ID, COLUMNPROPERTY, HAS_PERMS_BY_NAME, ...) → pg_temp.tds_*
- HASHBYTES('MD5', x) gives bytes, and CAST(bytes AS INT) reads them big-endian (sqlglot
  reads the first as MD5's hex text, PostgreSQL has no bytea → int cast)
- COLLATE clauses dropped (SQL Server collations mean nothing to PostgreSQL)
- `@@NAME` globals and `@P1`/`?` parameters become slots filled with literals at run time
- `UPDATE t ... FROM t, x` drops the repeated target (T-SQL's self-reference, not a self-join)
- PRIMARY KEY column lists lose sqlglot's NULLS FIRST
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlglot
from sqlglot import exp

from devstack.tds.catalog import Catalog, Relation
from devstack.tds.probes import rewrite_probes

SLOT = "__tds_slot_{}__"
SLOT_RE = re.compile(r"__tds_slot_(\d+)__")
GLOBAL_RE = re.compile(r"@@(\w+)")
SCOPE_IDENTITY_RE = re.compile(r"\bSCOPE_IDENTITY\s*\(\s*\)", re.I)

FUNCTIONS = {  # T-SQL name → PostgreSQL function (pg_temp ones come from compat.sql)
    "OBJECT_ID": "pg_temp.tds_object_id",
    "OBJECT_NAME": "pg_temp.tds_object_name",
    "SCHEMA_ID": "pg_temp.tds_schema_id",
    "SCHEMA_NAME": "pg_temp.tds_schema_name",
    "COLUMNPROPERTY": "pg_temp.tds_columnproperty",
    "HAS_PERMS_BY_NAME": "pg_temp.tds_has_perms_by_name",
    "SERVERPROPERTY": "pg_temp.tds_serverproperty",
    "DB_NAME": "current_database",
    "USER_NAME": "current_user",
    "SUSER_NAME": "current_user",
    "SUSER_SNAME": "current_user",
    "ORIGINAL_LOGIN": "current_user",
}
NO_PARENS = {"current_user"}
COMPAT_PREFIX = {"sys": "sys_", "information_schema": "is_"}  # views of compat.sql


class TranslationError(Exception):
    pass


@dataclass
class Translated:
    sql: str  # PostgreSQL, with SLOT markers where values go
    slots: list[str]  # what fills each slot: "@p1", "?0" or "@@rowcount"
    names: list[str] | None  # result column names as T-SQL spells them (None: PostgreSQL's)
    ddl: bool


def translate(tsql: str, catalog: Catalog) -> Translated:
    text = SCOPE_IDENTITY_RE.sub("CAST(NULL AS NUMERIC)", rewrite_probes(tsql))
    text = GLOBAL_RE.sub(lambda m: f"@__global_{m.group(1).lower()}", text)
    try:
        tree = sqlglot.parse_one(text, read="tsql")
    except sqlglot.errors.ParseError as e:
        raise TranslationError(str(e).splitlines()[0]) from e
    if tree is None:
        raise TranslationError("empty statement")
    names = _result_names(tree)
    slots: list[str] = []
    for node in list(tree.walk(bfs=False)):  # parameters first, in text order ('?' is positional)
        if isinstance(node, exp.Parameter | exp.Placeholder):
            node.replace(_slot(node, slots))
    for node in reversed(list(tree.walk(bfs=False))):  # then the rest, children before parents
        if isinstance(node, exp.ColumnConstraint) and isinstance(
            node.args.get("kind"), exp.CollateColumnConstraint
        ):
            node.pop()
            continue
        new = _rewrite(node)
        if new is not node:
            if node is tree:
                tree = new
            else:
                node.replace(new)
    _resolve_names(tree, catalog)
    _fix_update_from(tree)
    _fix_primary_keys(tree)
    sql = tree.sql(dialect="postgres")
    creates = isinstance(tree, exp.Select) and tree.args.get("into") is not None  # SELECT … INTO
    ddl = creates or isinstance(tree, exp.Create | exp.Drop | exp.Alter | exp.TruncateTable)
    return Translated(sql, slots, names, ddl)


def _result_names(tree: exp.Expression) -> list[str] | None:
    select = tree
    while isinstance(select, exp.SetOperation):
        select = select.this
    if not isinstance(select, exp.Select):
        return None
    names = []
    for p in select.expressions:
        if isinstance(p, exp.Star) or (isinstance(p, exp.Column) and p.is_star):
            return None
        if isinstance(p, exp.Alias):
            names.append(p.alias)
        elif isinstance(p, exp.Column):
            names.append(p.name)
        else:
            names.append("")
    return names


def _slot(node: exp.Expression, slots: list[str]) -> exp.Expression:
    if isinstance(node, exp.Parameter):
        name = node.name.lower()
        key = "@@" + name[len("__global_") :] if name.startswith("__global_") else "@" + name
    else:
        key = f"?{sum(s.startswith('?') for s in slots)}"
    slots.append(key)
    return exp.Var(this=SLOT.format(len(slots) - 1))


def _rewrite(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Collate):
        return node.this
    if isinstance(node, exp.National):
        return exp.Literal.string(node.name)
    if isinstance(node, exp.DataType) and any(
        isinstance(e, exp.DataTypeParam) and e.name.upper() == "MAX" for e in node.expressions
    ):  # varchar(max) and friends
        return exp.DataType.build("bytea" if "BINARY" in node.this.name else "text")
    if isinstance(node, exp.CurrentSchema):
        return exp.Literal.string("dbo")
    if isinstance(node, exp.MD5):  # HASHBYTES('MD5', x): varbinary(16), not hex text
        return exp.Anonymous(this="pg_temp.tds_hashbytes_md5", expressions=[node.this])
    if isinstance(node, exp.Cast) and node.to.is_type("int") and _is_bytes(node.this):
        return exp.Anonymous(this="pg_temp.tds_varbinary_int", expressions=[node.this])
    if isinstance(node, exp.ObjectId):
        return exp.Anonymous(this="pg_temp.tds_object_id", expressions=[node.this])
    if isinstance(node, exp.Anonymous) and str(node.this).upper() in FUNCTIONS:
        target = FUNCTIONS[str(node.this).upper()]
        if target in NO_PARENS:
            return exp.Var(this=target)
        return exp.Anonymous(this=target, expressions=node.expressions)
    return node


def _is_bytes(node: exp.Expression) -> bool:
    """A slice of HASHBYTES' result (the only bytes a cast reads here)."""
    while isinstance(node, exp.Substring):
        node = node.this
    return isinstance(node, exp.Anonymous) and node.name == "pg_temp.tds_hashbytes_md5"


def _resolve_names(tree: exp.Expression, catalog: Catalog) -> None:
    """Spell tables and columns as the catalog does; keep other names as written."""
    columns: dict[str, str] = {}
    qualifiers: dict[str, str] = {}
    for table in tree.find_all(exp.Table):
        rel = _resolve_table(table, catalog)
        if rel:
            qualifiers[rel.name.lower()] = rel.name
            for lower, spelled in rel.columns.items():
                columns.setdefault(lower, spelled)
    for alias in tree.find_all(exp.TableAlias, exp.Alias):
        ident = alias.args.get("alias") if isinstance(alias, exp.Alias) else alias.this
        if isinstance(ident, exp.Identifier):
            ident.set("quoted", True)
            target = qualifiers if isinstance(alias, exp.TableAlias) else columns
            target.setdefault(ident.name.lower(), ident.name)
    for coldef in tree.find_all(exp.ColumnDef):
        if isinstance(coldef.this, exp.Identifier):
            coldef.this.set("quoted", True)
    for column in tree.find_all(exp.Column):
        ident = column.this
        if isinstance(ident, exp.Identifier):
            _spell(ident, columns.get(ident.name.lower()))
        qualifier = column.args.get("table")
        if isinstance(qualifier, exp.Identifier):
            if qualifier.name.startswith("#"):
                qualifier.set("quoted", True)
            else:
                _spell(qualifier, qualifiers.get(qualifier.name.lower()))
        schema = column.args.get("db")
        if isinstance(schema, exp.Identifier) and schema.name.lower() in COMPAT_PREFIX:
            view = COMPAT_PREFIX[schema.name.lower()] + column.table.lower()
            column.set("table", exp.to_identifier(view))
            column.set("db", None)  # the view is in the FROM clause unaliased
        elif isinstance(schema, exp.Identifier):  # schema.table.column
            _spell(schema, catalog.schema(schema.name))
        column.set("catalog", None)
    # INSERT INTO t (col, ...): the column list holds bare identifiers
    for schema in tree.find_all(exp.Schema):
        if isinstance(schema.parent, exp.Insert):
            for ident in schema.expressions:
                if isinstance(ident, exp.Identifier):
                    _spell(ident, columns.get(ident.name.lower()))


def _spell(ident: exp.Identifier, spelled: str | None) -> None:
    if spelled is not None:
        ident.set("this", spelled)
        ident.set("quoted", True)
    elif not ident.args.get("quoted"):
        ident.set("this", ident.name.lower())


def _resolve_table(table: exp.Table, catalog: Catalog) -> Relation | None:
    ident = table.this
    if not isinstance(ident, exp.Identifier):
        return None
    schema = table.db.lower() if table.db else ""
    if schema in COMPAT_PREFIX:
        prefix = COMPAT_PREFIX[schema]
        table.set("this", exp.to_identifier(prefix + ident.name.lower()))
        table.set("db", exp.to_identifier("pg_temp"))
        table.set("catalog", None)
        return catalog.relation("pg_temp", prefix + ident.name.lower())
    table.set("catalog", None)  # database.schema.table: one database here
    if ident.args.get("temporary") or ident.name.startswith("#"):
        name = ident.name if ident.name.startswith("#") else "#" + ident.name
        table.set("this", exp.Identifier(this=name, quoted=True))
        table.set("db", None)
        rel = catalog.relation(None, name)
        return rel
    rel = catalog.relation(table.db or None, ident.name)
    if rel is None:
        ident.set("quoted", True)  # a new table (CREATE) keeps its T-SQL spelling
        if table.db and isinstance(table.args.get("db"), exp.Identifier):
            _spell(table.args["db"], catalog.schema(table.db))
        return None
    table.set("this", exp.Identifier(this=rel.name, quoted=True))
    if table.db:
        table.set("db", exp.Identifier(this=rel.schema, quoted=True))
    return rel


def _fix_update_from(tree: exp.Expression) -> None:
    """T-SQL `UPDATE t SET ... FROM t, x`: the FROM's `t` is the target itself."""
    if not isinstance(tree, exp.Update):
        return
    target, from_ = tree.this, tree.args.get("from_")
    if not isinstance(target, exp.Table) or from_ is None:
        return
    first = from_.this
    same = (first.db.lower(), first.name.lower()) == (target.db.lower(), target.name.lower())
    if not isinstance(first, exp.Table) or first.alias or not same:
        return
    joins = list(first.args.get("joins") or [])
    if not joins:
        tree.set("from_", None)
        return
    head, rest = joins[0], joins[1:]
    source = head.this.copy()
    source.set("joins", [j.copy() for j in rest] or None)
    from_.set("this", source)
    if (on := head.args.get("on")) is not None:  # `FROM t JOIN x ON c`: c moves to WHERE
        where = tree.args.get("where")
        condition = on.copy() if where is None else exp.and_(where.this, on.copy())
        tree.set("where", exp.Where(this=condition))


def _fix_primary_keys(tree: exp.Expression) -> None:
    for ordered in list(tree.find_all(exp.Ordered)):
        if isinstance(ordered.parent, exp.PrimaryKey | exp.UniqueColumnConstraint):
            ordered.replace(ordered.this)


def render(t: Translated, values: dict[str, Any]) -> str:
    """The PostgreSQL text with each slot replaced by its value as a literal."""
    return SLOT_RE.sub(lambda m: literal(values.get(t.slots[int(m.group(1))])), t.sql)


def literal(v: Any) -> str:
    """A PostgreSQL literal for a parameter value (typed where PostgreSQL can't infer)."""
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "1" if v else "0"  # bit is a number in T-SQL
    if isinstance(v, int | Decimal):
        if isinstance(v, Decimal) and not v.is_finite():
            return f"'{v}'::numeric"
        return f"({v})" if v < 0 else str(v)
    if isinstance(v, float):
        return f"'{v!r}'::float8"
    if isinstance(v, dt.datetime):
        return f"'{v.isoformat(sep=' ')}'::{'timestamptz' if v.tzinfo else 'timestamp'}"
    if isinstance(v, dt.date):
        return f"'{v.isoformat()}'::date"
    if isinstance(v, dt.time):
        return f"'{v.isoformat()}'::time"
    if isinstance(v, bytes | bytearray | memoryview):
        return f"'\\x{bytes(v).hex()}'::bytea"
    return "'" + str(v).replace("'", "''") + "'"
