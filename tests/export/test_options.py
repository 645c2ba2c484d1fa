"""The export's options: built once from the settings and the Batigest inspection."""

from __future__ import annotations

import pytest

from batisync.core.settings import Settings
from batisync.export.inspection import Adaptation
from batisync.export.model import identity_key, sqlserver_cs_key, sqlserver_key
from batisync.export.options import ExportOptions


def test_every_option_comes_from_the_settings_or_the_inspection() -> None:
    settings = Settings(
        batigest_schema="erp",
        dbt_schema="marts",
        batch_size=7,
        on_gone="delete",
        retract_max_share=0.5,
        on_drift="report",
    )
    adaptation = Adaptation(row_by_row=True, case_sensitive_keys=True, accent_insensitive_keys=True)
    assert ExportOptions.from_settings(settings, adaptation) == ExportOptions(
        batigest_schema="erp",
        staging_schema="marts",
        batch_size=7,
        on_gone="delete",
        retract_max_share=0.5,
        on_drift="report",
        row_by_row=True,
        case_sensitive_keys=True,
        accent_insensitive_keys=True,
    )
    # the defaults are the settings' defaults on a Batigest without anything to adapt to
    assert ExportOptions.from_settings(Settings(), Adaptation()) == ExportOptions()


def test_the_statements_and_key_comparison_follow_the_options() -> None:
    options = ExportOptions(batigest_schema="erp", row_by_row=True)
    statements = options.statements("mssql")
    assert (statements.schema, statements.row_by_row) == ("erp", True)
    assert options.key_norm("mssql") is sqlserver_key
    assert ExportOptions(case_sensitive_keys=True).key_norm("mssql") is sqlserver_cs_key
    assert options.key_norm("postgresql") is identity_key


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        ({"on_gone": "purge"}, "on_gone must be one of"),
        ({"on_drift": "ignore"}, "on_drift must be one of"),
        ({"batch_size": 0}, "batch size must be at least 1"),
    ],
)
def test_a_value_no_setting_allows_is_refused(wrong: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ExportOptions(**wrong)
