"""The change stream's topics accept the largest record a collector can store.

A ``policies`` change event carries the row twice (``before`` and ``after``: REPLICA IDENTITY
FULL), so it can be about twice ``aegis.models.limits.MAX_RECORD_BYTES``, above Kafka's default
1 MB. The connector's producer (``producer.override.max.request.size``) and the topics it creates
(``topic.creation.*.max.message.bytes``) are set to ``CHANGE_MESSAGE_MAX_BYTES`` in the template;
topics that existed before (created by an older template, by hand, or auto-created) are raised
to it here, so `aegis connectors apply` fixes an existing deployment too. A topic a client
touches before Debezium creates it is auto-created with the broker's ``message.max.bytes``, which
the local stack and compose set to the same limit.
"""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic, ResourceType

from aegis.errors import ErrorCode, TransientError
from aegis.models.limits import CHANGE_MESSAGE_MAX_BYTES
from aegis.settings import Settings

MESSAGE_LIMIT_KEY = "max.message.bytes"


def change_topics(settings: Settings) -> list[str]:
    """The topics a change event (or a dead letter, which is one byte for byte) travels on."""
    return [settings.sinks.topic(settings.kafka), settings.kafka.topic_policy_events, settings.kafka.topic_dlq]


def ensure_message_limit(settings: Settings, limit: int = CHANGE_MESSAGE_MAX_BYTES) -> list[str]:
    """Raise ``max.message.bytes`` of each existing change topic below ``limit`` to it; the raised ones."""
    admin = AdminClient(settings.kafka.client_config())
    try:
        existing = set(admin.list_topics(timeout=10).topics)
        if settings.kafka.topic_dlq not in existing:  # else the first dead letter would auto-create it at 1 MB
            future = admin.create_topics([NewTopic(settings.kafka.topic_dlq, num_partitions=1, replication_factor=-1,
                                                   config={MESSAGE_LIMIT_KEY: str(limit)})])[settings.kafka.topic_dlq]
            try:
                future.result(timeout=15)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
            existing.add(settings.kafka.topic_dlq)
        resources = [ConfigResource(ResourceType.TOPIC, t) for t in change_topics(settings) if t in existing]
        if not resources:
            return []
        raised = []
        for resource, future in admin.describe_configs(resources).items():
            entry = future.result(timeout=15).get(MESSAGE_LIMIT_KEY)
            if entry is not None and entry.value is not None and int(entry.value) >= limit:
                continue
            resource.add_incremental_config(ConfigEntry(MESSAGE_LIMIT_KEY, str(limit),
                                                        incremental_operation=AlterConfigOpType.SET))
            admin.incremental_alter_configs([resource])[resource].result(timeout=15)
            raised.append(resource.name)
        return raised
    except KafkaException as exc:
        raise TransientError(f"could not check the change topics' {MESSAGE_LIMIT_KEY}: {exc}",
                             code=ErrorCode.CONNECTOR_FAILED,
                             hint="is Kafka up (`aegis stack status`)? then run `aegis connectors apply` again",
                             ) from None
