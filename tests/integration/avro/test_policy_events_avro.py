"""``policy-events`` (the outbox) in the Avro profile: key and value arrive as framed Avro, and the
reader built from the settings (``published_event_decoder``, the sinks' decoder factory) gives the
same events the JSON profile gives."""

from __future__ import annotations

import secrets
import time

import pytest
from confluent_kafka import Consumer, TopicPartition

from aegis.changestream.avro_wire import looks_framed
from aegis.db import connect
from aegis.errors import DataError
from aegis.events import (
    DataSyncCompleted,
    PolicyValidated,
    decode_published_event,
    published_event_decoder,
    write_event,
)
from testkit.streams import isolated_settings, isolated_stream

pytestmark = pytest.mark.integration


def _read(settings, topic: str, count: int, timeout: float = 60) -> list:
    consumer = Consumer({**settings.kafka.client_config(),
                         "group.id": f"outbox-avro-{secrets.token_hex(4)}", "enable.auto.commit": False})
    messages, deadline = [], time.monotonic() + timeout
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        while len(messages) < count and time.monotonic() < deadline:
            m = consumer.poll(0.5)
            if m is not None and not m.error():
                messages.append(m)
    finally:
        consumer.close()
    assert len(messages) == count, f"read {len(messages)} of {count} policy-events messages"
    return messages


def test_policy_events_are_avro_and_read_back_through_the_shared_decoder(schema_registry):
    settings = isolated_settings(schema_registry, f"pev{secrets.token_hex(3)}", change_format="avro")
    validated = PolicyValidated(policy_id="9001", title="청년 창업 지원", content="내용", issuing_organization="중기부")
    synced = DataSyncCompleted(sync_id="sync-77", target_databases=["redis"], policies_synced=1)
    with isolated_stream(settings):
        with connect(settings.postgres, role="owner") as conn:
            ids = [write_event(conn, validated), write_event(conn, synced)]
            conn.commit()
        messages = _read(settings, settings.kafka.topic_policy_events, 2)

    assert all(looks_framed(m.key()) and looks_framed(m.value()) for m in messages)
    with pytest.raises(DataError, match="policy-events"):  # the JSON reader cannot read them ...
        decode_published_event(messages[0].key(), messages[0].value(), messages[0].headers())
    decode = published_event_decoder(settings)  # ... the one CHANGE_EVENTS_FORMAT=avro builds can
    events = [decode(m.key(), m.value(), m.headers()) for m in messages]
    assert [e.event_id for e in events] == ids
    assert [(e.aggregate_id, e.event_type) for e in events] == [("9001", "policy.validated"),
                                                                ("sync-77", "data.sync_completed")]
    assert events[0].to_model() == validated and events[1].to_model() == synced
