"""The exporter's values: a SuiviMO key, the values we write, and the rows we read.

Pure and typed: parsing a `to_push` / `heures_gone` / map row either gives a value or
raises `BadRow` with a reason, so one malformed row is rejected, never the run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

# (CodeChantier, CodeSalarie, Date): the SuiviMO key. SuiviMO has no unique constraint,
# so the exporter addresses rows by this key only.
Key = tuple[str, str, datetime]
KeyNorm = Callable[[Key], Key]

# NbH0 is stored with 6 decimals (numeric(18, 6) in the stand-in); we round to that
# before writing, so what we compare is what the database holds.
NB_H0_QUANTUM = Decimal("0.000001")
# Two NbH0 values closer than this are equal: the contract only promises 4 decimals
# in Batigest, and one minute is 0.0167 h, so no real change hides under it.
NB_H0_TOLERANCE = Decimal("0.00005")
# what numeric(18, 6) holds; far beyond any plausible slot (dbt rejects > a day)
NB_H0_LIMIT = Decimal(10) ** 12


class BadRow(ValueError):
    """A row that cannot be exported as it is; the message is the rejection reason."""


def identity_key(key: Key) -> Key:
    return key


def sqlserver_key(key: Key) -> Key:
    """Key equality as SQL Server's usual collations see it: case and trailing spaces
    do not count (`'ab ' = 'AB'`). Used to group and match keys on an mssql target, so
    the plan and the database agree on which rows share a key."""
    return (key[0].rstrip(" ").upper(), key[1].rstrip(" ").upper(), key[2])


def sqlserver_cs_key(key: Key) -> Key:
    """Key equality under a case-sensitive SQL Server collation: trailing spaces only."""
    return (key[0].rstrip(" "), key[1].rstrip(" "), key[2])


def key_norm_for(dialect_name: str, *, case_sensitive: bool = False) -> KeyNorm:
    if dialect_name != "mssql":
        return identity_key
    return sqlserver_cs_key if case_sensitive else sqlserver_key


def format_key(key: Key | None) -> str:
    if key is None:
        return "-"
    return f"({key[0]}, {key[1]}, {key[2]:%Y-%m-%d %H:%M:%S})"


@dataclass(frozen=True, slots=True)
class Values:
    """NbH0 (hours), NbH3 (home-to-work journey 0/1), NbH4 (packed lunch 0/1)."""

    nb_h0: Decimal | None
    nb_h3: int | None
    nb_h4: int | None

    def matches(self, other: Values) -> bool:
        """Equal as SuiviMO stores them; a NULL (a hand edit) never matches."""
        if None in (self.nb_h0, self.nb_h3, self.nb_h4, other.nb_h0, other.nb_h3, other.nb_h4):
            return False
        assert self.nb_h0 is not None and other.nb_h0 is not None
        return (
            abs(self.nb_h0 - other.nb_h0) <= NB_H0_TOLERANCE
            and self.nb_h3 == other.nb_h3
            and self.nb_h4 == other.nb_h4
        )

    @property
    def complete(self) -> bool:
        return None not in (self.nb_h0, self.nb_h3, self.nb_h4)

    def __str__(self) -> str:
        return f"NbH0={self.nb_h0} NbH3={self.nb_h3} NbH4={self.nb_h4}"


def values_from_db(nb_h0: Any, nb_h3: Any, nb_h4: Any) -> Values:
    """Values as read back from SuiviMO or the map (numeric columns; NULLs allowed)."""
    return Values(_decimal(nb_h0), _integer(nb_h3), _integer(nb_h4))


# The exact types a driver returns need no conversion (one map row per slot is read)
def _decimal(value: Any) -> Decimal | None:
    if value is None or type(value) is Decimal:
        return value
    return Decimal(str(value))


def _integer(value: Any) -> int | None:
    if value is None or type(value) is int:
        return value
    return int(Decimal(str(value)))


@dataclass(frozen=True, slots=True)
class PushRow:
    """One `to_push` row: the slot `id_heure` must sit at `key` with `values`."""

    id_heure: str
    key: Key
    values: Values
    values_hash: str | None = None

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> PushRow:
        return cls(
            id_heure=_id(row),
            key=_key(row),
            values=Values(_hours(row.get("nb_h0")), _flag(row, "nb_h3"), _flag(row, "nb_h4")),
            values_hash=None if row.get("values_hash") is None else str(row["values_hash"]),
        )


def sharing_parser() -> Callable[[Mapping[str, Any]], PushRow]:
    """`PushRow.from_mapping`, the rows it returns sharing one object per distinct code
    and per distinct values: a first run's 100k rows repeat a few hundred of each
    (issue 19). Values are told apart by their text (Decimal('0') and Decimal('-0') are
    equal), so every row keeps exactly what it parsed."""
    codes: dict[str, str] = {}
    values: dict[tuple[str, int | None, int | None], Values] = {}

    def parse(row: Mapping[str, Any]) -> PushRow:
        parsed = PushRow.from_mapping(row)
        chantier, salarie, date = parsed.key
        v = parsed.values
        key = (codes.setdefault(chantier, chantier), codes.setdefault(salarie, salarie), date)
        shared = values.setdefault((str(v.nb_h0), v.nb_h3, v.nb_h4), v)
        return PushRow(parsed.id_heure, key, shared, parsed.values_hash)

    return parse


@dataclass(frozen=True, slots=True)
class GoneRow:
    """One `heures_gone` row: a mapped slot deleted or un-validated upstream."""

    id_heure: str
    reason: str
    # HEURES_ON_GONE=delete may delete its row now (dbt's heures_gone.is_retractable);
    # rows without the column (older marts, tests) are retractable as before
    retractable: bool = True

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> GoneRow:
        retractable = row.get("is_retractable")
        return cls(
            id_heure=_id(row),
            reason=str(row.get("reason") or "gone"),
            retractable=retractable is None or bool(retractable),
        )


@dataclass(frozen=True, slots=True)
class MapRow:
    """One `batigest_heures_map` row: what the project wrote for a slot."""

    id_heure: str
    key: Key
    values: Values
    values_hash: str | None = None


def _id(row: Mapping[str, Any]) -> str:
    value = row.get("id_heure")
    if value is None or str(value).strip() == "":
        raise BadRow("bad_record: missing id_heure")
    return str(value)


def _key(row: Mapping[str, Any]) -> Key:
    chantier, salarie, date = (
        row.get("code_chantier"),
        row.get("code_salarie"),
        row.get("date_sqlserver"),
    )
    if chantier is None or str(chantier) == "":
        raise BadRow("bad_record: missing code_chantier")
    if salarie is None or str(salarie) == "":
        raise BadRow("bad_record: missing code_salarie")
    if isinstance(date, str):
        try:
            date = datetime.fromisoformat(date)
        except ValueError as error:
            raise BadRow(f"bad_record: date_sqlserver {date!r} is not a datetime") from error
    if not isinstance(date, datetime):
        raise BadRow("bad_record: missing date_sqlserver")
    if date.tzinfo is not None:
        raise BadRow("bad_record: date_sqlserver must be a local time without a time zone")
    if date.microsecond:
        # SuiviMO keeps milliseconds at best: such a key could never be found again.
        raise BadRow("bad_record: date_sqlserver has a fraction of a second")
    return (str(chantier), str(salarie), date)


def _hours(value: Any) -> Decimal:
    try:
        hours = value if type(value) is Decimal else Decimal(str(value))
    except (InvalidOperation, ValueError) as error:
        raise BadRow(f"bad_record: nb_h0 {str(value)[:40]!r} is not a number") from error
    if value is None or not hours.is_finite():
        raise BadRow(f"bad_record: nb_h0 {str(value)[:40]!r} is not a number")
    # numeric(18, 6) at most: a bigger value would overflow quantize (InvalidOperation)
    if abs(hours) >= NB_H0_LIMIT:
        raise BadRow(f"bad_record: nb_h0 {str(value)[:40]} is beyond {NB_H0_LIMIT} hours")
    return hours.quantize(NB_H0_QUANTUM, rounding=ROUND_HALF_UP)


def _flag(row: Mapping[str, Any], name: str) -> int:
    value = row.get(name)
    if type(value) is int:
        return value
    if isinstance(value, bool):
        return int(value)
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError) as error:
        raise BadRow(f"bad_record: {name} {value!r} is not an integer") from error
    if value is None or not number.is_finite() or number % 1:
        raise BadRow(f"bad_record: {name} {value!r} is not an integer")
    return int(number)
