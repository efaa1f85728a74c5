"""Error translation of the Kafka Connect REST client (HTTP answers scripted; no server needed)."""

from __future__ import annotations

import httpx
import pytest

from aegis.errors import ErrorCode, TerminalError, TransientError
from aegis.retry import RetryPolicy
from connectors.rest import ConnectClient, ConnectorNotFound

NO_WAIT = RetryPolicy(attempts=3, base_delay=0, max_delay=0)


def _client(handler) -> ConnectClient:
    return ConnectClient("http://connect.test", retry=NO_WAIT, transport=httpx.MockTransport(handler))


def test_unreachable_worker_is_transient_with_a_hint():
    client = ConnectClient("http://127.0.0.1:9", retry=NO_WAIT, timeout=1)
    with pytest.raises(TransientError) as caught:
        client.list_connectors()
    assert caught.value.code is ErrorCode.CONNECTOR_FAILED and "aegis stack up" in caught.value.hint


def test_rebalance_conflicts_are_retried_then_succeed():
    answers = iter([httpx.Response(409, json={"message": "rebalance"}), httpx.Response(200, json=["a"])])
    assert _client(lambda request: next(answers)).list_connectors() == ["a"]


def test_persistent_5xx_gives_up_as_transient():
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(500, json={"message": "boom"})
    with pytest.raises(TransientError, match="boom"):
        _client(handler).list_connectors()
    assert len(calls) == NO_WAIT.attempts


def test_bad_request_is_terminal_with_connects_message():
    client = _client(lambda request: httpx.Response(400, json={"error_code": 400, "message": "bad thing"}))
    with pytest.raises(TerminalError, match="bad thing"):
        client.put_config("x", {})


def test_missing_connector_is_distinguishable():
    client = _client(lambda request: httpx.Response(404, json={"message": "Connector x not found"}))
    assert client.get_config("x") is None
    assert client.delete("x") is False
    with pytest.raises(ConnectorNotFound):
        client.status("x")


def test_validation_problems_carry_field_value_and_messages():
    body = {"name": "c", "error_count": 1, "configs": [
        {"definition": {}, "value": {"name": "plugin.name", "value": None, "errors": ["must be pgoutput"]}},
        {"definition": {}, "value": {"name": "slot.name", "value": "s", "errors": []}},
    ]}
    problems = _client(lambda request: httpx.Response(200, json=body)).validate(
        "io.debezium.connector.postgresql.PostgresConnector", {"plugin.name": "bogus"})
    assert [(p.name, p.value, p.errors) for p in problems] == [("plugin.name", "bogus", ["must be pgoutput"])]
