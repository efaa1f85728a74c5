"""Where a consumer group stands on a topic, read from outside it: watermarks, committed offsets per
partition, members and the partitions each holds.

Shared by every part that looks at a sink's group without joining it (the sink runtime's
look-ahead, the reconciler's in-flight check, `aegis status`, the pipeline exporter, the
connector's repartitioning, dead-letter reads). Nothing here joins a group or commits anything.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from aegis.errors import ErrorCode, TransientError
from aegis.settings import KafkaSettings


def reader(kafka: KafkaSettings, purpose: str, **config: str | bool) -> Consumer:
    """A consumer outside every committed group (a group id of its own, nothing committed), which
    reports the end of each partition it reads; ``config`` adds or overrides client settings."""
    return Consumer({**kafka.client_config(), "group.id": f"aegis-{purpose}-{uuid.uuid4().hex[:8]}",
                     "enable.auto.commit": False, "enable.partition.eof": True, **config})


def watermarks(kafka: KafkaSettings, topic: str, timeout: float = 10.0) -> dict[int, tuple[int, int]]:
    """(low, high) offsets of every partition of ``topic`` ({} when it does not exist)."""
    consumer = reader(kafka, "watermarks")
    try:
        return partition_watermarks(consumer, topic, timeout, code=ErrorCode.CONSISTENCY_CHECK_FAILED)
    finally:
        consumer.close()


def partition_watermarks(consumer: Consumer, topic: str, timeout: float, *, code: ErrorCode,
                         hint: str | None = None) -> dict[int, tuple[int, int]]:
    """(low, high) offsets of every partition of ``topic``, through an open ``consumer`` ({} when the
    topic does not exist); Kafka's errors become a ``TransientError`` with ``code``."""
    try:
        metadata = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return {}
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)
                for p in sorted(metadata.partitions)}
    except KafkaException as exc:
        raise TransientError(f"cannot read the watermarks of {topic}: {exc}", code=code, hint=hint) from None


@dataclass(frozen=True)
class PartitionLag:
    """Where a consumer group stands on one partition."""

    partition: int
    committed: int  # the next offset the group reads; -1 when it never committed on this partition
    low: int
    high: int

    @property
    def position(self) -> int:
        """The first offset not applied yet (never committed: the oldest retained)."""
        return self.committed if self.committed >= 0 else self.low

    @property
    def behind(self) -> int:
        return max(self.high - self.position, 0)


def group_lag(kafka: KafkaSettings, group: str, topic: str, *, timeout: float = 10.0,
              code: ErrorCode = ErrorCode.CONSISTENCY_CHECK_FAILED) -> list[PartitionLag]:
    """Committed offset against the watermarks, for every partition of ``topic`` ([] when it does not
    exist). Reads only: joins no group, commits nothing."""
    marks = watermarks(kafka, topic, timeout)
    if not marks:
        return []
    try:
        admin = AdminClient(kafka.client_config())
        request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in marks])
        answer = admin.list_consumer_group_offsets([request], request_timeout=timeout)[group].result(timeout=timeout)
    except KafkaException as exc:
        raise TransientError(f"cannot read the offsets of group {group}: {exc}", code=code) from None
    committed = {tp.partition: tp.offset for tp in answer.topic_partitions}
    return [PartitionLag(p, committed.get(p, -1), low, high) for p, (low, high) in sorted(marks.items())]


@dataclass(frozen=True)
class GroupMember:
    """One consumer of a group, as the group coordinator describes it."""

    client_id: str
    host: str
    partitions: tuple[int, ...]


def group_members(kafka: KafkaSettings, group: str, topic: str, *,
                  timeout: float = 10.0) -> tuple[str, list[GroupMember]]:
    """(the group's state, its members with the partitions of ``topic`` each holds)."""
    try:
        admin = AdminClient(kafka.client_config())
        description = admin.describe_consumer_groups([group], request_timeout=timeout)[group].result(timeout=timeout)
    except KafkaException as exc:
        raise TransientError(f"cannot describe group {group}: {exc}", code=ErrorCode.CONSISTENCY_CHECK_FAILED) from None
    members = [GroupMember(m.client_id, m.host, tuple(sorted(tp.partition for tp in m.assignment.topic_partitions
                                                             if tp.topic == topic)))
               for m in description.members]
    state = getattr(description.state, "name", str(description.state)).lower()
    return state, sorted(members, key=lambda m: (m.partitions[0] if m.partitions else 1 << 30, m.client_id))
