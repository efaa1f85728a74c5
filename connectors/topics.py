"""The change stream's topics: created with their partitions, and able to take the largest record.

**Partitions.** The policy change topic and the DLQ are created with ``KAFKA_CHANGE_TOPIC_PARTITIONS``
partitions (default 6). Debezium keys each change event by the row's primary key and Kafka places a
key always in the same partition, so one policy's changes stay in order while a sink's consumer
group spreads the partitions over its members. ``ensure_change_topics`` creates both topics itself
(before the connector starts, so no client can auto-create them with the broker's default of one
partition) and reports existing topics with fewer partitions: it never adds partitions on its own,
because keys then move to other partitions (docs/changestream.md, "Partitions");
``repartition`` is the safe procedure.

**Record size.** A ``policies`` change event carries the row twice (``before`` and ``after``:
REPLICA IDENTITY FULL), so it can be about twice ``aegis.models.limits.MAX_RECORD_BYTES``, above
Kafka's default 1 MB. The connector's producer (``producer.override.max.request.size``) and the
topics are set to ``CHANGE_MESSAGE_MAX_BYTES``; topics that existed before (created by an older
template, by hand, or auto-created) are raised to it here, so `aegis connectors apply` fixes an
existing deployment too. A topic a client touches before it exists is auto-created with the
broker's ``message.max.bytes``, which the local stack and compose set to the same limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
    ResourceType,
)

from aegis.errors import ErrorCode, TerminalError, TransientError
from aegis.models.limits import CHANGE_MESSAGE_MAX_BYTES
from aegis.retry import RetryPolicy, retry_call
from aegis.settings import Settings

MESSAGE_LIMIT_KEY = "max.message.bytes"
KAFKA_HINT = "is Kafka up (`aegis stack status`)? then run `aegis connectors apply` again"
NEW_TOPIC_RETRY = RetryPolicy(attempts=8, base_delay=0.2, max_delay=2.0)  # up to ~8 s in all


def change_topics(settings: Settings) -> list[str]:
    """The topics a change event (or a dead letter, which is one byte for byte) travels on."""
    return [settings.sinks.topic(settings.kafka), settings.kafka.topic_policy_events, settings.kafka.topic_dlq]


def partitioned_topics(settings: Settings) -> dict[str, dict[str, str]]:
    """The topics created with ``KAFKA_CHANGE_TOPIC_PARTITIONS`` partitions, with their topic configs."""
    limit = {MESSAGE_LIMIT_KEY: str(CHANGE_MESSAGE_MAX_BYTES)}
    return {settings.sinks.topic(settings.kafka): {**limit, "cleanup.policy": "compact"},  # as the template's
            settings.kafka.topic_dlq: limit}


@dataclass
class TopicReport:
    """What ``ensure_change_topics`` found and did."""

    created: list[str] = field(default_factory=list)
    raised: list[str] = field(default_factory=list)  # max.message.bytes raised to the limit
    short: dict[str, int] = field(default_factory=dict)  # topic -> partitions, fewer than wanted

    def warnings(self, wanted: int) -> list[str]:
        return [f"topic {topic} has {count} partition(s), KAFKA_CHANGE_TOPIC_PARTITIONS is {wanted}: a sink "
                f"group can use only {count} member(s); run `aegis connectors repartition` to add partitions "
                "safely (docs/changestream.md, Partitions)" for topic, count in sorted(self.short.items())]


def ensure_change_topics(settings: Settings, limit: int = CHANGE_MESSAGE_MAX_BYTES) -> TopicReport:
    """Create the change topic and the DLQ if missing, raise every change topic's ``max.message.bytes``
    to ``limit``, and report those with fewer partitions than ``KAFKA_CHANGE_TOPIC_PARTITIONS``."""
    admin = AdminClient(settings.kafka.client_config())
    wanted = settings.kafka.change_topic_partitions
    report = TopicReport()
    try:
        metadata = admin.list_topics(timeout=10).topics
        missing = {name: config for name, config in partitioned_topics(settings).items() if name not in metadata}
        if missing:
            futures = admin.create_topics([NewTopic(name, num_partitions=wanted, replication_factor=-1, config=config)
                                           for name, config in missing.items()])
            for name, future in futures.items():
                try:
                    future.result(timeout=15)
                    report.created.append(name)
                except KafkaException as exc:
                    if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                        raise
        for name in partitioned_topics(settings):
            if name in metadata and len(metadata[name].partitions) < wanted:
                report.short[name] = len(metadata[name].partitions)
        existing = set(metadata) | set(missing)
        resources = [ConfigResource(ResourceType.TOPIC, t) for t in change_topics(settings) if t in existing]
        for resource in resources:
            configs = _once_known(admin.describe_configs, resource)
            entry = configs.get(MESSAGE_LIMIT_KEY)
            if entry is not None and entry.value is not None and int(entry.value) >= limit:
                continue
            resource.add_incremental_config(ConfigEntry(MESSAGE_LIMIT_KEY, str(limit),
                                                        incremental_operation=AlterConfigOpType.SET))
            _once_known(admin.incremental_alter_configs, resource)
            report.raised.append(resource.name)
        return report
    except KafkaException as exc:
        raise TransientError(f"could not check the change topics: {exc}", code=ErrorCode.CONNECTOR_FAILED,
                             hint=KAFKA_HINT) from None


def _once_known(request: Callable[[list[ConfigResource]], dict], resource: ConfigResource) -> Any:
    """``request([resource])``'s result, retried while the node asked does not know the topic yet: on a
    cluster a topic created a moment ago reaches every node's metadata a moment later (UNKNOWN_TOPIC_OR_PART)."""
    def attempt() -> Any:
        try:
            return request([resource])[resource].result(timeout=15)
        except KafkaException as exc:
            if exc.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise TransientError(f"topic {resource.name} is not known yet to the broker asked",
                                     code=ErrorCode.CONNECTOR_FAILED, hint=KAFKA_HINT) from None
            raise
    return retry_call(attempt, NEW_TOPIC_RETRY, what=f"topic {resource.name}")


