"""RegistrySchemas at the boundary: what the schema registry answers becomes the right error kind.

A throwaway HTTP server on loopback plays the registry's Confluent-compatible API with fixed
answers (the real Apicurio Registry is exercised by tests/integration/avro)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from aegis.errors import DataError, ErrorCode, TerminalError, TransientError
from aegis.changestream.avro_registry import RegistrySchemas
from aegis.retry import RetryPolicy
from aegis.settings import SchemaRegistrySettings

KEY_SCHEMA = json.dumps({"type": "record", "name": "Key", "fields": [{"name": "id", "type": "long"}]})


class FixedRegistry(BaseHTTPRequestHandler):
    answers: dict[int | str, tuple[int, dict | bytes]] = {}
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's naming
        type(self).requests.append(self.path)
        last = self.path.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        name = int(last) if last.isdigit() else last
        status, body = type(self).answers.get(name, (404, {"error_code": 40403, "message": "Schema not found"}))
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def registry():
    FixedRegistry.answers = {
        1: (200, {"schema": KEY_SCHEMA}),
        2: (503, {"error_code": 50301, "message": "unavailable"}),
        3: (401, {"error_code": 40101, "message": "unauthorized"}),
        4: (200, {"schema": "{\"type\": \"object\"}", "schemaType": "JSON"}),
        5: (200, {"schema": "not a schema"}),
        6: (404, {"error_code": 0, "message": "RESTEASY003210: Could not find resource for full path"}),  # no such route
        7: (200, b"<html>starting</html>"),
        8: (502, b"<html>Bad Gateway</html>"),
        "types": (200, ["JSON", "PROTOBUF", "AVRO"]),
    }
    FixedRegistry.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FixedRegistry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _schemas(url: str) -> RegistrySchemas:
    return RegistrySchemas(SchemaRegistrySettings(url=url, request_timeout_seconds=2),
                           retry=RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02))


def test_a_known_id_is_fetched_through_the_ccompat_api_once(registry):
    schemas = _schemas(registry)
    first, second = schemas.writer_schema(1), schemas.writer_schema(1)
    assert first is second and first["name"] == "Key"
    assert FixedRegistry.requests == ["/apis/ccompat/v7/schemas/ids/1"]


def test_an_unknown_id_is_a_data_error(registry):
    with pytest.raises(DataError, match="schema id 77 is not in the schema registry"):
        _schemas(registry).writer_schema(77)


def test_an_unavailable_registry_is_retried_then_transient(registry):
    with pytest.raises(TransientError) as caught:
        _schemas(registry).writer_schema(2)
    assert caught.value.code is ErrorCode.SCHEMA_REGISTRY_UNAVAILABLE
    assert FixedRegistry.requests.count("/apis/ccompat/v7/schemas/ids/2") == 3


def test_an_unreachable_registry_is_transient():
    with pytest.raises(TransientError, match="unreachable"):
        _schemas("http://127.0.0.1:9").writer_schema(1)


@pytest.mark.parametrize("schema_id, message", [(3, "refused access"), (4, "not Avro"), (5, "not a valid Avro schema")])
def test_refusals_and_non_avro_schemas_are_terminal(registry, schema_id, message):
    with pytest.raises(TerminalError, match=message) as caught:
        _schemas(registry).writer_schema(schema_id)
    assert caught.value.code is ErrorCode.SCHEMA_REGISTRY_UNAVAILABLE and caught.value.hint


@pytest.mark.parametrize("schema_id", [6, 7, 8])
def test_answers_that_are_not_the_registry_saying_schema_not_found_are_transient_not_data_errors(registry, schema_id):
    """A 404 from a route that does not exist (wrong URL, a server still starting, a proxy) or an
    answer that is not the registry's JSON must not dead-letter the message: only the registry's own
    "schema not found" (40403) does."""
    with pytest.raises(TransientError) as caught:
        _schemas(registry).writer_schema(schema_id)
    assert caught.value.code is ErrorCode.SCHEMA_REGISTRY_UNAVAILABLE
    assert FixedRegistry.requests.count(f"/apis/ccompat/v7/schemas/ids/{schema_id}") == 3  # retried first


def test_ping_says_whether_the_registry_answers(registry):
    assert _schemas(registry).ping() is True
    assert [r.split("?")[0] for r in FixedRegistry.requests] == ["/apis/ccompat/v7/schemas/types"]  # one request, no retries
    assert _schemas("http://127.0.0.1:9").ping() is False
    FixedRegistry.answers["types"] = (503, {"error_code": 50301, "message": "unavailable"})
    assert _schemas(registry).ping() is False
    FixedRegistry.answers["types"] = (401, {"error_code": 40101, "message": "unauthorized"})
    assert _schemas(registry).ping() is True  # answering, refusing: no outage (decoding then ends terminally)
