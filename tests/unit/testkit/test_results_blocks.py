"""testkit.results: each section's blocks of bench/RESULTS.md stay between its own markers."""

from __future__ import annotations

import pytest

from testkit import results


def test_blocks_are_appended_inside_their_section_and_the_placeholder_goes(tmp_path):
    path = tmp_path / "RESULTS.md"
    e2e, faults = results.markers("e2e"), results.markers("faults")
    path.write_text(f"# R\n{e2e[0]}\nkept\n{e2e[1]}\n## F\n{faults[0]}\n{results.PLACEHOLDER}\n{faults[1]}\ntail\n")
    results.add_block(path, "faults", "run 1", section="F")
    results.add_block(path, "faults", "run 2", section="F")
    text = path.read_text()
    assert results.PLACEHOLDER not in text and f"{e2e[0]}\nkept\n{e2e[1]}" in text
    assert f"{faults[0]}\nrun 1\n\nrun 2\n{faults[1]}\ntail\n" in text


def test_a_new_file_is_created_with_the_markers_and_takes_the_next_run(tmp_path):
    path = tmp_path / "faults-run.md"
    results.add_block(path, "faults", "run 1", section="F")
    results.add_block(path, "faults", "run 2", section="F")
    start, end = results.markers("faults")
    assert path.read_text() == f"{start}\nrun 1\n\nrun 2\n{end}\n"


def test_a_file_without_the_markers_is_refused(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text("# R\n")
    with pytest.raises(SystemExit, match="Fault injection"):
        results.add_block(path, "faults", "x", section="Fault injection")
