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
