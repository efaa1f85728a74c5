"""`aegis collect --once` end to end: the sample server, PostgreSQL, the summary table."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from console.cli import cli

from collectors_helpers import wipe_collected

pytestmark = pytest.mark.integration


def test_collect_once_prints_a_summary_and_stores(stack, db, sample_server, monkeypatch):
    wipe_collected(db)
    sample_server.faults.reset()
    monkeypatch.setenv("SOURCE_SAMPLES_URL", sample_server.url)
    monkeypatch.setenv("SOURCE_GOV24_REQUESTS_PER_SECOND", "100")
    result = CliRunner().invoke(cli, ["collect", "--once", "--source", "gov24"])
    assert result.exit_code == 0, result.output
    assert "gov24: page 2 stored (150/150 records)" in result.output
    (summary_line,) = [line for line in result.output.splitlines() if line.startswith("gov24 ")]
    assert summary_line.split()[:7] == ["gov24", "2", "150", "150", "0", "0", "0"]
    assert db.execute("SELECT count(*) FROM policies WHERE source_system = 'gov24'").fetchone()[0] == 150

    again = CliRunner().invoke(cli, ["collect", "--once", "--source", "gov24", "--quiet"])
    assert again.exit_code == 0, again.output
    assert "gov24: page 1 stored" not in again.output  # no progress lines (the JSON log stays)
    (summary_line,) = [line for line in again.output.splitlines() if line.startswith("gov24 ")]
    assert summary_line.split()[:7] == ["gov24", "2", "150", "0", "0", "150", "0"]

    monkeypatch.setenv("SOURCE_GOV24_API_KEY", "WRONG")  # a key: now "live" — pointed at the sample server
    monkeypatch.setenv("SOURCE_GOV24_BASE_URL", sample_server.url)
    failed = CliRunner().invoke(cli, ["collect", "--once", "--source", "gov24", "--quiet"])
    assert failed.exit_code == 1
    assert "[DP_1001] gov24" in failed.output and "SOURCE_GOV24_API_KEY" in failed.output
    assert "WRONG" not in failed.output