def partition_counts(settings: Settings) -> dict[str, int]:
    """Partitions of each partitioned change topic that exists."""
    admin = AdminClient(settings.kafka.client_config())
    try:
        metadata = admin.list_topics(timeout=10).topics
    except KafkaException as exc:
        raise TransientError(f"could not read the topics: {exc}", code=ErrorCode.CONNECTOR_FAILED,
                             hint=KAFKA_HINT) from None
    return {name: len(metadata[name].partitions) for name in partitioned_topics(settings) if name in metadata}


def add_partitions(settings: Settings, partitions: int) -> dict[str, int]:
    """Raise every partitioned change topic to ``partitions``; the topics changed, with their old count.

    Only the partition count: the caller (``connectors.manage.repartition``) makes it safe."""
    counts = partition_counts(settings)
    grow = {name: count for name, count in counts.items() if count < partitions}
    if not grow:
        return {}
    admin = AdminClient(settings.kafka.client_config())
    try:
        for _name, future in admin.create_partitions([NewPartitions(name, partitions) for name in grow]).items():
            future.result(timeout=30)
    except KafkaException as exc:
        raise TransientError(f"could not add partitions: {exc}", code=ErrorCode.CONNECTOR_FAILED,
                             hint="run `aegis connectors repartition` again: it is idempotent") from None
    return grow


def wait_for(condition: Callable[[], tuple[bool, str]], *, timeout: float, every: float,
             progress: Callable[[str], None], what: str) -> None:
    """Call ``condition`` until it says done, reporting its text; ``TerminalError`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        done, text = condition()
        if text != last:
            progress(f"  {text}")
            last = text
        if done:
            return
        if time.monotonic() > deadline:
            raise TerminalError(f"{what}: not done within {timeout:.0f} s ({text})", code=ErrorCode.CONNECTOR_FAILED,
                                hint="start the sinks (`aegis run` or `aegis sinks run NAME`) and run it again, "
                                     "or pass a longer --timeout")
        time.sleep(every)
