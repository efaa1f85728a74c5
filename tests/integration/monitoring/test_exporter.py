"""The pipeline exporter against the real servers: consumer-group lag and committed offsets read from
Kafka (no sink process needed), the replication slot's retained WAL and activity from PostgreSQL,
and every target pinged. Its own topic, consumer groups and slot, removed afterwards."""

from __future__ import annotations

import secrets

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from aegis.db import connect
from aegis.settings import Settings
from console.ops.exporter import PipelineExporter
from testkit.streams import delete_topics

pytestmark = pytest.mark.integration

EVENTS = 12


@pytest.fixture
def own(stack: Settings):
    tag = secrets.token_hex(3)
    settings = stack.model_copy(update={
        "sinks": stack.sinks.model_copy(update={"policy_topic": f"exporter-{tag}", "group_id_prefix": f"exporter-{tag}-"}),
        "postgres": stack.postgres.model_copy(update={"slot_name": f"exporter_{tag}"})})
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers, "acks": "all"})
    for i in range(EVENTS):
        producer.produce(settings.sinks.policy_topic, key=str(i).encode(), value=b"{}")
    assert producer.flush(30) == 0
    replication = dict(autocommit=True, user=settings.postgres.debezium_user,
                       password=settings.postgres.debezium_password)  # the role that may hold slots
    with connect(settings.postgres, **replication) as conn:
        conn.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (settings.postgres.slot_name,))
    try:
        yield settings
    finally:
        with connect(settings.postgres, **replication) as conn:
            conn.execute("SELECT pg_drop_replication_slot(%s)", (settings.postgres.slot_name,))
        delete_topics(settings, [settings.sinks.policy_topic])


def _commit(settings: Settings, group: str, offset: int) -> None:
    consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap_servers, "group.id": group,
                         "enable.auto.commit": False})
    try:
        consumer.commit(offsets=[TopicPartition(settings.sinks.policy_topic, 0, offset)], asynchronous=False)
    finally:
        consumer.close()


def test_group_lag_slot_and_targets_are_read_from_the_servers(own: Settings):
    _commit(own, f"{own.sinks.group_id_prefix}redis", 5)
    exporter = PipelineExporter(own, ["redis", "search"])
    exporter.refresh()

    def value(name: str, **labels: str) -> float | None:
        return exporter.registry.get_sample_value(name, labels)

    assert value("sink_group_lag_events", target_db="redis") == EVENTS - 5
    assert value("sink_group_committed_offset", target_db="redis") == 5
    assert value("sink_group_lag_events", target_db="search") == EVENTS  # nothing committed: all of it
    assert value("sink_group_committed_offset", target_db="search") == 0
    slot = own.postgres.slot_name
    assert value("replication_slot_active", slot=slot) == 0  # created, nobody reads it
    assert value("replication_slot_retained_wal_bytes", slot=slot) >= 0
    assert value("target_up", target_db="redis") == 1 and value("target_up", target_db="search") == 1
