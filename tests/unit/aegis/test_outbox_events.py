"""Outbox event models and their JSON Schemas (no servers: schema checks happen before any SQL)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from aegis.errors import DataError, ErrorCode
from aegis.events import (
    DataQualityUpdated,
    DataSyncCompleted,
    PolicyValidated,
    QualityScorePayload,
    SyncResultPayload,
    decode_published_event,
    validate_payload,
)

CAPTURE = json.loads((Path(__file__).parent / "data" / "debezium_capture.json").read_text(encoding="utf-8"))["messages"]


def _validated(**overrides):
    base = dict(policy_id="42", title="청년 창업 지원", content="내용", issuing_organization="중소벤처기업부")
    base.update(overrides)
    return PolicyValidated(**base)


def test_every_event_type_has_a_version_and_a_schema_its_own_payload_satisfies():
    events = [
        _validated(source_system="bizinfo", collected_at=datetime.fromisoformat("2026-01-01T00:00:00+09:00")),
        DataQualityUpdated(policy_id="42", status="active",
                           quality_score=QualityScorePayload(total_score=0.8, completeness=1, accuracy=0.7,
                                                             consistency=0.6, timeliness=0.9)),
        DataSyncCompleted(sync_id="sync-1", target_databases=["redis", "neo4j"], policies_synced=3,
                          sync_results=[SyncResultPayload(target_db="redis", success=True, records_synced=3)]),
    ]
    assert {e.event_type for e in events} == {"policy.validated", "data.quality_updated", "data.sync_completed"}
    for event in events:
        assert event.schema_version == "1.0"
        validate_payload(type(event), event.payload())  # does not raise
    assert events[0].aggregate_id() == "42" and events[2].aggregate_id() == "sync-1"


@pytest.mark.parametrize("event, fragment", [
    (_validated(policy_id=""), "policy_id"),                              # minLength
    (_validated(title="x" * 501), "title"),                               # maxLength
    (_validated(collected_at=datetime(2026, 1, 1)), "collected_at"),      # naive: not RFC 3339 date-time
])
def test_payloads_breaking_the_schema_are_refused(event, fragment):
    with pytest.raises(DataError) as caught:
        validate_payload(type(event), event.payload())
    assert caught.value.code is ErrorCode.VALIDATION_FAILED
    assert fragment in caught.value.message and "nothing was written" in caught.value.hint


def test_validation_lists_every_problem_of_a_raw_payload():
    with pytest.raises(DataError) as caught:
        validate_payload(DataQualityUpdated, {"policy_id": "1", "status": "deleted",
                                              "quality_score": {"total_score": 1.5}})
    assert "status" in caught.value.message and "quality_score/total_score" in caught.value.message


def test_published_event_decodes_the_real_router_output():
    message = CAPTURE["outbox_policy_validated"]
    headers = [(k, v.encode()) for k, v in message["headers"].items()]
    event = decode_published_event(message["key"].encode(), message["value"].encode(), headers)
    assert event.aggregate_id == "3" and event.event_type == "policy.validated" and event.schema_version == "1.0"
    assert event.payload["title"] == "제목"  # a JSON object, not an escaped string
    model = event.to_model()
    assert isinstance(model, PolicyValidated) and model.policy_id == "3"


@pytest.mark.parametrize("key, value, headers", [
    (b'"3"', b'{"a": 1}', []),                                           # no headers
    (b'3', b'{"a": 1}', [("eventType", b"policy.validated"), ("schemaVersion", b"1.0"), ("id", b"u")]),
    (b'"3"', b'"escaped"', [("eventType", b"policy.validated"), ("schemaVersion", b"1.0"), ("id", b"u")]),
    (b'"3"', b"{broken", [("eventType", b"x"), ("schemaVersion", b"1.0"), ("id", b"u")]),
])
def test_malformed_published_events_are_data_errors(key, value, headers):
    with pytest.raises(DataError):
        decode_published_event(key, value, headers)


def test_unknown_event_type_is_a_data_error():
    event = decode_published_event(b'"1"', b"{}", [("eventType", b"policy.exploded"), ("schemaVersion", b"1.0"),
                                                   ("id", b"u")])
    with pytest.raises(DataError, match="unknown event type"):
        event.to_model()


# ---- the Avro profile: policy-events read through the same decoder the sinks use --------------------

AVRO_CAPTURE = json.loads((Path(__file__).parent / "data" / "outbox_avro_capture.json").read_text(encoding="utf-8"))


class _CapturedSchemas:
    """The writer schemas as the registry served them; ``down`` plays a registry outage."""

    def __init__(self, down: bool = False):
        from aegis.changestream.avro_registry import parse_avro_schema

        self.parsed = {int(i): parse_avro_schema(text, int(i)) for i, text in AVRO_CAPTURE["schemas"].items()}
        self.down = down

    def writer_schema(self, schema_id: int):
        from aegis.errors import TransientError

        if self.down:
            raise TransientError("the schema registry is unreachable", code=ErrorCode.SCHEMA_REGISTRY_UNAVAILABLE)
        if schema_id not in self.parsed:
            raise DataError(f"schema id {schema_id} is not in the schema registry", code=ErrorCode.CHANGE_EVENT_UNDECODABLE)
        return self.parsed[schema_id]

    def ping(self) -> bool:
        return not self.down


def _avro_message(n: int) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    import base64

    m = AVRO_CAPTURE["messages"][n]
    return base64.b64decode(m["key"]), base64.b64decode(m["value"]), [(k, v.encode()) for k, v in m["headers"].items()]


def _avro_decoder(down: bool = False):
    from aegis.changestream.decoding import AvroChangeDecoder

    return AvroChangeDecoder(_CapturedSchemas(down))


def test_avro_published_events_decode_to_the_event_the_json_profile_gives():
    from aegis.changestream.avro_wire import looks_framed

    key, value, headers = _avro_message(0)
    assert looks_framed(key) and looks_framed(value)
    event = decode_published_event(key, value, headers, _avro_decoder())
    assert (event.aggregate_id, event.event_type, event.schema_version) == ("9001", "policy.validated", "1.0")
    assert event.payload["title"] == "청년 창업 지원"  # a JSON object again, not the JSON text Avro carries
    model = event.to_model()
    assert isinstance(model, PolicyValidated) and model.policy_id == "9001"
    as_json = decode_published_event(json.dumps(event.aggregate_id).encode(), json.dumps(event.payload).encode(), headers)
    assert as_json == event
    synced = decode_published_event(*_avro_message(1), _avro_decoder())
    assert synced.aggregate_id == "sync-77" and isinstance(synced.to_model(), DataSyncCompleted)


def test_the_avro_decoder_still_reads_json_profile_events():
    message = CAPTURE["outbox_policy_validated"]
    headers = [(k, v.encode()) for k, v in message["headers"].items()]
    args = (message["key"].encode(), message["value"].encode(), headers)
    assert decode_published_event(*args, _avro_decoder()) == decode_published_event(*args)


def test_the_json_decoder_says_what_to_do_with_an_avro_published_event():
    with pytest.raises(DataError) as caught:
        decode_published_event(*_avro_message(0))
    assert caught.value.code is ErrorCode.INVALID_DATA_FORMAT and "CHANGE_EVENTS_FORMAT=avro" in caught.value.hint


def test_unreadable_avro_published_events_are_data_errors_and_a_registry_outage_is_not():
    from aegis.changestream.avro_wire import frame, unframe
    from aegis.errors import TransientError

    key, value, headers = _avro_message(0)
    with pytest.raises(DataError, match="not in the schema registry"):
        decode_published_event(key, frame(99, bytes(unframe(value).payload)), headers, _avro_decoder())
    text_schema_id = unframe(key).schema_id  # an Avro string that is not JSON text
    with pytest.raises(DataError, match="not JSON text"):
        decode_published_event(key, frame(text_schema_id, b"\x06abc"), headers, _avro_decoder())
    with pytest.raises(TransientError):  # not malformed: read it again when the registry is back
        decode_published_event(key, value, headers, _avro_decoder(down=True))


def test_published_event_decoder_follows_the_setting(monkeypatch):
    from aegis.changestream.decoding import AvroChangeDecoder, JsonChangeDecoder
    from aegis.events import published_event_decoder
    from aegis.settings import load_settings

    assert isinstance(published_event_decoder(load_settings(env_file=None)).keywords["decoder"], JsonChangeDecoder)
    monkeypatch.setenv("CHANGE_EVENTS_FORMAT", "avro")
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", "http://127.0.0.1:9")
    assert isinstance(published_event_decoder(load_settings(env_file=None)).keywords["decoder"], AvroChangeDecoder)
