"""`aegis stack` on a second, private instance (own state dir and ports), so the session's stack
is left alone: up, idempotent up, status, down leaving no process, second up, and a service
that cannot start."""

import json
import socket

import httpx
import pytest
from click.testing import CliRunner

from console.cli import cli
from aegis.errors import StackError
from aegis.settings import load_settings
from devstack.manager import StackManager
from devstack.process import is_alive

pytestmark = pytest.mark.integration

OFFSET = 900


@pytest.fixture
def private_stack_env(tmp_path_factory, monkeypatch, settings):
    state = tmp_path_factory.mktemp("private-stack")
    env = {
        "AEGIS_STACK_STATE_DIR": str(state),
        "POSTGRES_PORT": str(settings.postgres.port + OFFSET),
        "REDIS_PORT": str(settings.redis.port + OFFSET),
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{int(settings.kafka.bootstrap_servers.rsplit(':', 1)[1]) + OFFSET}",
        "AEGIS_STACK_KAFKA_CONTROLLER_PORT": str(settings.stack.kafka_controller_port + OFFSET),
        "KAFKA_CONNECT_URL": f"http://127.0.0.1:{httpx.URL(settings.kafka.connect_url).port + OFFSET}",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    private = load_settings(env_file=None)
    yield private
    StackManager(private).down()


CORE = ["postgres", "redis", "kafka", "kafka-connect"]


def test_up_is_idempotent_down_leaves_nothing_and_up_works_again(private_stack_env):
    runner = CliRunner()
    first = runner.invoke(cli, ["stack", "up", *CORE])
    print(first.output)
    assert first.exit_code == 0, first.output

    status = runner.invoke(cli, ["stack", "status", "--json", *CORE])
    assert status.exit_code == 0, status.output
    services = json.loads(status.output)
    assert [s["name"] for s in services] == CORE
    assert all(s["healthy"] and s["pid"] for s in services)
    pids = {s["name"]: s["pid"] for s in services}

    plugins = httpx.get(f"{private_stack_env.kafka.connect_url}/connector-plugins", timeout=10).json()
    assert "io.debezium.connector.postgresql.PostgresConnector" in {p["class"] for p in plugins}

    again = runner.invoke(cli, ["stack", "up", *CORE])
    assert again.exit_code == 0 and again.output.count("already running") == len(CORE), again.output
    assert {s.name: s.pid for s in StackManager(private_stack_env).status(CORE)} == pids

    down = runner.invoke(cli, ["stack", "down", *CORE])
    assert down.exit_code == 0, down.output
    assert not any(is_alive(pid) for pid in pids.values())
    after = json.loads(runner.invoke(cli, ["stack", "status", "--json", *CORE]).output)
    assert not any(s["healthy"] or s["pid"] for s in after)

    second = runner.invoke(cli, ["stack", "up", *CORE])
    assert second.exit_code == 0, second.output
    assert all(s.healthy for s in StackManager(private_stack_env).status(CORE))


def test_a_service_that_cannot_start_is_named_with_its_log(private_stack_env):
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", private_stack_env.redis.port))
    blocker.listen()
    try:
        with pytest.raises(StackError) as caught:
            StackManager(private_stack_env).up(["redis"])
    finally:
        blocker.close()
    text = str(caught.value)
    assert text.startswith("[DP_5002] redis ")
    assert "redis.log" in text
    assert "Address already in use" in text  # the log tail says why


def test_cli_reports_the_failure_with_exit_code_2(private_stack_env):
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", private_stack_env.redis.port))
    blocker.listen()
    try:
        result = CliRunner().invoke(cli, ["stack", "up", "redis"])
    finally:
        blocker.close()
    assert result.exit_code == 2
    assert "DP_5002" in result.output and "redis.log" in result.output
