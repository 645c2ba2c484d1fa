"""The views (and materialized views) built on `batigest_heures`, as the catalog describes
them, and the SQL that drops them and creates them again exactly as they were: same
definition, options (security_barrier, check_option…), owner, grants (column grants
too), comments and column defaults; views on views in dependency order. Pure: the
catalog is read by `catalog.py`, the SQL run by `apply.py`.

Names, literals and definitions come quoted from PostgreSQL (`format('%I.%I')`,
`quote_literal`, `pg_get_viewdef` under `search_path = pg_catalog`), so nothing here
quotes by hand but role names."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from graphlib import TopologicalSorter

KINDS = {"v": "view", "m": "materialized view"}


@dataclass(frozen=True, order=True)
class Grant:
    """One privilege on a relation (or on one of its columns) and to whom."""

    grantee: str  # a quoted role name, or PUBLIC
    privilege: str  # SELECT, INSERT…
    grantable: bool = False
    column: str | None = None  # quoted; None for the whole relation


@dataclass(frozen=True)
class Dependent:
    """A view or materialized view that reads `batigest_heures`, directly or not."""

    oid: int
    name: str  # schema-qualified, quoted
    kind: str  # 'v' or 'm'
    owner: str  # quoted role name
    owned: bool  # the sync's role may drop it and give it back to its owner
    definition: str  # pg_get_viewdef, without its final ';'
    options: tuple[str, ...] = ()  # reloptions: 'security_barrier=true', 'check_option=local'
    grants: tuple[Grant, ...] | None = None  # None: the default privileges (never granted)
    column_grants: tuple[Grant, ...] = ()
    comment: str | None = None  # quoted literal
    column_comments: tuple[tuple[str, str], ...] = ()  # (quoted column, quoted literal)
    column_defaults: tuple[tuple[str, str], ...] = ()  # (quoted column, expression)
    reads: tuple[int, ...] = ()  # oids of the relations it selects from
    triggers: tuple[str, ...] = ()  # CREATE TRIGGER statements (INSTEAD OF…)
    indexes: tuple[str, ...] = ()  # CREATE INDEX statements (materialized views)
    populated: bool = True

    @property
    def word(self) -> str:
        return KINDS.get(self.kind, "view")

    def signature(self) -> tuple[object, ...]:
        """What must be the same after it is created again (its oid and text aside)."""
        grants = None if self.grants is None else tuple(sorted(set(self.grants)))
        return (
            self.name, self.kind, self.owner, tuple(sorted(self.options)), grants,
            tuple(sorted(set(self.column_grants))),
            self.comment, tuple(sorted(self.column_comments)),
            tuple(sorted(self.column_defaults)), self.populated,
        )  # fmt: skip


def in_creation_order(dependents: Iterable[Dependent]) -> list[Dependent]:
    """Each one after every dependent it reads (a view on a view comes after it)."""
    by_oid = {d.oid: d for d in dependents}
    graph = {oid: {r for r in d.reads if r in by_oid} for oid, d in by_oid.items()}
    order = TopologicalSorter(graph).static_order()
    return [by_oid[oid] for oid in order]


def drop_sql(dependent: Dependent) -> str:
    # no cascade: anything else built on it makes PostgreSQL refuse, and the whole
    # adoption rolls back
    return f"drop {dependent.word} {dependent.name}"


def create_sql(dependent: Dependent) -> list[str]:
    """The statements that give `dependent` back exactly as it was."""
    d, word = dependent, dependent.word
    options = f" with ({', '.join(d.options)})" if d.options else ""
    data = ("" if d.populated else " with no data") if d.kind == "m" else ""
    statements = [f"create {word} {d.name}{options} as\n{d.definition}{data}"]
    statements += [
        f"alter {word} {d.name} alter column {column} set default {expression}"
        for column, expression in d.column_defaults
    ]
    if d.comment is not None:
        statements.append(f"comment on {word} {d.name} is {d.comment}")
    statements += [
        f"comment on column {d.name}.{column} is {text}" for column, text in d.column_comments
    ]
    statements.append(f"alter {word} {d.name} owner to {d.owner}")
    if d.grants is not None:
        # start from nothing, so an owner that had revoked some of its own rights has
        # them revoked again; then every grant, the owner's own included
        statements.append(f"revoke all on table {d.name} from {d.owner}")
        statements += grant_sql(d.name, d.grants)
    statements += grant_sql(d.name, d.column_grants)
    statements += [*d.indexes, *d.triggers]
    return statements


def grant_sql(name: str, grants: Sequence[Grant]) -> list[str]:
    """One GRANT per grantee (and grant option) giving `grants` on `name`, in their order
    (the catalog's: the ACL then reads as it did)."""
    grouped: dict[tuple[str, bool], list[str]] = {}
    for grant in grants:
        what = f"{grant.privilege} ({grant.column})" if grant.column else grant.privilege
        grouped.setdefault((grant.grantee, grant.grantable), []).append(what)
    return [
        f"grant {', '.join(what)} on table {name} to {grantee}"
        + (" with grant option" if grantable else "")
        for (grantee, grantable), what in grouped.items()
    ]


__all__ = [
    "KINDS",
    "Dependent",
    "Grant",
    "create_sql",
    "drop_sql",
    "grant_sql",
    "in_creation_order",
]
