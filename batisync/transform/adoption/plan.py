"""The adoption plan of an existing `batigest_heures` (pure): from what the catalog shows
(`TableFacts`), the column changes, the views to drop and create again around them, the
whole script in the order it must run, and what makes it unsafe for the sync to run it
itself (then a DBA runs the same script)."""

from __future__ import annotations

from dataclasses import dataclass, field

from batisync.transform.adoption.columns import ColumnChange, FoundColumn, column_changes
from batisync.transform.adoption.dependents import (
    Dependent,
    create_sql,
    drop_sql,
    in_creation_order,
)


@dataclass(frozen=True)
class Rule:
    """A rule (not a view's own) on the table, on a view of it, or reading one of them."""

    name: str  # quoted
    relation: str  # the relation it is on, schema-qualified and quoted
    definition: str  # pg_get_ruledef: CREATE RULE …;


@dataclass(frozen=True)
class TableFacts:
    """What the catalog says of `batigest_heures` and of what is built on it."""

    name: str  # schema-qualified, quoted
    kind: str  # pg_class.relkind: 'r' for a plain table
    owner: str  # quoted role name
    owned: bool  # the sync's role may alter it
    columns: tuple[FoundColumn, ...]
    dependents: tuple[Dependent, ...] = ()
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class AdoptionPlan:
    table: str
    changes: tuple[ColumnChange, ...] = ()
    recreated: tuple[Dependent, ...] = ()  # in creation order
    refusals: tuple[str, ...] = ()  # why the sync must not run it itself
    statements: tuple[str, ...] = field(default=(), repr=False)

    @property
    def needed(self) -> bool:
        return bool(self.changes)

    def script(self) -> str:
        """The statements as one transaction, for the sync or for a DBA (psql)."""
        body = "".join(f"{statement};\n" for statement in self.statements)
        return f"begin;\nset local search_path = pg_catalog;\n{body}commit;"

    def describe(self) -> str:
        """One line: the column changes and the views created again."""
        text = "; ".join(change.describe() for change in self.changes)
        if self.recreated:
            names = ", ".join(d.name for d in self.recreated)
            text += f"; {len(self.recreated)} view(s) created again as they were: {names}"
        return text


def plan_adoption(facts: TableFacts) -> AdoptionPlan:
    """What must change so the model can write into `facts`' table, keeping its name, rows,
    grants and comments and whatever is built on it. Empty when nothing must change."""
    changes = column_changes(facts.columns)
    if not changes:
        return AdoptionPlan(facts.name)
    # PostgreSQL alters no type under a view or a rule: both go, and come back after
    retyped = any(change.new_type for change in changes)
    recreated = tuple(in_creation_order(facts.dependents)) if retyped else ()
    rules = facts.rules if retyped else ()
    statements = [f"drop rule {rule.name} on {rule.relation}" for rule in rules]
    statements += [drop_sql(d) for d in reversed(recreated)]
    clauses = [clause for change in changes for clause in change.clauses()]
    statements.append(f"alter table {facts.name} " + ",\n  ".join(clauses))
    statements += [s for d in recreated for s in create_sql(d)]
    statements += [rule.definition.rstrip().rstrip(";") for rule in rules]
    return AdoptionPlan(
        facts.name, changes, recreated, refusals(facts, recreated, rules), tuple(statements)
    )


def refusals(
    facts: TableFacts, recreated: tuple[Dependent, ...], rules: tuple[Rule, ...]
) -> tuple[str, ...]:
    """Why the sync must leave the script to a DBA (empty: it may run it itself)."""
    found = []
    if facts.kind != "r":
        found.append(f"{facts.name} is not a plain table (relkind {facts.kind!r})")
    if not facts.owned:
        found.append(f"{facts.name} is owned by {facts.owner}, not by the sync's role")
    for dependent in recreated:
        if dependent.kind != "v":
            found.append(
                f"materialized view {dependent.name} reads it: created again, it would be "
                "filled again, which may take long and is the DBA's call"
            )
        if not dependent.owned:
            found.append(f"{dependent.word} {dependent.name} is owned by {dependent.owner}")
        if dependent.triggers:
            found.append(f"{dependent.word} {dependent.name} has triggers")
    found += [f"rule {rule.name} on {rule.relation} rewrites statements on it" for rule in rules]
    return tuple(found)


__all__ = ["AdoptionPlan", "Rule", "TableFacts", "plan_adoption", "refusals"]
