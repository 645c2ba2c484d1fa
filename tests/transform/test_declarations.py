"""Where Python and dbt cannot share one declaration, they are checked equal here: the
map's DDL (the exporter's `map_table` and dbt's `prepare_staging`), the raw tables'
columns (the loader's dlt hints and dbt's `raw_source_shapes`) and the marts' columns
(the exporter's `marts.py` and dbt's `_marts__models.yml`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
import yaml

from batisync.export.batch_table import BATCH_COLUMNS
from batisync.export.map_table import MAP_TABLE, ensure_map
from batisync.export.marts import HEURES_GONE_COLUMNS, OPTIONAL_GONE_COLUMNS, TO_PUSH_COLUMNS
from batisync.loader.tables import (
    CHANTIER_COLUMNS,
    CHECK_COLUMNS,
    LOOKUP_COLUMNS,
    PROJECT_COLUMNS,
    QUARANTINE_COLUMNS,
    SALARIE_COLUMNS,
    SLOT_COLUMNS,
)

MACROS = Path(__file__).resolve().parents[2] / "dbt_project" / "macros"
MARTS = Path(__file__).resolve().parents[2] / "dbt_project" / "models" / "marts"
# dlt's data types as PostgreSQL names them (dlt's postgres destination)
DLT_TO_PG = {
    "text": "text",
    "bigint": "bigint",
    "double": "double precision",
    "bool": "boolean",
    "timestamp": "timestamp with time zone",
}


def _columns(url: str, schema: str, table: str) -> list[tuple[str, str, str]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "select column_name, data_type, is_nullable from information_schema.columns "
                    "where table_schema = :s and table_name = :t order by ordinal_position"
                ),
                {"s": schema, "t": table},
            )
            return [tuple(r) for r in rows]
    finally:
        engine.dispose()


def _dbt_map_ddl(schema: str) -> str:
    text = (MACROS / "prepare_staging.sql").read_text()
    body = re.search(
        r"macro batigest_heures_map_ddl\(schema_name\) -%}(.*?){%- endmacro", text, re.S
    )
    assert body, "batigest_heures_map_ddl not found in prepare_staging.sql"
    return body.group(1).replace("{{ adapter.quote(schema_name) }}", f'"{schema}"')


def test_the_map_ddl_of_dbt_and_of_the_exporter_are_one(
    new_database: Callable[[str], str],
) -> None:
    by_exporter, by_dbt = new_database("map_py"), new_database("map_dbt")
    engine = sa.create_engine(by_exporter)
    ensure_map(engine, "public")
    engine.dispose()
    engine = sa.create_engine(by_dbt)
    with engine.begin() as conn:
        conn.exec_driver_sql(_dbt_map_ddl("public"))
    engine.dispose()
    exporter = _columns(by_exporter, "public", MAP_TABLE)
    assert len(exporter) == 10
    assert exporter == _columns(by_dbt, "public", MAP_TABLE)


def _dbt_raw_shapes() -> dict[str, dict[str, str]]:
    text = (MACROS / "select_source_columns.sql").read_text()
    shapes: dict[str, dict[str, str]] = {}
    for table, body in re.findall(r"'(\w+)': \{([^{}]*)\}", text):
        shapes[table] = dict(re.findall(r"'(\w+)': '([^']+)'", body))
    return shapes


def test_dbt_reads_the_raw_columns_the_loader_declares() -> None:
    shapes = _dbt_raw_shapes()
    declared = {
        "time_slots": SLOT_COLUMNS,
        "projects": PROJECT_COLUMNS,
        "quarantine": QUARANTINE_COLUMNS,
        "salarie": SALARIE_COLUMNS,
        "project_lookups": LOOKUP_COLUMNS,
        "chantiers": CHANTIER_COLUMNS,
        "chantier_check": CHECK_COLUMNS,
    }
    assert set(shapes) == set(declared)
    for table, columns in declared.items():
        for name, data_type in shapes[table].items():
            assert name in columns, f"dbt reads {table}.{name}, which the loader does not declare"
            assert DLT_TO_PG[columns[name]["data_type"]] == data_type, f"{table}.{name}"


def _dbt_mart_columns(name: str) -> list[str]:
    models = yaml.safe_load((MARTS / "_marts__models.yml").read_text())["models"]
    [model] = [m for m in models if m["name"] == name]
    return [c["name"] for c in model["columns"]]


def test_the_exporter_reads_the_mart_columns_dbt_declares() -> None:
    assert list(TO_PUSH_COLUMNS) == _dbt_mart_columns("to_push")
    assert [*HEURES_GONE_COLUMNS, *OPTIONAL_GONE_COLUMNS] == _dbt_mart_columns("heures_gone")
    # the batch table loads a to_push row, its hash and change type aside, then its op
    pushed = [c for c in TO_PUSH_COLUMNS if c not in ("values_hash", "change_type")]
    assert list(BATCH_COLUMNS[: len(pushed)]) == pushed
    assert BATCH_COLUMNS[len(pushed)] == "op"
