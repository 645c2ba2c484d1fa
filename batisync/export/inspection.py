"""What Batigest's own catalog says about SuiviMO and Salarie, and what follows from it.

`assess(facts)` is pure: it turns what `catalog.read_facts` read into findings. Errors
are what would corrupt data or make every write fail (the sync stops before any write,
exit 2); warnings are what the project adapts to or a DBA may want to fix; `adapt` says
how the exporter adapts (row-by-row writes under triggers, the key columns' lengths for
dbt's `code_too_long`, case-sensitive key comparison).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from batisync.export.suivimo import KEY_COLUMNS, VALUE_COLUMNS

SALARIE_NEEDED = ("Code", "Nom", "codebs")
SUIVIMO_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")
# SQL Server type names (PostgreSQL's for the stand-in) that hold a local datetime to the
# minute and compare exactly with the exporter's keys
DATETIME_TYPES = {"datetime", "datetime2", "timestamp without time zone", "timestamp"}
NUMBER_TYPES = {"decimal", "numeric", "float", "real", "double precision", "money"}
WHOLE_TYPES = {"int", "integer", "smallint", "tinyint", "bigint", "bit"}
TEXT_TYPES = {"varchar", "nvarchar", "char", "nchar", "character varying", "character", "text"}
MIN_NBH0_SCALE = 4  # CONTRACT.md: hours "not rounded to fewer than 4 decimals"


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str  # lower case, as the catalog names it
    nullable: bool = True
    has_default: bool = False
    is_identity: bool = False
    is_computed: bool = False
    max_length: int | None = None  # characters; -1 for (max)
    precision: int | None = None
    scale: int | None = None
    collation: str | None = None


@dataclass(frozen=True)
class BatigestFacts:
    schema: str
    suivimo: tuple[Column, ...] = ()  # empty when the table is absent
    salarie: tuple[Column, ...] = ()
    triggers: tuple[str, ...] = ()  # enabled triggers on SuiviMO
    # each index on SuiviMO as its key columns, in order
    indexes: tuple[tuple[str, ...], ...] = ()
    privileges: dict[str, bool] = field(default_factory=dict)  # "SuiviMO INSERT" -> granted
    chantier_readable: bool | None = None  # ChantierDef (project codes); None: not looked at


@dataclass(frozen=True)
class Finding:
    level: str  # error | warning | info
    subject: str  # what it is about, e.g. "SuiviMO.Date"
    message: str  # what was found and what is expected

    def __str__(self) -> str:
        return f"{self.subject}: {self.message}"


@dataclass(frozen=True)
class Adaptation:
    row_by_row: bool = False  # triggers on SuiviMO: one row per statement
    code_chantier_max_length: int | None = None
    code_salarie_max_length: int | None = None
    case_sensitive_keys: bool = False
    # two codes differing only by an accent are one key for SQL Server but not for the
    # exporter's comparison: the drift check then reports a missing row, never inserts it
    accent_insensitive_keys: bool = False


@dataclass(frozen=True)
class Assessment:
    findings: tuple[Finding, ...]
    adapt: Adaptation

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warning"]


def _by_name(columns: tuple[Column, ...]) -> dict[str, Column]:
    return {c.name.lower(): c for c in columns}


def _length(column: Column | None) -> int | None:
    if column is None or column.max_length is None or column.max_length < 0:
        return None
    return column.max_length


def _check_key_text(column: Column, findings: list[Finding]) -> None:
    subject = f"SuiviMO.{column.name}"
    if column.data_type not in TEXT_TYPES:
        findings.append(Finding("error", subject, f"is {column.data_type}; expected a text type"))
    if column.collation and "_CS" in column.collation.upper():
        findings.append(
            Finding(
                "warning",
                subject,
                f"collation {column.collation} is case-sensitive: keys "
                "that differ only by case are kept apart (the exporter adapts)",
            )
        )
    if column.collation and "_AI" in column.collation.upper():
        findings.append(
            Finding(
                "warning",
                subject,
                f"collation {column.collation} ignores accents: two "
                "codes that differ only by an accent are one key for SQL Server",
            )
        )


def _check_suivimo(facts: BatigestFacts, findings: list[Finding]) -> None:
    columns = _by_name(facts.suivimo)
    absent = [n for n in (*KEY_COLUMNS, *VALUE_COLUMNS) if n.lower() not in columns]
    if absent:
        findings.append(Finding("error", "SuiviMO", f"lacks column(s) {', '.join(absent)}"))
    for name in ("CodeChantier", "CodeSalarie"):
        if column := columns.get(name.lower()):
            _check_key_text(column, findings)
    if (date := columns.get("date")) and date.data_type not in DATETIME_TYPES:
        findings.append(
            Finding(
                "error",
                "SuiviMO.Date",
                f"is {date.data_type}; expected datetime or "
                "datetime2 (the key holds the slot's start to the minute: a move would "
                "become an insert and leave an orphan row)",
            )
        )
    if nbh0 := columns.get("nbh0"):
        if nbh0.data_type not in NUMBER_TYPES:
            findings.append(
                Finding(
                    "error",
                    "SuiviMO.NbH0",
                    f"is {nbh0.data_type}; expected "
                    f"decimal with at least {MIN_NBH0_SCALE} decimals",
                )
            )
        elif (
            nbh0.scale is not None
            and nbh0.data_type in {"decimal", "numeric"}
            and (nbh0.scale < MIN_NBH0_SCALE)
        ):
            findings.append(
                Finding(
                    "error",
                    "SuiviMO.NbH0",
                    f"is {nbh0.data_type}"
                    f"({nbh0.precision}, {nbh0.scale}); expected at least "
                    f"{MIN_NBH0_SCALE} decimals (one minute is 0.0167 h)",
                )
            )
    for name in ("NbH3", "NbH4"):
        column = columns.get(name.lower())
        if column and column.data_type not in NUMBER_TYPES | WHOLE_TYPES:
            findings.append(
                Finding(
                    "error",
                    f"SuiviMO.{name}",
                    f"is {column.data_type}; expected a number (0 or 1 is written)",
                )
            )
    ours = {n.lower() for n in (*KEY_COLUMNS, *VALUE_COLUMNS)}
    blocking = [
        c.name
        for c in facts.suivimo
        if c.name.lower() not in ours
        and not c.nullable
        and not (c.has_default or c.is_identity or c.is_computed)
    ]
    if blocking:
        findings.append(
            Finding(
                "error",
                "SuiviMO",
                f"column(s) {', '.join(blocking)} are NOT "
                "NULL without a default: every insert would fail",
            )
        )
    if identity := [c.name for c in facts.suivimo if c.is_identity]:
        findings.append(
            Finding(
                "info",
                "SuiviMO identity",
                f"identity column(s) {', '.join(identity)}: filled by SQL Server on insert",
            )
        )


def _check_indexes(facts: BatigestFacts, findings: list[Finding]) -> None:
    wanted = tuple(c.lower() for c in KEY_COLUMNS)
    covered = any(
        tuple(c.lower() for c in index[:3]) in {wanted, wanted[::-1]}
        or set(c.lower() for c in index[:3]) == set(wanted)
        for index in facts.indexes
    )
    if facts.suivimo and not covered:
        statement = (
            f"CREATE INDEX IX_SuiviMO_batisync ON {facts.schema}.SuiviMO "
            "(CodeChantier, CodeSalarie, [Date])"
        )
        findings.append(
            Finding(
                "warning",
                "SuiviMO index",
                "no index on (CodeChantier, CodeSalarie, "
                "Date): each batch's locked read scans the table and may lock "
                f"all of it; a DBA can run: {statement}",
            )
        )


def assess(facts: BatigestFacts) -> Assessment:
    """Findings and adaptations for what the catalog says (pure)."""
    findings: list[Finding] = []
    if not facts.suivimo:
        findings.append(Finding("error", "SuiviMO", f"no table {facts.schema}.SuiviMO"))
    else:
        _check_suivimo(facts, findings)
        _check_indexes(facts, findings)
    if not facts.salarie:
        findings.append(Finding("error", "Salarie", f"no table {facts.schema}.Salarie"))
    elif absent := [n for n in SALARIE_NEEDED if n.lower() not in _by_name(facts.salarie)]:
        findings.append(Finding("error", "Salarie", f"lacks column(s) {', '.join(absent)}"))
    if missing := [p for p, granted in facts.privileges.items() if not granted]:
        findings.append(Finding("error", "privileges", f"the login lacks {', '.join(missing)}"))
    if facts.triggers:
        findings.append(
            Finding(
                "warning",
                "SuiviMO triggers",
                f"trigger(s) {', '.join(facts.triggers)}: "
                "rows are written one per statement, as the seed did, so a "
                "trigger written for one row sees one row",
            )
        )
    if facts.chantier_readable is False:
        findings.append(
            Finding(
                "info",
                "ChantierDef",
                "not readable: project codes are not checked against Batigest's chantiers",
            )
        )
    columns = _by_name(facts.suivimo)
    key_cs = any(
        "_CS" in (columns[n].collation or "").upper()
        for n in ("codechantier", "codesalarie")
        if n in columns
    )
    key_ai = any(
        "_AI" in (columns[n].collation or "").upper()
        for n in ("codechantier", "codesalarie")
        if n in columns
    )
    adapt = Adaptation(
        row_by_row=bool(facts.triggers),
        code_chantier_max_length=_length(columns.get("codechantier")),
        code_salarie_max_length=_length(columns.get("codesalarie")),
        case_sensitive_keys=key_cs,
        accent_insensitive_keys=key_ai,
    )
    return Assessment(tuple(findings), adapt)


__all__ = ["Adaptation", "Assessment", "BatigestFacts", "Column", "Finding", "assess"]
