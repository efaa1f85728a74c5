"""`aegis collect` and `aegis sources` as a person uses them (no database needed here)."""

from __future__ import annotations

from click.testing import CliRunner

from aegis.cli import cli


def test_collect_needs_a_mode():
    result = CliRunner().invoke(cli, ["--env-file", "/nonexistent", "collect"])
    assert result.exit_code == 2 and "DP_5001" in result.output and "--once or --schedule" in result.output


def test_unknown_source_is_named_with_the_known_ones():
    result = CliRunner().invoke(cli, ["--env-file", "/nonexistent", "collect", "--once", "--source", "nope"])
    assert result.exit_code == 2 and "unknown source(s): nope" in result.output and "bizinfo" in result.output


def test_sources_list_never_shows_keys(monkeypatch):
    monkeypatch.setenv("SOURCE_KSTARTUP_API_KEY", "TOP-SECRET-KEY")
    monkeypatch.setenv("SOURCE_SAMPLES_URL", "http://127.0.0.1:1")
    result = CliRunner().invoke(cli, ["--env-file", "/nonexistent", "sources", "list"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split() for line in result.output.splitlines()[1:]}
    assert lines["kstartup"][2:] == ["live", "https://apis.data.go.kr"]
    assert lines["bizinfo"][2:] == ["samples", "http://127.0.0.1:1"]
    assert lines["board:garam-si"][1] == "board"
    assert "TOP-SECRET-KEY" not in result.output


def test_help_texts():
    for args in (["collect", "--help"], ["sources", "serve-samples", "--help"], ["sources", "list", "--help"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0 and "Usage:" in result.output
