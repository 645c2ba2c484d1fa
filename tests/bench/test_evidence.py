"""`make evidence`: the last bench report and reliability table go into the evidence page
between their markers, unchanged; a missing one leaves its section as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.evidence import SECTIONS, WHOLE_RUN_KEYS, MarkersMissing, paste, update

PAGE = """# Evidence

## Performance
<!-- bench: begin -->
_To be measured on the merged main._
<!-- bench: end -->

## Reliability
<!-- reliability: begin -->
_To be measured on the merged main._
<!-- reliability: end -->
"""


def test_paste_replaces_only_its_section_and_again_gives_the_same_page() -> None:
    once = paste(PAGE, "bench", "### `make bench` of today\n\n| a | b |\n")
    assert (
        "<!-- bench: begin -->\n### `make bench` of today\n\n| a | b |\n<!-- bench: end -->" in once
    )
    assert once.count("_To be measured on the merged main._") == 1  # reliability's, kept
    assert paste(once, "bench", "### `make bench` of today\n\n| a | b |\n") == once


def test_a_page_without_markers_is_refused() -> None:
    with pytest.raises(MarkersMissing, match="bench: begin"):
        paste("# Evidence\n", "bench", "text")


def test_update_pastes_what_is_there_and_copies_the_chart(tmp_path: Path) -> None:
    page, bench = tmp_path / "docs" / "EVIDENCE.md", tmp_path / "bench"
    page.parent.mkdir()
    bench.mkdir()
    page.write_text(PAGE)
    (bench / SECTIONS["bench"]).write_text("### `make bench` of today\n![chart](sync_times.png)\n")
    (bench / "sync_times.png").write_bytes(b"png")
    (bench / "report.json").write_text(json.dumps(dict.fromkeys(WHOLE_RUN_KEYS, 1.0)))
    done = update(page, bench)
    text = page.read_text()
    assert "![chart](sync_times.png)\n<!-- bench: end -->" in text
    assert "<!-- reliability: begin -->\n_To be measured" in text
    assert (page.parent / "sync_times.png").read_bytes() == b"png"
    assert any("reliability" in line and "not found" in line for line in done)


def test_a_run_that_is_not_whole_is_pasted_only_when_asked(tmp_path: Path) -> None:
    page, bench = tmp_path / "EVIDENCE.md", tmp_path / "bench"
    bench.mkdir()
    page.write_text(PAGE)
    (bench / SECTIONS["bench"]).write_text("### a smoke run\n")
    smoke = dict.fromkeys(WHOLE_RUN_KEYS, 1.0) | {"e2e_changed_seconds_100k": None}
    (bench / "report.json").write_text(json.dumps(smoke))
    (bench / SECTIONS["reliability"]).write_text("| fault |\n")
    done = update(page, bench, sections=("bench",))
    assert page.read_text() == PAGE
    assert done == [
        "bench: not a whole run (e2e_changed_seconds_100k not measured), section left as it "
        "was (--partial pastes it all the same)"
    ]
    update(page, bench, sections=("bench",), partial=True)
    assert "<!-- bench: begin -->\n### a smoke run\n<!-- bench: end -->" in page.read_text()
    assert "| fault |" not in page.read_text()  # only the section asked for


def test_the_real_page_has_both_sections() -> None:
    from benchmarks.evidence import PAGE as REAL

    text = REAL.read_text()
    for name in SECTIONS:
        paste(text, name, "x")  # raises when a marker is missing
