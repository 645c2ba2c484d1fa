"""The columns of the dbt marts the exporter reads, declared once: `staging_io` reads
them, the batch table (`batch_table`) is a `to_push` row plus what to do with it, and
`tests/transform/test_declarations.py` checks them against dbt's `_marts__models.yml`.
"""

from __future__ import annotations

# a SuiviMO key (CodeChantier, CodeSalarie, Date) and values (NbH0, NbH3, NbH4), named as
# the marts and the map name them
KEY_NAMES = ("code_chantier", "code_salarie", "date_sqlserver")
VALUE_NAMES = ("nb_h0", "nb_h3", "nb_h4")
OLD_KEY_NAMES = tuple(f"old_{name}" for name in KEY_NAMES)  # the map's key, a hint

# `to_push`: the slot, its new key and values, their hash, why it is there, the old key
TO_PUSH_COLUMNS = (
    "id_heure",
    *KEY_NAMES,
    *VALUE_NAMES,
    "values_hash",
    "change_type",
    *OLD_KEY_NAMES,
)
# `heures_gone`: a mapped slot deleted or un-validated upstream, at its mapped key
HEURES_GONE_COLUMNS = ("id_heure", *KEY_NAMES, "reason", "gone_since")
# read when the mart has it (dbt from issue 12 on)
OPTIONAL_GONE_COLUMNS = ("is_retractable",)

__all__ = [
    "HEURES_GONE_COLUMNS",
    "KEY_NAMES",
    "OLD_KEY_NAMES",
    "OPTIONAL_GONE_COLUMNS",
    "TO_PUSH_COLUMNS",
    "VALUE_NAMES",
]
