"""Outbox events through the real connector: one message per event on policy-events, keyed and headed."""

from __future__ import annotations

import json

import pytest

from aegis.db import connect
from aegis.errors import DataError
from aegis.events import (
    DataQualityUpdated,
    DataSyncCompleted,
    PolicyValidated,
    QualityScorePayload,
    decode_published_event,
    write_event,
)
from testkit.streams import isolated_settings, new_tag, running_connector

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def outbox_stream(stream_stack):
    with running_connector(isolated_settings(stream_stack, new_tag())) as running:
        yield running


def test_each_outbox_event_becomes_exactly_one_message_with_key_type_and_version(outbox_stream, reader_factory):
    settings = outbox_stream
    validated = PolicyValidated(policy_id="9001", title="청년 창업 지원", content="내용", issuing_organization="중기부")
    quality = DataQualityUpdated(policy_id="9001", status="active",
                                 quality_score=QualityScorePayload(total_score=0.9, completeness=1, accuracy=0.9,
                                                                   consistency=0.8, timeliness=0.9))
    synced = DataSyncCompleted(sync_id="sync-77", target_databases=["redis"], policies_synced=1)
    with connect(settings.postgres, role="owner") as conn:
        ids = [write_event(conn, validated), write_event(conn, quality)]
        conn.commit()
        with pytest.raises(DataError, match="policy_id"):  # refused before it reaches the outbox
            write_event(conn, PolicyValidated(policy_id="", title="t", content="c", issuing_organization="o"))
        ids.append(write_event(conn, synced))
        conn.commit()
        write_event(conn, PolicyValidated(policy_id="rolled-back", title="t", content="c", issuing_organization="o"))
        conn.rollback()  # an event whose transaction rolls back is never published
        assert conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0  # the table does not grow

    reader = reader_factory(settings, settings.kafka.topic_policy_events)
    reader.read_until(lambda ms: len(ms) >= 3, 60)
    messages = reader.read_for(3)  # anything extra (a duplicate, the refused or rolled-back event) shows up here
    events = [decode_published_event(m.key, m.value, m.headers) for m in messages]

    assert [e.event_id for e in events] == ids  # exactly once each, in commit order
    assert [(e.aggregate_id, e.event_type, e.schema_version) for e in events] == [
        ("9001", "policy.validated", "1.0"), ("9001", "data.quality_updated", "1.0"),
        ("sync-77", "data.sync_completed", "1.0")]
    assert messages[0].key == b'"9001"'
    assert json.loads(messages[0].value) == validated.payload()  # the payload itself, as a JSON object
    assert events[1].to_model() == quality
