import re

from click.testing import CliRunner

from aegis.cli import cli


def _commands(group, prefix=()):
    for name, command in group.commands.items():
        yield prefix + (name,)
        if hasattr(command, "commands"):
            yield from _commands(command, prefix + (name,))


def test_every_command_explains_itself_with_help():
    runner = CliRunner()
    paths = list(_commands(cli))
    assert ("stack", "up") in paths and ("db", "migrate") in paths and ("version",) in paths
    for path in paths:
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output
        body = result.output.split("\n\n", 2)[1].strip() if "\n\n" in result.output else ""
        assert body, f"`aegis {' '.join(path)} --help` has no description"


def test_version(monkeypatch):
    result = CliRunner().invoke(cli, ["--env-file", "/nonexistent.env", "version"])
    assert result.exit_code == 0
    assert re.fullmatch(r"aegis-sync \d+\.\d+\.\d+\n", result.output)


def test_invalid_settings_give_a_coded_error_and_exit_2(monkeypatch):
    monkeypatch.setenv("POSTGRES_PORT", "seventy")
    result = CliRunner().invoke(cli, ["version"])
    assert result.exit_code == 2
    assert "DP_5001" in result.output and "POSTGRES_PORT" in result.output
