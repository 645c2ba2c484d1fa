"""Issue 12: no NbH0 can raise out of a Decimal: an absurd value in to_push is a row
rejected `bad_record`, not an exception; the largest plausible one passes."""

from __future__ import annotations

from datetime import datetime

import pytest

from batisync.export.model import BadRow, PushRow
from tests.export.helpers import push


def K(hour: int) -> tuple[str, str, datetime]:
    return ("CH1", "S1", datetime(2026, 3, 2, hour))


@pytest.mark.parametrize("nb_h0", ["1e300", "1e12", "-1e13", "Infinity", "NaN", None])
def test_an_absurd_nb_h0_is_a_rejected_row_not_an_exception(nb_h0: str | None) -> None:
    values = push("A", *K(8)) | {"nb_h0": nb_h0}
    with pytest.raises(BadRow, match="bad_record: nb_h0"):
        PushRow.from_mapping(values)


def test_the_largest_plausible_nb_h0_passes() -> None:
    assert PushRow.from_mapping(push("A", *K(8)) | {"nb_h0": "999999999999.5"}).values.nb_h0
