"""The report's targets: a ratio of two figures of the same run, its verdict, and
"not measured" whenever a figure is missing (never a figure from elsewhere)."""

from __future__ import annotations

import pytest

from benchmarks.targets import GROUPS, KEYS, Target

CHANGED = Target("changed / bare", "e2e_changed_seconds_100k", 10.0, "bare_fetch_seconds_100k", 8.0)


@pytest.mark.parametrize(
    ("changed", "verdict"),
    [(7.0, "met, stretch too"), (8.0, "met, stretch too"), (9.0, "met"), (10.5, "NOT met")],
)
def test_a_ratio_is_judged_by_its_limit_and_its_stretch(changed: float, verdict: str) -> None:
    figures = {"e2e_changed_seconds_100k": changed, "bare_fetch_seconds_100k": 1.0}
    assert CHANGED.check(figures) == (changed, verdict)


def test_the_ratio_is_the_numerator_over_the_denominator() -> None:
    value, _ = CHANGED.check({"e2e_changed_seconds_100k": 9.0, "bare_fetch_seconds_100k": 2.0})
    assert value == 4.5


@pytest.mark.parametrize(
    "figures",
    [
        {},
        {"e2e_changed_seconds_100k": 5.0},
        {"bare_fetch_seconds_100k": 1.0},
        {"e2e_changed_seconds_100k": 5.0, "bare_fetch_seconds_100k": None},
        {"e2e_changed_seconds_100k": 5.0, "bare_fetch_seconds_100k": 0},
    ],
)
def test_a_missing_figure_is_not_measured(figures: dict) -> None:
    assert CHANGED.check(figures) == (None, "not measured")


def test_an_at_least_target_and_a_single_figure() -> None:
    speedup = Target("exporter", "exporter_speedup_10k_1ms", 60.0, at_most=False)
    assert speedup.check({"exporter_speedup_10k_1ms": 61.0}) == (61.0, "met")
    assert speedup.check({"exporter_speedup_10k_1ms": 36.7}) == (36.7, "NOT met")
    assert speedup.bound(speedup.limit) == "≥ 60"
    assert CHANGED.bound(CHANGED.stretch) == "≤ 8" and CHANGED.bound(None) == ""


def test_every_target_names_report_keys_and_issue_19s_are_all_there() -> None:
    for group in GROUPS:
        for target in group.targets:
            assert target.numerator in KEYS
            assert target.denominator is None or target.denominator in KEYS
    issue_19 = {(t.numerator, t.denominator, t.limit, t.stretch) for t in GROUPS[0].targets}
    assert issue_19 == {
        ("e2e_changed_seconds_100k", "bare_fetch_seconds_100k", 10.0, 8.0),
        ("e2e_nochange_seconds_100k", "bare_fetch_seconds_100k", 4.0, 3.0),
        ("e2e_first_seconds_100k", "bare_fetch_seconds_100k", 20.0, 15.0),
        ("exporter_speedup_10k_1ms", None, 60.0, None),
        ("batigest_roundtrips_per_1000", None, 8, None),
        ("peak_rss_mb_100k", "peak_rss_mb_20k", 1.3, None),
        ("peak_rss_mb_100k", None, 365.0, None),
    }
