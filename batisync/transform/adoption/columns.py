"""Which columns of an existing `batigest_heures` cannot take what the dbt model writes,
and the ALTER that fixes each one (pure: the columns found in, the changes out).

`MODEL_COLUMNS` is what `dbt_project/models/marts/batigest_heures.sql` produces: the type
dbt gives each column on a fresh database (a test builds the model and compares), and
what the loader's bounds (`loader/bounds.py`) let the values reach."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ModelColumn:
    """A column as the model writes it."""

    type: str  # as format_type() names it, e.g. 'text', 'numeric', 'bigint'
    nullable: bool = True  # the model may write null (a bad date, no user: rows it keeps)
    digits: tuple[int, int] | None = None  # numeric: (integer digits, decimals) it needs


# minutes are bounded to 0-1,000,000 (7 digits before the point, 2 after in total_heure;
# hours 0-16,667 with 6 decimals); ids and codes are text of any length the bounds allow
# (ids 64, codes 1,000, GET /project/{id} codes unbounded): only text takes them all
MODEL_COLUMNS: Mapping[str, ModelColumn] = {
    "id_heure": ModelColumn("text", nullable=False),
    "date_debut": ModelColumn("timestamp without time zone"),
    "date_fin": ModelColumn("timestamp without time zone"),
    "id_utilisateur": ModelColumn("text"),
    "id_projet": ModelColumn("bigint"),
    "status_management": ModelColumn("text"),
    "total_heure": ModelColumn("numeric", digits=(7, 2)),
    "panier": ModelColumn("boolean"),
    "trajet": ModelColumn("boolean"),
    "code_projet": ModelColumn("text"),
    "sync": ModelColumn("boolean", nullable=False),
    "total_heures_decimales": ModelColumn("numeric", digits=(5, 6)),
    "supprime_le": ModelColumn("timestamp with time zone"),
}


@dataclass(frozen=True)
class FoundColumn:
    """A column of the existing table, from pg_attribute."""

    name: str
    type: str  # format_type(atttypid, atttypmod): 'character varying(50)', 'numeric(5,2)'
    not_null: bool = False
    filled: bool = False  # a default or an identity fills it when an insert leaves it out


@dataclass(frozen=True)
class ColumnChange:
    """What one column needs: another type, or no `not null` any more, or both."""

    column: str
    found: str
    new_type: str | None = None
    drop_not_null: bool = False

    def clauses(self) -> list[str]:
        name = quote_ident(self.column)
        clauses = []
        if self.new_type:
            clauses.append(
                f"alter column {name} type {self.new_type} using {name}::{self.new_type}"
            )
        if self.drop_not_null:
            clauses.append(f"alter column {name} drop not null")
        return clauses

    def describe(self) -> str:
        parts = [f"{self.found} -> {self.new_type}"] if self.new_type else []
        parts += ["not null dropped"] if self.drop_not_null else []
        return f"{self.column} {', '.join(parts)}"


_TYPE = re.compile(
    r"^(?P<base>[a-z][a-z ]*?)(?:\((?P<args>[\d, ]+)\))?(?P<zone> with(?:out)? time zone)?$"
)
# a found type that holds every value of a model type without a typmod
_WIDER = {"text": {"character varying"}, "bigint": {"numeric"}}


def parse_type(type_name: str) -> tuple[str, tuple[int, ...]]:
    """('numeric', (5, 2)) for 'numeric(5,2)', ('timestamp without time zone', (3,)) for
    'timestamp(3) without time zone'; an unknown shape is its whole name, no arguments."""
    found = _TYPE.match(type_name.strip().lower())
    if not found:
        return type_name.strip().lower(), ()
    args = tuple(int(a) for a in (found["args"] or "").split(",") if a.strip())
    return found["base"].strip() + (found["zone"] or ""), args


def holds(found_type: str, want: ModelColumn) -> bool:
    """Whether a column of `found_type` takes every value the model writes there."""
    base, args = parse_type(found_type)
    if base != want.type and base not in _WIDER.get(want.type, ()):
        return False
    if not args:  # no length, precision or scale: as wide as the type goes
        return True
    if base == "numeric" and want.digits:
        precision, scale = args[0], args[1] if len(args) > 1 else 0
        return precision - scale >= want.digits[0] and scale >= want.digits[1]
    if base.startswith("timestamp"):
        return args[0] >= 6  # microseconds, as the model's values carry
    return False  # a length or a precision where the model writes unbounded values


def column_changes(
    found: Sequence[FoundColumn], model: Mapping[str, ModelColumn] = MODEL_COLUMNS
) -> tuple[ColumnChange, ...]:
    """The changes that let the model write into a table with the columns `found`.

    A model column whose type cannot take the model's values gets the model's type; a
    `not null` goes where the model may write null, and on a column the model does not
    write that nothing fills (its inserts would fail). Columns the model writes that the
    table lacks are left to dbt (`on_schema_change='append_new_columns'`)."""
    changes = []
    for column in found:
        want = model.get(column.name)
        if want is None:
            if column.not_null and not column.filled:
                changes.append(ColumnChange(column.name, column.type, drop_not_null=True))
            continue
        new_type = None if holds(column.type, want) else want.type
        drop = column.not_null and want.nullable
        if new_type or drop:
            changes.append(ColumnChange(column.name, column.type, new_type, drop))
    return tuple(changes)


def quote_ident(name: str) -> str:
    """PostgreSQL's quoting of an identifier (always quoted: no keyword can bite)."""
    return '"' + name.replace('"', '""') + '"'


__all__ = [
    "MODEL_COLUMNS",
    "ColumnChange",
    "FoundColumn",
    "ModelColumn",
    "column_changes",
    "holds",
    "parse_type",
    "quote_ident",
]
